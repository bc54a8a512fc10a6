"""Resume after a crash: per-epoch backups that make a resumed fit end where an
uninterrupted one would.

Keras's BackupAndRestore saves the weights, the optimizer's state and the epoch. Two more
things decide how training continues, and both are made resumable: the randomness of each
epoch (`steps.train.reseed`), and EarlyStopping's memory (best value, patience used, best
weights), saved here beside the backup. How often they are written: `steps.train.save_cadence`."""

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


def resumable_early_stopping(folder: Path, **kwargs):
    """EarlyStopping whose best value, wait count, best weights and that epoch's logs
    (`best_logs`) survive a restart: `write_out(epoch)` saves them as they are after `epoch`,
    and a resumed fit restores them for the epoch its backup resumes after."""
    import keras

    def state_file(epoch: int) -> Path:
        return folder / f"early_stopping-{epoch}.json"

    def weights_file(epoch: int) -> Path:
        return folder / f"best_weights-{epoch}.npz"

    class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
        restored = False
        best_logs: dict[str, float] | None = None

        def on_epoch_begin(self, epoch, logs=None):
            # The first epoch of this fit tells where the backup resumes: restore from there.
            if self.restored or epoch == 0 or not state_file(epoch - 1).exists():
                self.restored = True
                return
            self.restored = True
            state = json.loads(state_file(epoch - 1).read_text())
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
            state = {"wait": self.wait, "best": self.best, "epoch": self.best_epoch}
            state["logs"] = self.best_logs
            replace_atomically(state_file(epoch), json.dumps(state))
            forget_all_but(folder, epoch)

    return ResumableEarlyStopping(**kwargs)


def forget_all_but(folder: Path, epoch: int) -> None:
    """Keep EarlyStopping's state of this save and the one before (the backup keeps its previous
    save as a fallback) and the best weights they name; drop later epochs' (a fit killed before
    its backup saved them) and older ones."""

    def number(path: Path) -> int:
        return int(path.stem.rpartition("-")[2])

    states = sorted(folder.glob("early_stopping-*.json"), key=number)
    kept = [path for path in states if number(path) <= epoch][-2:]
    for path in states:
        if path not in kept:
            path.unlink(missing_ok=True)
    named = {json.loads(path.read_text())["epoch"] for path in kept}
    for path in folder.glob("best_weights-*.npz"):
        if number(path) not in named:
            path.unlink(missing_ok=True)


def backup_and_restore(folder: Path):
    """Keras's own backup of weights, optimizer state and epoch, written by `write_out`."""
    import keras

    class WholeBackup(keras.callbacks.BackupAndRestore):
        def on_epoch_end(self, epoch, logs=None):
            self._current_epoch = epoch + 1
            self._last_batch_seen = 0

        def write_out(self, epoch: int) -> None:
            self._save_model()

    # double_checkpoint: a SIGKILL while the weights are written leaves the previous save.
    return WholeBackup(str(folder / "keras"), delete_checkpoint=False, double_checkpoint=True)


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
