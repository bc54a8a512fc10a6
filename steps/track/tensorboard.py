"""TensorBoard traces on any backend (lesson 33).

On TensorFlow, Keras's own `keras.callbacks.TensorBoard` writes them. It imports
`tensorflow.summary`, so on JAX and PyTorch `EpochScalars` writes the same per-epoch scalars
(`epoch_loss`, `epoch_accuracy`, `epoch_learning_rate`, ...) into the same `train/` and
`validation/` folders with TensorBoard's own record writer, as PyTorch's SummaryWriter does.
It writes plain files: TensorBoard's EventFileWriter would import TensorFlow whenever it is
installed (for its file system layer), which costs seconds on every run of another backend.
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


def epoch_scalars(log_dir: Path):
    """A Keras callback writing each epoch's logs as Keras's TensorBoard callback names them:
    `epoch_<metric>` under train/, validation metrics without `val_` under validation/, and
    the optimizer's learning rate as `epoch_learning_rate` under train/."""
    import keras

    class EpochScalars(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.writers: dict[str, EventWriter] = {}

        def writer(self, split: str) -> EventWriter:
            if split not in self.writers:
                self.writers[split] = EventWriter(Path(log_dir) / split)
            return self.writers[split]

        def on_epoch_end(self, epoch, logs=None):
            logs = dict(logs or {})
            if "learning_rate" not in logs:
                rate = self.model.optimizer.learning_rate
                logs["learning_rate"] = float(keras.ops.convert_to_numpy(rate))
            train = {f"epoch_{k}": v for k, v in logs.items() if not k.startswith("val_")}
            validation = {f"epoch_{k[4:]}": v for k, v in logs.items() if k.startswith("val_")}
            self.writer("train").scalars(train, epoch)
            if validation:
                self.writer("validation").scalars(validation, epoch)

        def on_train_end(self, logs=None):
            for writer in self.writers.values():
                writer.close()
            self.writers = {}

    return EpochScalars()


def tensorboard_callback(log_dir: Path):
    """Keras's TensorBoard callback on TensorFlow; `epoch_scalars` on the other backends."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return epoch_scalars(log_dir)

    class TensorBoard(keras.callbacks.TensorBoard):
        def on_train_batch_end(self, batch, logs=None):
            # Each batch's scalars are written only with a per-batch update_freq; without
            # one, passing them cost 1 ms a batch for nothing (5% of an MNIST epoch).
            super().on_train_batch_end(batch, logs if self.update_freq != "epoch" else None)

    return TensorBoard(log_dir=str(log_dir))


def writes_traces(callback) -> bool:
    """Whether `callback` is the one `tensorboard_callback` made."""
    return type(callback).__name__ in ("TensorBoard", "EpochScalars")
