"""Training on more than one device (data parallelism) through the backends' own engines.

`-P devices=` picks how many: 1 (one device, as always), `all`, or a number. More than one
trains data-parallel: on JAX with `keras.distribution.DataParallel` over a device mesh
(several hosts too, through `keras.distribution.initialize`), on TensorFlow with
`tf.distribute.MirroredStrategy` on one host. `batch_size` stays the global batch; each
device computes its share of every batch, and the gradients are averaged.

With no accelerator, the CPU is split into the requested number of devices (JAX's
`JAX_NUM_CPU_DEVICES`, TensorFlow's logical devices): that rehearses data parallelism, it
does not make training faster.

The devices must be known before the backend starts: `split_cpu` runs before Keras is
imported, `set_up` right after, `across` around the pipeline.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from steps.errors import UserError
from steps.train.feed import rows
from steps.train.options import ALL_DEVICES

# What keras.distribution.initialize reads when it is called without arguments.
COORDINATOR = "KERAS_DISTRIBUTION_JOB_ADDRESSES"
PROCESSES = "KERAS_DISTRIBUTION_NUM_PROCESSES"
PROCESS_ID = "KERAS_DISTRIBUTION_PROCESS_ID"
ACCELERATORS = ("GPU", "TPU")
RECORD = "devices.txt"  # beside a run's backups: the device count it trained on
# Where the first process's run goes; the other processes record elsewhere.
SCRATCHED = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME")


@dataclass(frozen=True)
class Plan:
    """How a run trains: on how many devices (all processes together), of which kind, with
    which engine, and which process this is."""

    devices: int
    kind: str  # GPU, TPU or CPU
    distribution: str  # "one device", "DataParallel" or "MirroredStrategy"
    global_batch: int
    simulated: bool = False  # CPU devices split from one CPU
    processes: int = 1
    process_index: int = 0

    @property
    def per_device_batch(self) -> int:
        return self.global_batch // self.devices

    @property
    def parallel(self) -> bool:
        return self.devices > 1

    @property
    def leader(self) -> bool:
        """The process that talks to MLflow (every process when there is one)."""
        return self.process_index == 0

    def tags(self) -> dict[str, object]:
        tags: dict[str, object] = {
            "device_count": self.devices,
            "device_kind": self.kind + (" (split from one CPU)" if self.simulated else ""),
            "distribution": self.distribution,
            "per_device_batch": self.per_device_batch,
        }
        if self.processes > 1:
            tags["processes"] = self.processes
        return tags

    def line(self) -> str:
        """What the run says about its devices, on the terminal."""
        if not self.parallel:
            return f"devices: 1 {self.kind}"
        hosts = f" in {self.processes} processes" if self.processes > 1 else ""
        text = (
            f"devices: {self.devices} {self.kind}{hosts}, {self.distribution}, batch "
            f"{self.global_batch} = {self.devices} x {self.per_device_batch}"
        )
        if self.simulated:
            text += " (one CPU split into devices: a rehearsal, not a speed-up)"
        return text


def requested_count(text: str) -> int | None:
    """`-P devices=` as a count; None for `all`."""
    return None if text == ALL_DEVICES else int(text)


def several_processes() -> bool:
    return int(os.environ.get(PROCESSES, "1") or "1") > 1


def split_cpu(text: str, backend: str) -> None:
    """Before Keras (and so JAX) is imported: JAX makes that many CPU devices, used only
    when there is no accelerator. A count the caller set already is kept."""
    count = requested_count(text)
    if backend != "jax" or not count or count < 2:
        return
    if "JAX_NUM_CPU_DEVICES" in os.environ or "device_count" in os.environ.get("XLA_FLAGS", ""):
        return
    if several_processes():  # each process brings its share
        count = max(1, count // int(os.environ[PROCESSES]))
    os.environ["JAX_NUM_CPU_DEVICES"] = str(count)


def set_up(text: str, backend: str, batch_size: int) -> Plan:
    """After Keras is imported, before the backend computes anything: join the other
    processes (JAX on several hosts), choose the devices, check the batch; one line when
    they are not there or the batch does not divide."""
    count = requested_count(text)
    if several_processes():
        if backend != "jax":
            raise UserError(
                f"training over several processes needs -P backend=jax ({PROCESSES} is set "
                f"and this run uses {backend}); TensorFlow trains on the devices of one host"
            )
        join_processes()
    if backend == "jax":
        plan = jax_plan(count, batch_size)
    elif backend == "tensorflow":
        plan = tensorflow_plan(count, batch_size)
    else:
        plan = one_device_plan(count, backend, batch_size)
    return checked(plan, batch_size)


def checked(plan: Plan, batch_size: int) -> Plan:
    """The plan for a global batch of `batch_size`; one line when it does not divide."""
    if batch_size % plan.devices:
        raise UserError(
            f"batch_size {batch_size} does not divide by the {plan.devices} devices: give "
            f"a multiple of {plan.devices}, e.g. -P batch_size={multiple(batch_size, plan)}"
        )
    return replace(plan, global_batch=batch_size)


def multiple(batch_size: int, plan: Plan) -> int:
    return max(plan.devices, round(batch_size / plan.devices) * plan.devices)


def too_few(count: int, found: int, kind: str, how: str) -> UserError:
    return UserError(
        f"-P devices={count} asks for more devices than the {found} {kind} device(s) here: "
        f"give -P devices={found} or -P devices=all{how}"
    )


def jax_plan(count: int | None, batch_size: int) -> Plan:
    import jax

    kind = "GPU" if jax.default_backend() in ("gpu", "cuda", "rocm") else jax.default_backend()
    kind = kind.upper()
    found = jax.device_count()
    processes, index = jax.process_count(), jax.process_index()
    if count is None:
        count = found
    if count > found:
        how = "" if kind in ACCELERATORS else " (or set JAX_NUM_CPU_DEVICES before the run)"
        raise too_few(count, found, kind, how)
    if processes > 1 and count != found:
        raise UserError(
            f"over several processes every device trains: give -P devices=all or "
            f"-P devices={found}, not {count}"
        )
    simulated = kind == "CPU" and count > 1
    name = "DataParallel" if count > 1 else "one device"
    return Plan(count, kind, name, batch_size, simulated, processes, index)


def tensorflow_plan(count: int | None, batch_size: int) -> Plan:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        found = len(gpus)
        count = found if count is None else count
        if count > found:
            raise too_few(count, found, "GPU", "")
        return Plan(count, "GPU", "MirroredStrategy" if count > 1 else "one device", batch_size)
    cpus = tf.config.list_physical_devices("CPU")
    count = len(tf.config.list_logical_devices("CPU")) if count is None else count
    if count > 1:
        try:
            config = [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
            tf.config.set_logical_device_configuration(cpus[0], config)
        except RuntimeError:  # already started in this process, with its own split
            pass
        found = len(tf.config.list_logical_devices("CPU"))
        if count > found:
            raise too_few(count, found, "CPU", " (TensorFlow started already in this process)")
    return Plan(
        count, "CPU", "MirroredStrategy" if count > 1 else "one device", batch_size, count > 1
    )


def one_device_plan(count: int | None, backend: str, batch_size: int) -> Plan:
    if count not in (1, None):
        raise UserError(
            f"-P devices={count} needs -P backend=jax or -P backend=tensorflow: this project "
            f"trains the {backend} backend on one device"
        )
    return Plan(1, "CPU", "one device", batch_size)


def join_processes() -> None:
    """Several processes (hosts) on one training: JAX's coordinator, from the variables
    keras.distribution.initialize reads."""
    import keras

    missing = [name for name in (COORDINATOR, PROCESS_ID) if not os.environ.get(name)]
    if missing:
        raise UserError(
            f"{PROCESSES} is set but {' and '.join(missing)} is not: give every process the "
            f"coordinator's HOST:PORT in {COORDINATOR} and its own number from 0 in {PROCESS_ID}"
        )
    keras.distribution.initialize()


# The plan of the run in progress (`across`), for the steps that feed the devices.
ACTIVE: contextvars.ContextVar[Plan | None] = contextvars.ContextVar("devices", default=None)


def active() -> Plan | None:
    return ACTIVE.get()


def device_count() -> int:
    """The devices this run trains on: 1 outside `across`."""
    plan = active()
    return plan.devices if plan is not None else 1


@contextlib.contextmanager
def across(plan: Plan) -> Iterator[None]:
    """Models built, compiled and trained inside are data-parallel over the plan's devices."""
    token = ACTIVE.set(plan)
    try:
        with engine(plan):
            yield
    finally:
        ACTIVE.reset(token)


