"""What a data set is: `Dataset` (arrays and what later steps need to know of them) and
`Source` (where one comes from).

A `Source` is cheap to make: its `key` identifies the content (a pinned or computed
checksum, or generator parameters) so the npy cache can be consulted before the
expensive `load()` runs. `steps.data.catalog` maps names and URIs to sources.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from steps.errors import UserError

Task = Literal["classification", "regression"]

# Offline data sets a user can always fall back to.
OFFLINE_HINT = "-P dataset=digits (offline), or -P dataset=npz:PATH with your own copy"


@dataclass(frozen=True)
class Dataset:
    """Arrays plus what the later steps need to know about them."""

    name: str
    task: Task
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    class_names: tuple[str, ...] = ()
    feature_names: tuple[str, ...] = ()
    # Images: the largest pixel value (255, or 16 for digits); None for tabular data.
    pixel_max: float | None = None
    # A table read from a file: its fitted front (steps/data/table_front.py) as bytes, which
    # turns the file's raw rows into x's numbers; None for arrays given as numbers.
    front: np.ndarray | None = None

    @property
    def is_image(self) -> bool:
        return self.pixel_max is not None

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def arrays(self) -> dict[str, np.ndarray]:
        named = {"x_train": self.x_train, "y_train": self.y_train}
        if self.x_test is not None and self.y_test is not None:
            named.update(x_test=self.x_test, y_test=self.y_test)
        if self.front is not None:
            named["front"] = self.front
        return named

    def meta(self) -> dict:
        return {
            "name": self.name,
            "task": self.task,
            "class_names": list(self.class_names),
            "feature_names": list(self.feature_names),
            "pixel_max": self.pixel_max,
        }

    @classmethod
    def from_parts(cls, meta: dict, arrays: dict[str, np.ndarray]) -> Dataset:
        return cls(
            name=meta["name"],
            task=meta["task"],
            class_names=tuple(meta["class_names"]),
            feature_names=tuple(meta["feature_names"]),
            pixel_max=meta["pixel_max"],
            x_test=arrays.get("x_test"),
            y_test=arrays.get("y_test"),
            x_train=arrays["x_train"],
            y_train=arrays["y_train"],
            front=arrays.get("front"),
        )


@dataclass(frozen=True)
class Source:
    """Where a data set comes from: a content key for the cache and a loader."""

    name: str
    key: str
    load: Callable[[], Dataset] = field(repr=False)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def infer_task(y: np.ndarray) -> Task:
    """Integer or text labels with few distinct values are classes; anything else is a number."""
    if y.dtype.kind in "OUSb":
        return "classification"
    if y.dtype.kind in "iu" or np.all(np.mod(y, 1) == 0):
        distinct = np.unique(y).size
        if distinct <= max(2, min(50, y.size // 5)):
            return "classification"
    return "regression"


def encode_classes(y: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Labels as indices 0..k-1 plus the original value of each index."""
    values, indices = np.unique(y, return_inverse=True)
    return indices.astype(np.int64), tuple(str(v) for v in values)


def existing_file(path: Path, kind: str) -> Path:
    """The user's `kind:PATH` file, resolved, or a UserError saying it is not there."""
    path = path.expanduser()
    if not path.is_file():
        raise UserError(f"{kind} file not found: {path}; check the path after '{kind}:'")
    return path.resolve()
