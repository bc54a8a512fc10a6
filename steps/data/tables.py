"""Table step: data sets as pandas tables, their profile, and predictions beside the rows
they were made for (lessons 58-59).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from steps.data.dataset import Dataset
from steps.data.options import PrepareOptions
from steps.data.prepare import row_split
from steps.errors import UserError
from steps.train.evaluate import class_indices


def dataset_frame(dataset: Dataset, target: str) -> pd.DataFrame:
    """All rows of a data set as one table: a column per feature, then the target column
    (class names for classes). Images are flattened to one column per pixel."""
    parts = [(dataset.x_train, dataset.y_train)]
    if dataset.x_test is not None and dataset.y_test is not None:
        parts.append((dataset.x_test, dataset.y_test))
    x = np.concatenate([np.asarray(x).reshape(len(x), -1) for x, _ in parts])
    y = np.concatenate([np.asarray(y).ravel() for _, y in parts])
    names = list(dataset.feature_names)
    if len(names) != x.shape[1]:
        names = [f"x{i}" for i in range(x.shape[1])]
    if target in names:
        raise UserError(f"{target!r} is already a feature of {dataset.name}: pick another target")
    frame = pd.DataFrame(x, columns=names)
    if dataset.task == "classification" and dataset.class_names:
        frame[target] = np.asarray(dataset.class_names)[y.astype(np.int64)]
    else:
        frame[target] = y
    return frame


def profile(table: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Per column: dtype, missing values, distinct values; and a text report with describe()."""
    columns = pd.DataFrame(
        {
            "column": table.columns.astype(str),
            "dtype": table.dtypes.astype(str).to_numpy(),
            "missing": table.isna().sum().to_numpy(),
            "distinct": table.nunique().to_numpy(),
        }
    )
    rows, width = table.shape
    text = "\n\n".join(
        [
            f"shape: {rows} rows x {width} columns",
            columns.to_string(index=False),
            table.describe(include="all").to_string(),
        ]
    )
    return columns, text + "\n"


def test_rows(dataset: Dataset, options: PrepareOptions) -> np.ndarray:
    """Which rows of `dataset` the prepare step puts in the test set: the same split, run on
    row numbers instead of features (the split looks only at the row count and labels)."""
    if dataset.x_test is not None:
        raise ValueError(f"{dataset.name} comes with its own test set")
    parts = row_split(dataset, options)
    return np.asarray(parts.x_test)


def decoded(dataset: Dataset, encoded: np.ndarray) -> np.ndarray:
    """Labels in the data's own terms: class names, or numbers in the target's units."""
    if dataset.task == "classification":
        return np.asarray(dataset.class_names)[class_indices(encoded)]
    return np.asarray(encoded).ravel()


def with_predictions(
    rows: pd.DataFrame, dataset: Dataset, options: PrepareOptions, predictions: np.ndarray
) -> pd.DataFrame:
    """The test set's rows as they were in the file (`rows` are the data set's rows, in
    order), plus `true` and `predicted` target columns."""
    index = test_rows(dataset, options)
    out = rows.iloc[index].reset_index(drop=True)
    out["true"] = decoded(dataset, np.asarray(dataset.y_train)[index])
    out["predicted"] = decoded(dataset, predictions)
    return out
