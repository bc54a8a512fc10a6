"""Resume after a crash: per-epoch backups that make a resumed fit end where an
uninterrupted one would.

Keras's BackupAndRestore saves the weights, the optimizer's state and the epoch. More things
decide how training continues, and each is made resumable: the randomness of each epoch
(`steps.train.reseed`), the order of its rows (`steps.train.feed`), and the memory of the
callbacks that watch the validation loss (EarlyStopping's best value, patience used and best
weights; ReduceLROnPlateau's best value, patience used and cooldown), saved here beside the
backup. How often they are written: `steps.train.save_cadence`."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from steps.data.cache import cache_root
from steps.errors import UserError
from steps.files import holder, lock, replace_atomically, replacing

# Not part of a training's identity: changing them does not change what is learnt.
# `devices` neither: a run resumes on the count it trained on (`distribute.check_resume`).
NOT_IDENTITY = frozenset({"resume", "verbose", "devices"})


def backups_of(entry_point: str, params: dict[str, object], root: Path | None = None) -> Path:
    """Where the backups of this exact training live (entry point + parameters), one
    sub-folder per run, named after its MLflow run id."""
    identity = {k: str(v) for k, v in sorted(params.items()) if k not in NOT_IDENTITY}
    digest = hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:16]
    return (root or cache_root()) / "resume" / f"{entry_point}-{digest}"


def candidates(backups: Path) -> list[Path]:
    """The backups of this training that hold a finished epoch, newest first."""
    if not backups.is_dir():
        return []
    return sorted(
        (p for p in backups.iterdir() if next(p.glob("**/keras"), None)),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )


@contextlib.contextmanager
def claimed(backups: Path) -> Iterator[Path | None]:
    """The newest interrupted run of this training, locked for this process while the block
    runs; None when there is none. Choosing and locking are one step, so a run that another
    process resumes is never opened here: that is an error naming the process."""
    busy = ""
    for folder in candidates(backups):
        with lock(folder / "lock", wait=False, role="resuming") as held:
            if held:
                yield folder
                return
        pid, role = holder(folder / "lock")
        if role == "resuming" and not busy:  # a run still training is not an interrupted one
            busy = f"the interrupted run {folder.name} is already being resumed by process {pid}"
    if busy:
        raise UserError(f"{busy}; let it finish, or stop it and resume again")
    yield None


def write_weights(path: Path, weights: list) -> None:
    """A model's weight arrays, in order, as one .npz written atomically."""
    buffer = io.BytesIO()
    np.savez(buffer, **{f"w{i}": w for i, w in enumerate(weights)})
    replace_atomically(path, buffer.getvalue())


def read_weights(path: Path) -> list:
    with np.load(path) as saved:
        return [saved[f"w{i}"] for i in range(len(saved.files))]