@contextlib.contextmanager
def engine(plan: Plan) -> Iterator[None]:
    if not plan.parallel:
        yield
        return
    import keras

    if keras.backend.backend() == "jax":
        devices = keras.distribution.list_devices()[: plan.devices]
        # Each process hands its own share of every batch (`share`), so no re-sharding.
        distribution = keras.distribution.DataParallel(
            devices=devices, auto_shard_dataset=plan.processes == 1
        )
        with distribution.scope():
            yield
        return
    import tensorflow as tf

    kind = plan.kind
    names = [d.name for d in tf.config.list_logical_devices(kind)][: plan.devices]
    with tf.distribute.MirroredStrategy(devices=names).scope():
        yield


@contextlib.contextmanager
def single_device() -> Iterator[None]:
    """JAX: scoring after training (test rows, the logged model's example) runs without the
    distribution: the trained weights are on every device, and the test rows need not
    split evenly. TensorFlow's models keep their strategy: nothing to do."""
    import keras

    distribution = keras.distribution.distribution()
    if keras.backend.backend() != "jax" or distribution is None:
        yield
        return
    keras.distribution.set_distribution(None)
    try:
        yield
    finally:
        keras.distribution.set_distribution(distribution)


def even(rows: int, devices: int) -> int:
    """The most rows that split evenly over the devices."""
    return rows - rows % devices


