"""TensorBoard traces on any backend (lesson 33).

The per-epoch scalars (`epoch_loss`, `epoch_accuracy`, `epoch_learning_rate`, ...) go into
`train/` and `validation/` as Keras's `keras.callbacks.TensorBoard` names them, written by
`ScalarFiles` with TensorBoard's own record writer, as PyTorch's SummaryWriter does. On
TensorFlow, Keras's callback still writes the model's graph; its scalars, written through
`tf.summary` one op at a time, cost 12-20 ms an epoch, most of a small table's epoch. The
record writer writes plain files: TensorBoard's EventFileWriter would import TensorFlow
whenever it is installed (for its file system layer), which costs seconds on every run of
another backend.
"""

from __future__ import annotations

import itertools
import os
import socket
import time
from pathlib import Path

_SERIAL = itertools.count()


class EventWriter:
    """One TensorBoard event file (`events.out.tfevents.*`) of scalar summaries."""

    def __init__(self, folder: Path):
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.summary.writer.record_writer import RecordWriter

        folder.mkdir(parents=True, exist_ok=True)
        name = (
            f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}."
            f"{os.getpid()}.{next(_SERIAL)}.v2"
        )
        self.path = folder / name
        self._records = RecordWriter(open(self.path, "wb"))  # noqa: SIM115 (closed by close())
        self._write(Event(wall_time=time.time(), file_version="brain.Event:2"))

    def _write(self, event) -> None:
        self._records.write(event.SerializeToString())

    def scalars(self, values: dict[str, float], step: int) -> None:
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary

        summary = Summary(
            value=[Summary.Value(tag=tag, simple_value=float(v)) for tag, v in values.items()]
        )
        self._write(Event(wall_time=time.time(), step=step, summary=summary))
        self._records.flush()  # a crashed run still shows the epochs it finished

    def close(self) -> None:
        if not self._records.closed:
            self._records.close()


class ScalarFiles:
    """A fit's scalars in `log_dir/train/` and `log_dir/validation/`, named as Keras's
    TensorBoard callback names them; each folder's file made when it is first written."""

    def __init__(self, log_dir: Path):
        self.log_dir = Path(log_dir)
        self.writers: dict[str, EventWriter] = {}

    def writer(self, split: str) -> EventWriter:
        if split not in self.writers:
            self.writers[split] = EventWriter(self.log_dir / split)
        return self.writers[split]

    def epoch(self, epoch: int, logs: dict[str, float]) -> None:
        """`epoch_<metric>` under train/, validation metrics without `val_` under validation/."""
        train = {f"epoch_{k}": v for k, v in logs.items() if not k.startswith("val_")}
        validation = {f"epoch_{k[4:]}": v for k, v in logs.items() if k.startswith("val_")}
        self.writer("train").scalars(train, epoch)
        if validation:
            self.writer("validation").scalars(validation, epoch)

    def evaluation(self, logs: dict[str, float], iterations: int) -> None:
        """One evaluation during the fit, at the optimizer's step count, under validation/."""
        values = {f"evaluation_{k}_vs_iterations": v for k, v in logs.items()}
        self.writer("validation").scalars(values, iterations)

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()
        self.writers = {}


def with_learning_rate(model, logs) -> dict[str, float]:
    import keras

    logs = dict(logs or {})
    if "learning_rate" not in logs:
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    return logs


def epoch_scalars(log_dir: Path):
    """A Keras callback writing each epoch's logs and the optimizer's learning rate
    (`epoch_learning_rate`) with `ScalarFiles`."""
    import keras

    class EpochScalars(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.files = ScalarFiles(log_dir)

        def on_epoch_end(self, epoch, logs=None):
            self.files.epoch(epoch, with_learning_rate(self.model, logs))

        def on_train_end(self, logs=None):
            self.files.close()

    return EpochScalars()


def tensorboard_callback(log_dir: Path):
    """Keras's TensorBoard callback on TensorFlow, for the graph, its scalars written by
    `ScalarFiles`; `epoch_scalars` on the other backends."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return epoch_scalars(log_dir)

    class TensorBoard(keras.callbacks.TensorBoard):
        def on_train_begin(self, logs=None):
            super().on_train_begin(logs)
            self.files = ScalarFiles(log_dir)

        def on_train_batch_end(self, batch, logs=None):
            # Each batch's scalars are written only with a per-batch update_freq; without
            # one, passing them cost 1 ms a batch for nothing (5% of an MNIST epoch).
            super().on_train_batch_end(batch, logs if self.update_freq != "epoch" else None)

        def on_test_begin(self, logs=None):
            pass  # nothing goes through Keras's validation writer: ScalarFiles writes

        def on_test_end(self, logs=None):
            iterations = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
            self.files.evaluation(dict(logs or {}), iterations)

        def on_epoch_end(self, epoch, logs=None):
            self.files.epoch(epoch, with_learning_rate(self.model, logs))

        def on_train_end(self, logs=None):
            super().on_train_end(logs)
            self.files.close()

    return TensorBoard(log_dir=str(log_dir))


def writes_traces(callback) -> bool:
    """Whether `callback` is the one `tensorboard_callback` made."""
    return type(callback).__name__ in ("TensorBoard", "EpochScalars")
