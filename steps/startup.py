"""The libraries every run loads, loaded once per process with the garbage collector paused.

TensorFlow (or JAX) with Keras, MLflow and its database store make about a million Python
objects that live as long as the process. Python's collector walks every object it tracks
at each full collection: about ten times while they load (each import raises the count that
triggers the next), then at each full collection during the run, and twice more at exit;
on 2 CPUs that is several seconds. Frozen once loaded (`gc.freeze`), they are left out of
every later collection; what a run creates is collected as before.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import sys
from collections.abc import Iterator

from steps import native_logs


@contextlib.contextmanager
def uncollected() -> Iterator[None]:
    """The collector paused inside the block; what the block made frozen after it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def load_libraries() -> bool:
    """Keras (quietly, `native_logs`), MLflow and, for a database tracking store, its
    driver; True when they were loaded now. Once per process: later runs find them loaded,
    and nothing is frozen again."""
    if "keras" in sys.modules:
        return False
    with uncollected():
        native_logs.import_keras()
        import mlflow

        from steps.track.store import is_database

        if is_database(mlflow.get_tracking_uri()):
            importlib.import_module("mlflow.store.tracking.sqlalchemy_store")
    return True
