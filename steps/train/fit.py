"""Fit step: seeding, compile and the standard callbacks (lessons 21, 33, 48, 74)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from steps.data.prepare import Split
from steps.errors import UserError
from steps.model.build import Head
from steps.track import tensorboard
from steps.train import reseed, resume, save_cadence
from steps.train.feed import build_before_tracing, feed, rows
from steps.train.options import AUTO, FitOptions

# Names compile resolves from the loss rather than from keras.metrics (Keras's compile_utils).
LOSS_RESOLVED = ("accuracy", "acc", "crossentropy", "ce")


@dataclass(frozen=True)
class FitResult:
    history: dict[str, list[float]]
    epochs_run: int
    # From 1: the epoch whose weights the model holds, EarlyStopping's best or else the last.
    best_epoch: int
    seconds: float
    checkpoint: Path | None = field(default=None)
    # (epoch from 1, its loss) when the loss became NaN or infinite: TerminateOnNaN stopped there.
    diverged: tuple[int, float] | None = None
    best_metrics: dict[str, float] = field(default_factory=dict)  # the best epoch's, by name
    kept_by: str = ""  # why that epoch: "lowest val_loss", or "the last; EarlyStopping off"
    callbacks: str = ""  # the active callbacks and their settings, as `active_callbacks` says


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Python, NumPy and backend seeds, plus TensorFlow's deterministic kernels unless
    `deterministic` is off (then they are turned off, also after an earlier run in this
    process turned them on)."""
    import keras

    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        # Keras reads the switch from here too (it compiles without XLA while it is on).
        from tensorflow.python.framework.config import disable_op_determinism

        if deterministic:
            tf.config.experimental.enable_op_determinism()
        else:
            disable_op_determinism()


def metric_names(requested: tuple[str, ...], head: Head) -> tuple[str, ...]:
    """What compile measures besides the loss: `requested`, AUTO standing for the head's own;
    none at all is the loss alone (lesson 04)."""
    names = (n for name in requested for n in (head.metrics if name == AUTO else (name,)))
    return tuple(dict.fromkeys(names))


def check_metric_names(names: tuple[str, ...]) -> None:
    """Each name one Keras takes in compile(metrics=...), or one line saying which is not."""
    import keras

    for name in names:
        if name in LOSS_RESOLVED:
            continue
        try:
            keras.metrics.get(name)
        except ValueError:
            raise UserError(
                f"bad value {name!r} for metrics: Keras knows no metric of that name; "
                "give names from keras.metrics such as mae, mse, accuracy, auc"
            ) from None


def compile_model(model, head: Head, config: FitOptions) -> None:
    import keras

    from steps.backends import jit_compile_option

    optimizer = keras.optimizers.get(
        {"class_name": config.optimizer, "config": {"learning_rate": config.learning_rate}}
    )
    names = metric_names(config.metrics, head)
    check_metric_names(names)
    outputs = len(model.outputs)  # several outputs: each measured with every metric
    model.compile(
        optimizer=optimizer,
        loss=head.loss,
        metrics=[list(names)] * outputs if outputs > 1 else list(names),
        jit_compile=jit_compile_option(config.jit_compile),
    )


# ReduceLROnPlateau halves the rate: Keras's default (a tenth) stalls small tables at once.
LR_FACTOR = 0.5
# Keras's defaults (no floor, no cooldown) let a stalled fit halve the rate every few epochs
# towards 0: 48 cuts in 100 epochs took it to 1e-17 and training froze. Six halvings at most
# (the floor is an exact power of two below the start, so every cut is a halving) keep
# steps large enough to move. After a cut, a cooldown of `patience` epochs lets the new
# rate settle before it is judged (Keras counts the cooldown's last epoch towards patience:
# each rate trains at least 2 x patience - 1 epochs), so the six cuts are spread out.
LR_HALVINGS = 6


def lr_floor(learning_rate: float) -> float:
    """The lowest rate ReduceLROnPlateau may set: six halvings below the start."""
    return learning_rate * LR_FACTOR**LR_HALVINGS


