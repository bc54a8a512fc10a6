"""One run after another in the same process (a notebook, a test, a script): what a run
leaves behind in the process is put back, so the next run starts as in a new process.

MLflow's `set_experiment` writes MLFLOW_EXPERIMENT_ID into the environment (for child
processes), and the next run would read it as the user's choice of experiment; `mlflow run`
hands a run over in MLFLOW_RUN_ID. Keras keeps its layer names, graph and compiled functions
until `clear_session`; TensorFlow counts the tracings of every model's train step as one
function's (they share their code), and warns about "retracing" once they add up (5 of
the last 10 calls); JAX keeps every compiled program. The dtype policy is set by each run
(`backends.set_precision`) and put back after it; the backend cannot change once Keras is
loaded (`backends.choose` says so in one line).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def one_run(keras_just_loaded: bool = False) -> Iterator[None]:
    """Around one run: a fresh Keras session first (unless `keras_just_loaded`: nothing
    ran yet, and clearing costs a full garbage collection); after it, the caller's experiment
    (MLFLOW_EXPERIMENT_ID, MLflow's active experiment) and dtype policy as they were, and no
    MLFLOW_RUN_ID (the run it handed over, to this run or to `mlflow run`'s, has ended: the
    next run must not take it up again)."""
    saved = os.environ.get("MLFLOW_EXPERIMENT_ID")
    chosen = active_experiment()
    policy = dtype_policy()
    if not keras_just_loaded:
        fresh_session()
    try:
        yield
    finally:
        set_active_experiment(chosen)
        os.environ.pop("MLFLOW_RUN_ID", None)
        if saved is None:
            os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
        else:
            os.environ["MLFLOW_EXPERIMENT_ID"] = saved
        if policy:  # the caller's own models are built as before (a run sets its own)
            import keras

            keras.mixed_precision.set_global_policy(policy)


def active_experiment() -> str | None:
    """The experiment MLflow's `start_run` uses when given none: the one `set_experiment`
    last set in this process. MLflow keeps it in a module variable with no public way to
    unset it, so the caller's own `mlflow.start_run()` after a lesson would land in the
    lesson's experiment unless it is put back."""
    from mlflow.tracking import fluent

    return getattr(fluent, "_active_experiment_id", None)


def set_active_experiment(experiment_id: str | None) -> None:
    from mlflow.tracking import fluent

    if hasattr(fluent, "_active_experiment_id"):
        fluent._active_experiment_id = experiment_id


def dtype_policy() -> str:
    """Keras's global dtype policy now ('' before Keras is loaded: its default then)."""
    if "keras" not in sys.modules:
        return ""
    import keras

    return keras.mixed_precision.global_policy().name


def fresh_session() -> None:
    """Keras's global state gone (layer names, graph, the last model's memory), TensorFlow's
    tracing counts as in a new process, JAX's compiled programs dropped."""
    if "keras" not in sys.modules:  # nothing ran yet in this process
        return
    import keras

    keras.backend.clear_session()
    backend = keras.backend.backend()
    if backend == "tensorflow":
        forget_tracing_counts()
    elif backend == "jax":
        import jax

        jax.clear_caches()


def forget_tracing_counts() -> None:
    """TensorFlow keys its "frequent retracing" counts by a function's code, so the train
    steps of successive models (one code, a new function each) add up across runs: a new
    run's first trace is no retrace. Its counters start empty, as in a new process."""
    from tensorflow.python.eager.polymorphic_function import polymorphic_function

    manager = getattr(polymorphic_function, "_frequent_tracing_detector_manager", None)
    detectors = getattr(manager, "_detectors", None)
    if detectors is not None:
        detectors.clear()
