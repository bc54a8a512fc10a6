"""The tracking store's first use, one process at a time.

MLflow creates and migrates a database store (alembic) the first time a process opens it,
with nothing that stops two processes doing so at once: on a new sqlite file one of them
dies and the schema can be left half-migrated for good. Every process of this project opens
its store under an exclusive file lock first: beside a sqlite file, or for another database
in the cache folder, keyed by the URI, which orders the processes of one machine only.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path

from steps import files
from steps.data.cache import cache_root

DATABASES = ("sqlite", "postgresql", "mysql", "mssql")


def is_database(uri: str) -> bool:
    """Whether `uri` names a database store (MLflow's SQLAlchemy store)."""
    return uri.partition(":")[0].partition("+")[0] in DATABASES


def lock_path(uri: str, root: Path | None = None) -> Path | None:
    """Where the lock of the store at `uri` lives; None for the stores MLflow does not
    migrate (files, servers) and for in-memory sqlite."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if not is_database(uri):
        return None
    try:
        url = make_url(uri)
    except ArgumentError:
        return None  # MLflow says what is wrong with it
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            return None
        database = Path(url.database).expanduser().absolute()
        return database.with_name(f"{database.name}.lock")
    digest = hashlib.sha256(uri.encode()).hexdigest()[:16]  # the URI may hold a password
    return (root or cache_root()) / "locks" / f"tracking-store-{digest}.lock"


@contextlib.contextmanager
def first_use(uri: str) -> Iterator[None]:
    """Held while the store at `uri` is created or migrated; the OS drops it if the
    process dies. Where the lock cannot be made, MLflow's own error will say why."""
    path = lock_path(uri)
    with contextlib.ExitStack() as held:
        if path is not None:
            with contextlib.suppress(OSError):
                held.enter_context(files.lock(path))
        yield


def open_store(uri: str | None = None) -> None:
    """Create and migrate the tracking store if it is new, one process at a time; MLflow
    keeps the opened store for the rest of the process."""
    import mlflow

    uri = uri or mlflow.get_tracking_uri()
    if lock_path(uri) is None:
        return
    with first_use(uri):
        mlflow.MlflowClient(uri).search_experiments(max_results=1)
