"""Devices step (lesson 47): which devices the Keras backend sees, and how fast each multiplies.

Each backend is asked in its own terms, imported only when it is the active one:
TensorFlow `tf.config.list_logical_devices()`, JAX `jax.devices()`, torch `torch.cuda`.
The timing is a square float32 matmul, run once to warm up, then `repeats` times; the
median is reported with its rate (2·n³ floating-point operations per product).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

NO_GPU = "no GPU found: running on CPU only"


@dataclass(frozen=True)
class Device:
    name: str  # how the backend addresses it, e.g. /device:GPU:0, cuda:0, cpu:0
    kind: str  # CPU or GPU (TPUs and others keep the backend's word)
    description: str = ""


@dataclass(frozen=True)
class Timing:
    device: str
    kind: str
    description: str
    size: int
    repeats: int
    median_seconds: float
    gflops: float

    def as_dict(self) -> dict:
        return asdict(self)


def list_devices(backend: str) -> list[Device]:
    listers = {"tensorflow": tf_devices, "jax": jax_devices, "torch": torch_devices}
    if backend not in listers:
        raise ValueError(f"unknown Keras backend {backend!r}")
    return listers[backend]()


def tf_devices() -> list[Device]:
    import tensorflow as tf

    details = {}
    for physical in tf.config.list_physical_devices("GPU"):
        info = tf.config.experimental.get_device_details(physical)
        details[physical.name.split(":", 1)[1]] = info.get("device_name", "")
    found = []
    for logical in tf.config.list_logical_devices():
        suffix = logical.name.split("device:", 1)[-1]  # e.g. GPU:0
        found.append(Device(logical.name, logical.device_type, details.get(suffix, "")))
    return found


def jax_devices() -> list[Device]:
    import jax

    found = []
    for device in jax.devices():
        kind = "GPU" if device.platform in ("gpu", "cuda", "rocm") else device.platform.upper()
        found.append(Device(f"{device.platform}:{device.id}", kind, device.device_kind))
    if not any(d.kind == "CPU" for d in found):
        found += [Device(f"cpu:{d.id}", "CPU", d.device_kind) for d in jax.devices("cpu")[:1]]
    return found


def torch_devices() -> list[Device]:
    import torch

    found = [Device("cpu", "CPU", "")]
    for index in range(torch.cuda.device_count()):
        found.append(Device(f"cuda:{index}", "GPU", torch.cuda.get_device_name(index)))
    return found


def matmul_runner(backend: str, device: Device, size: int) -> Callable[[], None]:
    """A function that multiplies two size x size float32 matrices on `device` and waits."""
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.device(device.name):
            a = tf.random.uniform((size, size), dtype=tf.float32, seed=1)
            b = tf.random.uniform((size, size), dtype=tf.float32, seed=2)

        def run() -> None:
            with tf.device(device.name):
                tf.linalg.matmul(a, b).numpy()  # .numpy() waits for the result

        return run
    if backend == "jax":
        import jax

        target = next(
            d
            for d in jax.devices(device.name.split(":")[0])
            if f"{d.platform}:{d.id}" in device.name
        )
        key_a, key_b = jax.random.split(jax.random.PRNGKey(0))
        a = jax.device_put(jax.random.uniform(key_a, (size, size)), target)
        b = jax.device_put(jax.random.uniform(key_b, (size, size)), target)
        product = jax.jit(lambda x, y: x @ y)
        return lambda: product(a, b).block_until_ready()
    if backend == "torch":
        import torch

        a = torch.rand(size, size, device=device.name)
        b = torch.rand(size, size, device=device.name)

        def run() -> None:
            (a @ b).sum().item()  # .item() waits for the device

        return run
    raise ValueError(f"unknown Keras backend {backend!r}")


def time_matmul(backend: str, device: Device, size: int = 1024, repeats: int = 5) -> Timing:
    run = matmul_runner(backend, device, size)
    run()  # warm-up: kernels load, memory is allocated
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    median = statistics.median(seconds)
    gflops = 2 * size**3 / median / 1e9 if median > 0 else float("inf")
    return Timing(device.name, device.kind, device.description, size, repeats, median, gflops)


def summary(backend: str, devices: list[Device]) -> str:
    gpus = [d for d in devices if d.kind == "GPU"]
    if not gpus:
        return f"Keras backend {backend}: {NO_GPU}"
    names = ", ".join(f"{d.name} ({d.description})" if d.description else d.name for d in gpus)
    return f"Keras backend {backend}: {len(gpus)} GPU(s): {names}"