def forget(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


class KeptAcrossRestarts:
    """A callback's memory that survives a restart: `write_out(epoch)` saves `state()` as it
    is after `epoch` beside the backup (`<prefix>-<epoch>.json`), and a resumed fit, whose
    first epoch tells where its backup resumes, gives the state saved after the epoch
    before to `restore`. Mixed into a Keras callback, before it in the bases."""

    restored = False

    def __init__(self, folder: Path, prefix: str, **kwargs):
        super().__init__(**kwargs)  # the Keras callback's own arguments
        self.folder, self.prefix = folder, prefix

    def state(self) -> dict:
        raise NotImplementedError

    def restore(self, state: dict) -> None:
        raise NotImplementedError

    def state_file(self, epoch: int) -> Path:
        return self.folder / f"{self.prefix}-{epoch}.json"

    def on_epoch_begin(self, epoch, logs=None):
        if not self.restored:  # after on_train_begin, which resets the callback
            self.restored = True
            if epoch > 0 and self.state_file(epoch - 1).exists():
                self.restore(json.loads(self.state_file(epoch - 1).read_text()))

    def write_out(self, epoch: int) -> None:
        replace_atomically(self.state_file(epoch), json.dumps(self.state()))
        forget_all_but(self.folder, epoch)


def resumable_early_stopping(folder: Path, **kwargs):
    """EarlyStopping whose best value, wait count, best weights and that epoch's logs
    (`best_logs`) survive a restart."""
    import keras

    def weights_file(epoch: int) -> Path:
        return folder / f"best_weights-{epoch}.npz"

    class ResumableEarlyStopping(KeptAcrossRestarts, keras.callbacks.EarlyStopping):
        best_logs: dict[str, float] | None = None

        def state(self) -> dict:
            return {
                "wait": self.wait,
                "best": self.best,
                "epoch": self.best_epoch,
                "logs": self.best_logs,
            }

        def restore(self, state: dict) -> None:
            self.wait, self.best, self.best_epoch = state["wait"], state["best"], state["epoch"]
            self.best_logs = state.get("logs")
            if weights_file(self.best_epoch).exists():
                self.best_weights = read_weights(weights_file(self.best_epoch))

        def on_epoch_end(self, epoch, logs=None):
            best_before = self.best_epoch if self.best_weights is not None else None
            super().on_epoch_end(epoch, logs)
            if self.best_weights is not None and self.best_epoch != best_before:
                self.best_logs = {k: float(v) for k, v in (logs or {}).items()}

        def write_out(self, epoch: int) -> None:
            if self.best_weights is not None and not weights_file(self.best_epoch).exists():
                write_weights(weights_file(self.best_epoch), self.best_weights)
            super().write_out(epoch)

    return ResumableEarlyStopping(folder, "early_stopping", **kwargs)


def resumable_reduce_lr(folder: Path, **kwargs):
    """ReduceLROnPlateau whose best value, patience used and cooldown survive a restart (the
    rate itself is the optimizer's, in the backup): a resumed fit cuts the rate where an
    uninterrupted one would."""
    import keras

    class ResumableReduceLR(KeptAcrossRestarts, keras.callbacks.ReduceLROnPlateau):
        def state(self) -> dict:
            return {"wait": self.wait, "cooldown": self.cooldown_counter, "best": self.best}

        def restore(self, state: dict) -> None:
            self.wait, self.cooldown_counter = state["wait"], state["cooldown"]
            self.best = state["best"]

    return ResumableReduceLR(folder, "reduce_lr", **kwargs)


def forget_all_but(folder: Path, epoch: int) -> None:
    """Keep the callbacks' state of this save and the one before (the backup keeps its
    previous save as a fallback) and the best weights EarlyStopping's name; drop later
    epochs' (a fit killed before its backup saved them) and older ones."""

    def number(path: Path) -> int:
        return int(path.stem.rpartition("-")[2])

    named: set[int] = set()
    for prefix in ("early_stopping", "reduce_lr"):
        states = sorted(folder.glob(f"{prefix}-*.json"), key=number)
        kept = [path for path in states if number(path) <= epoch][-2:]
        for path in states:
            if path not in kept:
                path.unlink(missing_ok=True)
        if prefix == "early_stopping":
            named = {json.loads(path.read_text())["epoch"] for path in kept}
    for path in folder.glob("best_weights-*.npz"):
        if number(path) not in named:
            path.unlink(missing_ok=True)


def backup_and_restore(folder: Path):
    """Keras's own backup of weights, optimizer state and epoch, written by `write_out` as
    one step: the epoch's weights go to a file of their own, then `backup.json`, replaced
    atomically, names that file and the epoch. Keras writes its weights and then its epoch
    over the last save's, and a SIGKILL between the two resumed a fit from the wrong epoch
    with the next epoch's weights; here a kill at any moment leaves the last whole save."""
    import keras

    pointer = folder / "keras" / "backup.json"

    class WholeBackup(keras.callbacks.BackupAndRestore):
        def on_train_begin(self, logs=None):
            if not pointer.exists():
                return
            saved = json.loads(pointer.read_text())
            if self.model.optimizer is not None and not self.model.optimizer.built:
                self.model.optimizer.build(self.model.trainable_variables)
            self.model.load_weights(pointer.parent / saved["weights"])
            self.model._initial_epoch = saved["epoch"]  # how fit learns where to start

        def on_epoch_end(self, epoch, logs=None):
            self._current_epoch = epoch + 1
            self._last_batch_seen = 0

        def write_out(self, epoch: int) -> None:
            weights = pointer.with_name(f"epoch-{self._current_epoch}.weights.h5")
            weights.parent.mkdir(parents=True, exist_ok=True)
            self.model.save_weights(weights, overwrite=True)  # named by no pointer yet
            replace_atomically(
                pointer, json.dumps({"epoch": self._current_epoch, "weights": weights.name})
            )
            for older in pointer.parent.glob("epoch-*.weights.h5"):
                if older != weights:
                    older.unlink(missing_ok=True)

    return WholeBackup(str(folder / "keras"), delete_checkpoint=False)


def keep_finished(folder: Path, model, result: dict) -> None:
    """A finished fit's weights and result beside its backup, the result written last: a run
    killed after a fit (while it scores the test rows or logs the model, or in a later fold)
    resumes from them without fitting again."""
    folder.mkdir(parents=True, exist_ok=True)
    write_weights(folder / "done.npz", model.get_weights())
    replace_atomically(folder / "done.json", json.dumps(result))


def finished(folder: Path, model) -> dict | None:
    """The result `keep_finished` kept, its weights put into `model`; None before that."""
    if not (folder / "done.json").exists():
        return None
    model.set_weights(read_weights(folder / "done.npz"))
    return json.loads((folder / "done.json").read_text())


def best_checkpoint(path: Path, monitor: str):
    """ModelCheckpoint(save_best_only) that keeps the best epoch's weights in memory. At
    `write_out` they go to `<path>.npz`, with `<path>.json` saying which epoch and value they
    are (a resumed fit starts from both); the `.keras` model is written once, when training
    ends: a whole model saved at every save point cost 3-5% of an MNIST fit."""
    import keras

    noted, weights_file = (path.with_name(path.name + suffix) for suffix in (".json", ".npz"))
    best = json.loads(noted.read_text())["value"] if noted.exists() else None

    class BestCheckpoint(keras.callbacks.ModelCheckpoint):
        kept: tuple[int, float, list] | None = None  # (epoch, value, weights) of this fit
        written = True

        def _save_model(self, epoch, batch, logs):
            if self._should_save_model(epoch, batch, logs, str(path)):
                self.kept = (epoch, float(self.best), self.model.get_weights())
                self.written = False

        def write_out(self, epoch: int) -> None:
            if self.written or self.kept is None:
                return
            best_epoch, value, weights = self.kept
            write_weights(weights_file, weights)
            replace_atomically(noted, json.dumps({"epoch": best_epoch + 1, "value": value}))
            self.written = True

        def on_train_end(self, logs=None):
            if self.kept is not None:
                weights = self.kept[2]
            elif weights_file.exists():  # resumed, and no epoch since was better
                weights = read_weights(weights_file)
            else:
                return
            current = self.model.get_weights()
            self.model.set_weights(weights)
            with replacing(path) as partial:  # a kill mid-write leaves the old
                try:
                    self.model.save(partial, overwrite=True)
                finally:
                    self.model.set_weights(current)

    path.parent.mkdir(parents=True, exist_ok=True)
    return BestCheckpoint(
        str(path), monitor=monitor, save_best_only=True, initial_value_threshold=best
    )
