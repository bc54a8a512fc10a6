"""The devices step on this machine's CPU (a GPU, when there is one, is listed too)."""

from __future__ import annotations

import pytest

from steps import devices


def test_tensorflow_lists_the_cpu_and_times_a_matmul_on_it():
    found = devices.list_devices("tensorflow")
    cpu = next(d for d in found if d.kind == "CPU")
    assert cpu.name == "/device:CPU:0"
    timing = devices.time_matmul("tensorflow", cpu, size=64, repeats=3)
    assert (timing.size, timing.repeats, timing.kind) == (64, 3, "CPU")
    assert timing.median_seconds > 0
    assert timing.gflops == pytest.approx(2 * 64**3 / timing.median_seconds / 1e9)
    assert timing.as_dict()["device"] == "/device:CPU:0"


def test_summary_says_when_there_is_no_gpu():
    cpu_only = [devices.Device("/device:CPU:0", "CPU")]
    assert (
        devices.summary("jax", cpu_only) == "Keras backend jax: no GPU found: running on CPU only"
    )
    with_gpu = [*cpu_only, devices.Device("cuda:0", "GPU", "NVIDIA H100")]
    assert (
        devices.summary("torch", with_gpu) == "Keras backend torch: 1 GPU(s): cuda:0 (NVIDIA H100)"
    )


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="unknown Keras backend 'mxnet'"):
        devices.list_devices("mxnet")
    with pytest.raises(ValueError, match="unknown Keras backend 'mxnet'"):
        devices.matmul_runner("mxnet", devices.Device("cpu", "CPU"), 4)
