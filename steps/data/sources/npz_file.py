"""The user's own arrays: `npz:PATH` (keys x_train, y_train, x_test, y_test or x, y)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from steps.data import checks
from steps.data.dataset import (
    Dataset,
    Source,
    encode_classes,
    existing_file,
    file_sha256,
    infer_task,
)
from steps.data.sources.keras_sets import split_like_keras
from steps.errors import UserError

LABELS = ("y_train", "y_test")


def source(path: Path, target: str = "") -> Source:
    """`-P dataset=npz:PATH`; a `target` means nothing here (the archive holds y)."""
    path = existing_file(path, "npz")

    def load() -> Dataset:
        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {key: archive[key] for key in archive.files}
        except (ValueError, OSError, EOFError) as exc:
            raise UserError(f"cannot read {path} as a .npz archive: {exc}") from None
        split_keys, whole_keys = {"x_train", "y_train", "x_test", "y_test"}, {"x", "y"}
        if split_keys <= arrays.keys():
            arrays = {k: arrays[k] for k in split_keys}
        elif whole_keys <= arrays.keys():
            arrays = {k: arrays[k] for k in whole_keys}
        else:
            raise UserError(
                f"{path} has keys {sorted(arrays)}; expected x_train, y_train, x_test, y_test "
                "(as Keras's archives have them) or x, y"
            )
        checks.raise_first(str(path), checks.stored_problems(arrays))
        if "x" in arrays:  # one table: split as Keras splits boston_housing
            arrays = split_like_keras(arrays["x"], arrays["y"])
        n_train = len(arrays["y_train"])
        # One label per row (a column, as Keras's CIFAR has them, is one); more are targets.
        y_all = np.concatenate([arrays[k].reshape(len(arrays[k]), -1) for k in LABELS])
        task, names = infer_task(y_all), ()
        if task == "classification" and y_all.shape[1] == 1:
            y_all, names = encode_classes(y_all.ravel())
            arrays["y_train"], arrays["y_test"] = y_all[:n_train], y_all[n_train:]
        image = arrays["x_train"].ndim >= 3 and arrays["x_train"].dtype == np.uint8
        return Dataset(
            name=path.stem,
            task=task,
            class_names=names,
            pixel_max=255.0 if image else None,
            **arrays,
        )

    return Source(name=path.stem, key=file_sha256(path), load=load)