def standard_callbacks(
    config: FitOptions,
    *,
    monitor: str,
    log_dir: Path | None,
    checkpoint: Path | None,
    backup: Path | None = None,
) -> list:
    """Seeds per epoch, TerminateOnNaN, EarlyStopping, ReduceLROnPlateau, ModelCheckpoint,
    TensorBoard."""
    import keras

    callbacks: list = [
        reseed.epoch_seeds(config.seed),
        learning_rate_in_logs(),
        keras.callbacks.TerminateOnNaN(),
    ]
    if config.patience > 0:
        stopping = {"monitor": monitor, "patience": config.patience, "restore_best_weights": True}
        callbacks.append(
            resume.resumable_early_stopping(backup, **stopping)
            if backup is not None
            else keras.callbacks.EarlyStopping(**stopping)
        )
    if config.reduce_lr_patience > 0:
        plateau = {
            "monitor": monitor,
            "patience": config.reduce_lr_patience,
            "factor": LR_FACTOR,
            "cooldown": config.reduce_lr_patience,
            "min_lr": lr_floor(config.learning_rate),
        }
        callbacks.append(
            resume.resumable_reduce_lr(backup, **plateau)
            if backup is not None
            else keras.callbacks.ReduceLROnPlateau(**plateau)
        )
    if checkpoint is not None:
        callbacks.append(resume.best_checkpoint(checkpoint, monitor))
    if log_dir is not None:
        callbacks.append(tensorboard.tensorboard_callback(log_dir))
    return callbacks


def active_callbacks(callbacks: list, save_seconds: float) -> str:
    """The callbacks a fit runs with and their settings, in one line for the run's tags."""
    import keras

    def said(callback) -> str:
        match callback:
            case keras.callbacks.EarlyStopping():
                return f"EarlyStopping({callback.monitor}, patience {callback.patience}, best)"
            case keras.callbacks.ReduceLROnPlateau():
                return (
                    f"ReduceLROnPlateau({callback.monitor}, patience {callback.patience}, "
                    f"factor {callback.factor:g}, cooldown {callback.cooldown}, "
                    f"floor {callback.min_lr:.3g})"
                )
            case keras.callbacks.ModelCheckpoint():
                return f"ModelCheckpoint({callback.monitor}, best epoch)"
            case keras.callbacks.BackupAndRestore():
                return f"BackupAndRestore(every {save_seconds:g} s and after the last epoch)"
            case keras.callbacks.TerminateOnNaN():
                return "TerminateOnNaN"
        return "TensorBoard" if tensorboard.writes_traces(callback) else ""

    return ", ".join(filter(None, map(said, callbacks)))


def rate_cuts(history: dict[str, list[float]]) -> list[int]:
    """The epochs (from 1) after which the learning rate was cut."""
    rates = history.get("learning_rate", [])
    return [epoch for epoch in range(1, len(rates)) if rates[epoch] < rates[epoch - 1]]


