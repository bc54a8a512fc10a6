"""Warm the npy cache (lessons 54-57): convert the example data sets once, report hit or miss."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from steps.data import cache, catalog
from steps.errors import StorageError, UserError

# The eight example data sets of lessons 43-57 (`-P dataset=all`).
EXAMPLE_SETS: tuple[str, ...] = (
    "mnist",
    "fashion_mnist",
    "cifar10",
    "cifar100",
    "boston_housing",
    "diabetes",
    "iris",
    "breast_cancer",
)


@dataclass(frozen=True)
class Warmed:
    """What warming the cache did for one data set; status is hit, miss or skipped."""

    dataset: str
    status: str
    rows: int = 0
    bytes: int = 0
    seconds: float = 0.0
    message: str = ""


def dataset_names(spec: str) -> list[str]:
    """`all` (the eight example sets) or a comma list, duplicates dropped, order kept."""
    names = [part.strip() for part in spec.split(",") if part.strip()]
    if not names:
        raise UserError("no data set given: use -P dataset=all or a list like mnist,iris")
    unknown = [n for n in names if n != "all" and ":" not in n and n not in catalog.NAMED]
    if unknown:  # a typo is the user's to fix, not a download to skip
        raise UserError(
            f"unknown data set {unknown[0]!r}; choose all, or a comma list of "
            f"{', '.join(sorted(catalog.NAMED))}, {catalog.uri_forms()}"
        )
    expanded: list[str] = []
    for name in names:
        for item in EXAMPLE_SETS if name == "all" else (name,):
            if item not in expanded:
                expanded.append(item)
    return expanded


def warm(name: str, *, target: str = "", root: Path | None = None) -> Warmed:
    """Read one data set through the npy cache; a data set that cannot be had is skipped."""
    started = time.perf_counter()
    try:
        dataset, status = cache.load_cached(catalog.resolve(name, target=target), root)
    except StorageError:  # a full cache is not a data set to skip: every other would fail too
        raise
    except UserError as exc:
        return Warmed(name, "skipped", seconds=time.perf_counter() - started, message=str(exc))
    arrays = dataset.arrays().values()
    return Warmed(
        name,
        status,
        rows=len(dataset.x_train) + (0 if dataset.x_test is None else len(dataset.x_test)),
        bytes=int(sum(np.asarray(a).nbytes for a in arrays)),
        seconds=time.perf_counter() - started,
    )
