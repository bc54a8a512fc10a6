"""What the training steps take from the parameters: the fit options and the choices of
optimizer, search pruner and direction. Imports nothing heavy, so the parameter table
(`pipelines.params`) reads it in milliseconds; `steps.train.fit` and `steps.train.search` do
the work."""

from __future__ import annotations

from dataclasses import dataclass

OPTIMIZERS = ("adam", "sgd", "rmsprop", "adagrad", "adadelta", "adamax", "nadam")
AUTO = "auto"  # in `metrics`: the task's own (accuracy for classes, mae for numbers)
PRUNERS = ("hyperband", "median", "none")  # what stops a study's weak trials early
DIRECTIONS = ("maximize", "minimize")  # of the metric a study optimizes
ALL_DEVICES = "all"  # in `devices`: every accelerator (or every CPU device JAX is given)
# What a k-fold fit makes of its fold models: their average, one Keras model, or a fresh
# model trained on every row for their mean kept epoch (steps.train.folds).
FOLD_MODES = ("ensemble", "refit")


def device_count_text(text: str) -> str:
    """`-P devices=`: all, or a whole number from 1."""
    if text != ALL_DEVICES and not (text.isdigit() and int(text) >= 1):
        raise ValueError(text)
    return text


@dataclass(frozen=True)
class FitOptions:
    epochs: int
    batch_size: int
    learning_rate: float
    optimizer: str  # one of OPTIMIZERS
    metrics: tuple[str, ...]  # Keras metric names measured besides the loss; AUTO: the head's
    patience: int  # EarlyStopping; 0 turns it off
    reduce_lr_patience: int  # ReduceLROnPlateau; 0 turns it off
    checkpoint: bool  # ModelCheckpoint of the best epoch, kept with the run
    verbose: int
    seed: int
    jit_compile: str  # XLA: auto (Keras decides per backend), true or false
    folds: int  # k-fold fit of small training sets (steps.train.folds); 0: one fit
    fold_mode: str  # one of FOLD_MODES
    deterministic: bool  # TensorFlow's deterministic kernels: same seed, same metrics
