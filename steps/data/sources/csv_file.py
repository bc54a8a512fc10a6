"""The user's own table: `csv:PATH` with `-P target=COLUMN` (lessons 58-59).

The file is read as spreadsheets write it (`steps/data/table_read.py`), its rows without a
target dropped, its columns typed, and its features made by a front fitted on the training
rows of the run's split (`steps/data/table_front.py`): the data set's samples are the front's
numbers, and `Dataset.front` keeps the front itself, with every raw row, so the logged model
takes the file's rows as they are.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from steps.data import checks
from steps.data.dataset import (
    Dataset,
    Source,
    encode_classes,
    existing_file,
    file_sha256,
    infer_task,
)
from steps.data.options import TableOptions
from steps.data.raw_rows import as_dates
from steps.data.table_front import Front, fit_transformer, missing_report, spec_of
from steps.data.table_read import Columns, column_kinds, read_table
from steps.errors import UserError

# What `csv:PATH` is read with where an entry point gives no table parameters: theirs.
DEFAULTS = TableOptions(
    missing="impute",
    sep="",
    encoding="",
    drop_columns=(),
    keep_columns=(),
    seed=42,
    val_fraction=0.2,
    test_fraction=0.2,
)


def read_csv_table(path: Path, options: TableOptions | None = None) -> pd.DataFrame:
    """The file as pandas reads it once its encoding and separator are known (lesson 58),
    or a UserError saying why it cannot be read."""
    options = options or DEFAULTS
    return read_table(path, sep=options.sep, encoding=options.encoding).frame


def labelled_rows(table: pd.DataFrame, path: Path, target: str) -> pd.DataFrame:
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


def complete_rows(table: pd.DataFrame, columns: Columns, path: Path, policy: str):
    """The rows `policy` learns from: all (impute), those with every feature (drop), or all
    when none misses one (refuse: else a UserError as the numbers' check words it)."""
    missing = table[list(columns.used)].isna()
    if policy == "impute" or not missing.to_numpy().any():
        return table
    if policy == "drop":
        return table[~missing.any(axis=1)].reset_index(drop=True)
    mask = missing.to_numpy()
    count = int(mask.sum())
    place = checks.located(mask, "x", True, tuple(columns.used))
    verb = "is" if count == 1 else "are"
    raise UserError(
        f"{path}: {checks.plural(count, 'value')} {verb} NaN {place}; fill or drop them "
        "(or -P missing=impute or drop)"
    )


def training_rows(y: np.ndarray, task: str, options: TableOptions) -> np.ndarray:
    """The row numbers the prepare step will train on."""
    from steps.data.prepare import row_split

    try:
        return np.asarray(row_split(Dataset("rows", task, np.arange(len(y)), y), options).x_train)
    except UserError:  # too few rows to split: prepare says so; fit on every row meanwhile
        return np.arange(len(y))


def in_time_order(raw: pd.DataFrame, columns: Columns) -> tuple[pd.DataFrame, Columns, str]:
    """A series' rows sorted by its first date column, which orders them and is no input;
    the column's values become ISO dates."""
    if not columns.dates:
        return raw, columns, ""
    name, fmt = next(iter(columns.dates.items()))
    order = as_dates(raw[name], fmt)
    sorting = np.argsort(order.to_numpy(), kind="stable")
    raw = raw.iloc[sorting].reset_index(drop=True)
    raw[name] = order.iloc[sorting].dt.strftime("%Y-%m-%d").to_numpy()
    dates = {k: v for k, v in columns.dates.items() if k != name}
    left_out = {**columns.left_out, name: "the date that orders the series"}
    return raw, replace(columns, dates=dates, left_out=left_out), name


def table_dataset(path: Path, target: str, options: TableOptions, series: bool = False) -> Dataset:
    """The file's rows with a target as a data set (see the module's text). `series`: rows
    in time order (`in_time_order`), the front fitted on all of them (windows are split
    after they are cut)."""
    read = read_table(path, sep=options.sep, encoding=options.encoding)
    raw = read.frame
    labelled_rows(raw, path, target)  # a missing target column, or no labelled row: say so
    columns = column_kinds(raw, target, drop=options.drop_columns, keep=options.keep_columns)
    order = ""
    if series:
        raw, columns, order = in_time_order(raw, columns)
    if not columns.used:
        raise UserError(f"{path} has no column besides the target {target!r} to learn from")
    table = labelled_rows(raw, path, target)
    without_target = len(raw) - len(table)
    table = complete_rows(table, columns, path, options.missing)
    y = table[target].to_numpy()
    task = infer_task(y)
    names: tuple[str, ...] = ()
    if task == "classification":
        y, names = encode_classes(y)
    spec = spec_of(columns, options.missing, read.written_as_text, read.decimal)
    rows = table.drop(columns=[target])
    fitting = np.arange(len(y)) if series else training_rows(y, task, options)
    fitted = fit_transformer(spec, rows.iloc[fitting])
    report = {
        "encoding": read.encoding,
        "sep": read.sep,
        "decimal": read.decimal,
        "left_out": columns.left_out,
        "without_target": without_target,
        "dropped_rows": len(raw) - without_target - len(table),
        "missing": missing_report(spec, fitted, rows).to_dict("list"),
        "order": order,
    }
    front = Front(fitted, spec, table, report)
    return Dataset(
        name=path.stem,
        task=task,
        x_train=front.encode(rows),
        y_train=y,
        class_names=names,
        feature_names=front.feature_names(),
        front=front.to_array(),
    )


def source(
    path: Path, target: str = "", options: TableOptions | None = None, series: bool = False
) -> Source:
    """`-P dataset=csv:PATH -P target=COLUMN`: features from the front, the target's task
    inferred; `series`: a time series (`table_dataset`)."""
    path = existing_file(path, "csv")
    if not target:
        raise UserError(f"csv:{path} needs the column to predict: add -P target=COLUMN")
    options = options or DEFAULTS
    key = f"{file_sha256(path)}-target={target}-{options}-series={series}"
    return Source(
        name=path.stem, key=key, load=lambda: table_dataset(path, target, options, series)
    )
