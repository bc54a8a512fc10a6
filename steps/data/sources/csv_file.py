"""The user's own table: `csv:PATH` with `-P target=COLUMN` (lessons 58-59)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from steps.data.dataset import (
    Dataset,
    Source,
    encode_classes,
    existing_file,
    file_sha256,
    infer_task,
)
from steps.errors import UserError

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


def source(path: Path, target: str = "") -> Source:
    """`-P dataset=csv:PATH -P target=COLUMN`: one-hot text columns, the target's task inferred."""
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
