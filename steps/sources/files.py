"""The user's own files: `npz:PATH` and `csv:PATH` (lessons 58-59)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from steps.datasets import (
    Dataset,
    Source,
    encode_classes,
    file_sha256,
    infer_task,
)
from steps.errors import UserError
from steps.sources.keras_sets import keras_split

# ----------------------------------------------------------------- user files


def existing_file(path: Path, kind: str) -> Path:
    path = path.expanduser()
    if not path.is_file():
        raise UserError(f"{kind} file not found: {path}; check the path after '{kind}:'")
    return path.resolve()


def npz_file(path: Path) -> Source:
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
        elif whole_keys <= arrays.keys():  # one table: split as Keras splits boston_housing
            if len(arrays["x"]) != len(arrays["y"]):
                raise UserError(
                    f"{path}: x has {len(arrays['x'])} rows but y has {len(arrays['y'])}"
                )
            arrays = keras_split(arrays["x"], arrays["y"])
        else:
            raise UserError(
                f"{path} has keys {sorted(arrays)}; expected x_train, y_train, x_test, y_test "
                "(as Keras's archives have them) or x, y"
            )
        for part in ("train", "test"):
            x, y = arrays.get(f"x_{part}"), arrays.get(f"y_{part}")
            if x is not None and y is not None and len(x) != len(y):
                raise UserError(f"{path}: x_{part} has {len(x)} rows but y_{part} has {len(y)}")
        n_train = len(arrays["y_train"])
        y_all = np.concatenate([arrays[k].ravel() for k in ("y_train", "y_test") if k in arrays])
        task, names = infer_task(y_all), ()
        if task == "classification":
            y_all, names = encode_classes(y_all)
            arrays["y_train"] = y_all[:n_train]
            if "y_test" in arrays:
                arrays["y_test"] = y_all[n_train:]
        image = arrays["x_train"].ndim >= 3 and arrays["x_train"].dtype == np.uint8
        return Dataset(
            name=path.stem,
            task=task,
            class_names=names,
            pixel_max=255.0 if image else None,
            **arrays,
        )

    return Source(name=path.stem, key=file_sha256(path), load=load)


# A text column with more distinct values than this share of its rows (and more than the
# floor) names or describes each row (an id, a name, free text): it is not a category.
TEXT_DISTINCT_SHARE, TEXT_DISTINCT_FLOOR = 0.5, 20


def read_csv_table(path: Path):
    """The file as pandas reads it (lesson 58), or a UserError saying why it cannot be read."""
    import pandas as pd

    if path.stat().st_size == 0:
        raise UserError(f"{path} is empty; a CSV needs a header row and data rows")
    try:
        return pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {path} as CSV: {exc}") from None


def labelled_rows(table, path: Path, target: str):
    """The rows with a value in the target column, renumbered 0..n-1."""
    if target not in table.columns:
        raise UserError(
            f"target column {target!r} is not in {path}; its columns are "
            f"{', '.join(map(str, table.columns))}"
        )
    table = table.dropna(subset=[target]).reset_index(drop=True)
    if table.empty:
        raise UserError(f"{path} has no rows with a value in {target!r}")
    return table


def check_encodable(features, path: Path) -> None:
    """Text columns are one-hot encoded; refuse those with a distinct value on most rows."""
    rows = len(features)
    for column in features.select_dtypes(exclude=["number", "bool"]).columns:
        distinct = int(features[column].nunique())
        if distinct > max(TEXT_DISTINCT_FLOOR, TEXT_DISTINCT_SHARE * rows):
            raise UserError(
                f"column {column!r} of {path} is text with {distinct} distinct values in {rows} "
                "rows (an id or free text, not a category): drop that column from the CSV"
            )


def csv_file(path: Path, *, target: str) -> Source:
    path = existing_file(path, "csv")
    if not target:
        raise UserError(f"csv:{path} needs the column to predict: add -P target=COLUMN")

    def load() -> Dataset:
        import pandas as pd

        table = labelled_rows(read_csv_table(path), path, target)
        check_encodable(table.drop(columns=[target]), path)
        if table.shape[1] < 2:
            raise UserError(f"{path} has no column besides the target {target!r} to learn from")
        features = pd.get_dummies(table.drop(columns=[target]), dtype=np.float32)
        missing = features.isna().sum()
        if missing.any():
            columns = ", ".join(f"{c} ({n})" for c, n in missing[missing > 0].items())
            raise UserError(f"{path} has missing feature values in {columns}; fill or drop them")
        y = table[target].to_numpy()
        task = infer_task(y)
        names: tuple[str, ...] = ()
        if task == "classification":
            y, names = encode_classes(y)
        return Dataset(
            name=path.stem,
            task=task,
            x_train=features.to_numpy(np.float32),
            y_train=y,
            class_names=names,
            feature_names=tuple(map(str, features.columns)),
        )

    return Source(name=path.stem, key=f"{file_sha256(path)}-target={target}", load=load)