def learning_rate_in_logs():
    """Adds the optimizer's learning rate to each epoch's logs, as ReduceLROnPlateau does, so
    the history, the progress line and every logger after it have it."""
    import keras

    class LearningRate(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if logs is not None and "learning_rate" not in logs:
                rate = self.model.optimizer.learning_rate
                logs["learning_rate"] = float(keras.ops.convert_to_numpy(rate))

    return LearningRate()


def kept_epoch(
    epochs: list[int], history: dict[str, list[float]], restored
) -> tuple[int, dict[str, float]]:
    """(the Keras epoch, from 0, whose weights the model holds after fit, its metrics): the
    best of the EarlyStopping that `restored` them, else the last epoch trained."""
    epoch = restored.best_epoch if restored else (epochs[-1] if epochs else -1)
    if epoch in epochs:
        at = epochs.index(epoch)
        logs = {name: values[at] for name, values in history.items() if at < len(values)}
    else:  # before a resumed fit's first epoch: EarlyStopping kept them with its backup
        logs = dict(getattr(restored, "best_logs", None) or {})
    logs.pop("learning_rate", None)
    return epoch, {name: float(value) for name, value in logs.items()}


def fit(
    model,
    head: Head,
    data: Split,
    config: FitOptions,
    *,
    log_dir: Path | None = None,
    checkpoint: Path | None = None,
    extra_callbacks: list | None = None,
    backup: Path | None = None,
    validation_split: float = 0.0,
) -> FitResult:
    """Compile and train with validation, early stopping and TensorBoard traces.

    Without validation rows in `data`, `validation_split` lets Keras cut that last share of
    the training rows (lesson 11's other way). With `backup`, every finished epoch is saved
    there and a rerun continues from it.
    """
    import keras

    compile_model(model, head, config)
    if backup is not None and (kept := resume.finished(backup, model)) is not None:  # resumed
        return FitResult(**kept | {"checkpoint": checkpoint, "diverged": None})
    has_val = rows(data.x_val) > 0
    monitor = "val_loss" if has_val or validation_split > 0 else "loss"
    callbacks = standard_callbacks(
        config, monitor=monitor, log_dir=log_dir, checkpoint=checkpoint, backup=backup
    )
    callbacks += list(extra_callbacks or [])
    if backup is not None:  # last, so an epoch is backed up only once it is logged
        callbacks.append(resume.backup_and_restore(backup))
    every = save_cadence.save_seconds()
    savers = [callback for callback in callbacks if hasattr(callback, "write_out")]
    callbacks.append(save_cadence.saving_every(every, savers))
    rows_in = feed(data, config.batch_size, config.seed, config.epochs, validation_split)
    if rows_in.steps_per_epoch is not None:  # a tf.data pipeline
        build_before_tracing(model, rows_in.x)
    started = time.perf_counter()
    history = model.fit(
        **rows_in.fit_arguments(),
        epochs=config.epochs,
        verbose=config.verbose,
        callbacks=[*rows_in.callbacks, *callbacks],
    )
    seconds = time.perf_counter() - started
    stopping = next((c for c in callbacks if isinstance(c, keras.callbacks.EarlyStopping)), None)
    restored = stopping if stopping is not None and stopping.best_weights is not None else None
    # Keras counts epochs from 0 from the start of training, also in a resumed fit.
    best, best_metrics = kept_epoch(history.epoch, history.history, restored)
    kept_by = f"lowest {monitor}" if restored else "the last"
    epochs = zip(history.epoch, history.history.get("loss", []), strict=False)
    diverged = next(((e + 1, v) for e, v in epochs if not math.isfinite(v)), None)
    result = FitResult(
        history={k: [float(v) for v in vs] for k, vs in history.history.items()},
        epochs_run=history.epoch[-1] + 1 if history.epoch else 0,
        best_epoch=int(best) + 1,
        seconds=seconds,
        checkpoint=checkpoint,
        diverged=diverged,
        best_metrics=best_metrics,
        kept_by=kept_by if stopping else "the last; EarlyStopping off",
        callbacks=active_callbacks(callbacks, every),
    )
    if diverged and backup is not None:  # its last epoch holds NaN weights: nothing to resume
        resume.forget(backup)
    elif backup is not None:
        kept = {k: v for k, v in vars(result).items() if k not in ("checkpoint", "diverged")}
        resume.keep_finished(backup, model, kept)
    return result


def epochs_text(result: FitResult) -> str:
    """How long training ran and which epoch's weights the model kept, for the last line."""
    if result.epochs_run == 0:
        return "no epoch left to train"
    text = f"{n_epochs(result.epochs_run)}, kept epoch {result.best_epoch} ({result.kept_by})"
    if cuts := rate_cuts(result.history):
        after = ", ".join(map(str, cuts))
        text += f"; learning rate halved after epoch{'s' if len(cuts) > 1 else ''} {after}"
    return text


def n_epochs(count: int) -> str:
    return f"{count} epoch" if count == 1 else f"{count} epochs"


def divergence_problem(result: FitResult, config: FitOptions) -> str:
    """Training that blew up, in words, with what to change; '' when it did not."""
    if result.diverged is None:
        return ""
    epoch, loss = result.diverged
    return f"training diverged at epoch {epoch}: loss is {loss}; {remedy(config)}"


def remedy(config: FitOptions) -> str:
    return (
        f"lower -P learning_rate (now {config.learning_rate:g}) or try another -P optimizer "
        f"(now {config.optimizer})"
    )


def metrics_problem(metrics: dict[str, float], config: FitOptions) -> str:
    """Test metrics that are not finite: the trained model's outputs overflowed."""
    bad = {name: value for name, value in metrics.items() if not math.isfinite(value)}
    if not bad:
        return ""
    listed = ", ".join(f"{name}={value}" for name, value in bad.items())
    return f"the trained model scores {listed} on the test rows; {remedy(config)}"


def refuse(problem: str) -> None:
    if problem:
        raise UserError(problem)
