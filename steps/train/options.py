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
    deterministic: bool  # TensorFlow's deterministic kernels: same seed, same metrics
