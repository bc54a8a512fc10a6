"""The devices step's own rules, on arrays: the plan's words and tags, the rows each process
trains on, the resume check. Training on several devices runs in
tests/pipelines/test_devices.py (the device count is fixed when the backend starts)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from steps.data.prepare import Split
from steps.errors import UserError
from steps.train import distribute
from steps.train.distribute import Plan


def split(train: int, val: int) -> Split:
    rows = train + val + 3
    x = np.arange(rows * 2, dtype=np.float32).reshape(rows, 2)
    y = np.arange(rows, dtype=np.float32)
    return Split(x[:train], y[:train], x[train:-3], y[train:-3], x[-3:], y[-3:])


def test_the_plan_logs_count_kind_engine_and_per_device_batch():
    plan = Plan(4, "CPU", "DataParallel", 32, simulated=True)
    assert plan.tags() == {
        "device_count": 4,
        "device_kind": "CPU (split from one CPU)",
        "distribution": "DataParallel",
        "per_device_batch": 8,
    }
    assert plan.line() == (
        "devices: 4 CPU, DataParallel, batch 32 = 4 x 8 "
        "(one CPU split into devices: a rehearsal, not a speed-up)"
    )
    several = Plan(8, "GPU", "DataParallel", 64, processes=2, process_index=1)
    assert several.tags()["processes"] == 2
    assert not several.leader
    assert several.line() == "devices: 8 GPU in 2 processes, DataParallel, batch 64 = 8 x 8"


def test_one_device_trains_every_row_with_the_whole_batch():
    data = split(10, 5)
    assert distribute.share(data, 16, Plan(1, "CPU", "one device", 16)) == (data, 16)
    assert distribute.share(data, 16, None) == (data, 16)
    assert distribute.left_out(data, Plan(1, "CPU", "one device", 16)) == {}


def test_rows_that_do_not_split_over_the_devices_are_left_out():
    data = split(10, 7)
    plan = Plan(4, "CPU", "DataParallel", 8)
    shared, batch = distribute.share(data, 8, plan)
    assert batch == 8
    assert np.array_equal(shared.x_train, data.x_train[:8])
    assert np.array_equal(shared.y_val, data.y_val[:4])
    assert shared.x_test is data.x_test  # scored whole, on one device
    assert distribute.left_out(data, plan) == {"train": 2, "validation": 3}


def test_each_process_trains_every_other_row_with_its_share_of_the_batch():
    data = split(12, 4)
    shares = [
        distribute.share(data, 8, Plan(4, "GPU", "DataParallel", 8, processes=2, process_index=i))
        for i in (0, 1)
    ]
    assert [batch for _, batch in shares] == [4, 4]
    first, second = (shared for shared, _ in shares)
    assert np.array_equal(first.y_train, data.y_train[0::2])
    assert np.array_equal(second.y_train, data.y_train[1::2])
    together = np.sort(np.concatenate([first.y_val, second.y_val]))
    assert np.array_equal(together, data.y_val)


def test_a_dict_of_inputs_is_shared_input_by_input():
    data = split(6, 2)
    named = Split(
        {"a": data.x_train, "b": data.x_train[:, :1]},
        data.y_train,
        {"a": data.x_val, "b": data.x_val[:, :1]},
        data.y_val,
        data.x_test,
        data.y_test,
    )
    shared, _ = distribute.share(named, 4, Plan(4, "CPU", "DataParallel", 4))
    assert {k: len(v) for k, v in shared.x_train.items()} == {"a": 4, "b": 4}


def test_a_run_resumes_only_on_the_device_count_it_was_interrupted_on(tmp_path):
    folder = tmp_path / "0123abcd"
    distribute.record(folder, Plan(4, "CPU", "DataParallel", 16))
    distribute.check_resume(folder, Plan(4, "CPU", "DataParallel", 16))
    with pytest.raises(UserError) as refused:
        distribute.check_resume(folder, Plan(2, "CPU", "DataParallel", 16))
    assert str(refused.value) == (
        "the interrupted run 0123abcd trained on 4 device(s) and this one has 2: resume it "
        "with -P devices=4, or start afresh without -P resume=true"
    )
    older = tmp_path / "before"  # backups from before devices were counted: one device
    older.mkdir()
    distribute.check_resume(older, Plan(1, "CPU", "one device", 16))


@pytest.mark.parametrize(
    ("text", "count"), [("all", None), ("1", 1), ("8", 8)], ids=["all", "one", "eight"]
)
def test_devices_reads_all_or_a_count(text, count):
    assert distribute.requested_count(text) == count


def test_jax_is_given_the_cpu_devices_before_it_starts(monkeypatch):
    monkeypatch.setenv("JAX_NUM_CPU_DEVICES", "")  # so that the teardown removes it again
    monkeypatch.delenv("JAX_NUM_CPU_DEVICES")
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    monkeypatch.delenv(distribute.PROCESSES, raising=False)
    distribute.split_cpu("4", "tensorflow")
    assert "JAX_NUM_CPU_DEVICES" not in os.environ
    distribute.split_cpu("4", "jax")
    assert os.environ["JAX_NUM_CPU_DEVICES"] == "4"
    distribute.split_cpu("2", "jax")  # a count already given is the user's: kept
    assert os.environ["JAX_NUM_CPU_DEVICES"] == "4"


def test_a_global_batch_must_divide_by_the_devices():
    plan = Plan(4, "GPU", "DataParallel", 32)
    assert distribute.checked(plan, 64).per_device_batch == 16  # a sweep's or trial's batch
    with pytest.raises(UserError) as refused:
        distribute.checked(plan, 30)
    assert str(refused.value) == (
        "batch_size 30 does not divide by the 4 devices: give a multiple of 4, "
        "e.g. -P batch_size=32"
    )