def share(data, batch_size: int, plan: Plan | None):
    """(the training and validation rows this process trains on, its batch size).

    Keras splits every batch over the devices, and the JAX backend refuses a batch that does
    not split evenly, TensorFlow a first batch: the last rows that do not split are left out
    (fewer than the device count). Over several processes each process takes every
    processes-th row and batch_size / processes rows of each batch."""
    if plan is None or not plan.parallel:
        return data, batch_size
    import keras

    step, start = plan.processes, plan.process_index
    unit = plan.devices  # global rows split evenly over all devices of all processes

    def cut(x, kept: int):
        return keras.tree.map_structure(lambda a: a[:kept][start::step], x)

    train = even(rows(data.x_train), unit)
    val = even(rows(data.x_val), unit)
    shared = replace(
        data,
        x_train=cut(data.x_train, train),
        y_train=cut(data.y_train, train),
        x_val=cut(data.x_val, val),
        y_val=cut(data.y_val, val),
    )
    return shared, batch_size // plan.processes


def left_out(data, plan: Plan | None) -> dict[str, int]:
    """Rows `share` leaves out for the devices, by part, where any are."""
    if plan is None or not plan.parallel:
        return {}
    counts = {
        "train": rows(data.x_train) % plan.devices,
        "validation": rows(data.x_val) % plan.devices,
    }
    return {part: count for part, count in counts.items() if count}


def record(folder: Path, plan: Plan) -> None:
    """Note beside a run's backups how many devices trained it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RECORD).write_text(str(plan.devices))


def check_resume(folder: Path, plan: Plan) -> None:
    """A run resumes on the device count it was interrupted on: the same global batch split
    another way sums in another order, so its epochs would not end as the uninterrupted
    run's. One line saying what to do otherwise."""
    noted = folder / RECORD
    trained_on = int(noted.read_text()) if noted.exists() else 1
    if trained_on != plan.devices:
        raise UserError(
            f"the interrupted run {folder.name} trained on {trained_on} device(s) and this "
            f"one has {plan.devices}: resume it with -P devices={trained_on}, or start "
            "afresh without -P resume=true"
        )


@contextlib.contextmanager
def reporting(plan: Plan, entry_point: str) -> Iterator[None]:
    """Only the first process talks to MLflow: the others train in step with it (every
    collective computation needs all of them) and record into a scratch store of their own,
    thrown away after, with their terminal output silenced. A run that `mlflow run` made
    for such a process is deleted: the first process's run is the training's."""
    if plan.leader:
        yield
        return
    import mlflow

    launched = os.environ.pop("MLFLOW_RUN_ID", None)
    if launched:
        mlflow.MlflowClient().delete_run(launched)
    saved = {name: os.environ.pop(name, None) for name in SCRATCHED}
    with tempfile.TemporaryDirectory(prefix="keras-lessons-process-") as folder:
        store = f"sqlite:///{Path(folder) / 'mlflow.db'}"
        os.environ["MLFLOW_TRACKING_URI"] = store
        mlflow.set_tracking_uri(store)
        artifacts = (Path(folder) / "artifacts").as_uri()
        mlflow.MlflowClient().create_experiment(entry_point, artifact_location=artifacts)
        try:
            with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
                yield
        finally:
            mlflow.set_tracking_uri(saved["MLFLOW_TRACKING_URI"])
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
