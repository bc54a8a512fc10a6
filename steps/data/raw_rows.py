"""Raw table rows -> the numbers a network takes: the same code at training and at prediction.

A table's model takes the rows as they are in the file: columns by name, numbers, text,
dates, true/false values, missing values included. Between those rows and the network stand
a scikit-learn ColumnTransformer fitted on the training rows (`steps/data/table_front.py`:
median and was-missing indicator for numbers, a "missing" category and one-hot categories
with a slot for rare and unseen ones) and, before it, what needs no fitting: dates as
calendar features. The network's own first layer then standardizes the result (fitted on the
training rows too).

This file travels inside every logged table model (its `code/` folder, beside
`quiet_pyfunc.py`) and is imported there as `raw_rows`: it imports nothing from this project.
`spec` is a plain dict, stored as JSON beside the fitted transformer:
{"numbers": [...], "booleans": [...], "dates": {name: format}, "categories": [...],
"missing": "impute" | "drop" | "refuse", "decimal": "." | ","}.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

CALENDAR = ("year", "month", "weekday_sin", "weekday_cos", "yearday_sin", "yearday_cos")


def calendar(dates: pd.Series, name: str) -> pd.DataFrame:
    """Year and month as numbers; day of week and day of year as points on a circle, so
    Sunday sits next to Monday and 31 December next to 1 January. Missing dates: NaN."""
    weekday = dates.dt.dayofweek.astype("float64")
    yearday = dates.dt.dayofyear.astype("float64") - 1
    days = np.where(dates.dt.is_leap_year, 366.0, 365.0)
    turn = 2 * np.pi
    return pd.DataFrame(
        {
            f"{name}_year": dates.dt.year.astype("float64"),
            f"{name}_month": dates.dt.month.astype("float64"),
            f"{name}_weekday_sin": np.sin(turn * weekday / 7),
            f"{name}_weekday_cos": np.cos(turn * weekday / 7),
            f"{name}_yearday_sin": np.sin(turn * yearday / days),
            f"{name}_yearday_cos": np.cos(turn * yearday / days),
        },
        index=dates.index,
    )


def as_dates(values: pd.Series, fmt: str) -> pd.Series:
    """A date column's values as datetimes (missing or unreadable: NaT)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pd.to_datetime(values.astype("string").str.strip(), format=fmt, errors="coerce")


def as_numbers(values: pd.Series, decimal: str = ".") -> pd.Series:
    """Numbers (true/false as 1/0); text such as "1,234" read as 1234 (with a decimal comma,
    "1.234,5" as 1234.5); anything else NaN."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    text = values.astype("string").str.strip()
    if decimal == ",":
        text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        text = text.str.replace(",", "", regex=False)
    words = text.str.lower().map({"true": "1", "false": "0"})
    return pd.to_numeric(words.fillna(text), errors="coerce").astype("float64")


def as_text(values: pd.Series) -> pd.Series:
    """Categories as text (a number read as 3.0 and a written 3 alike); missing: NaN."""
    present = values.notna()
    text = values.astype(object).where(~present, values[present].map(category_text))
    return text.where(present, np.nan).astype(object)


def category_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def features(spec: dict, rows: pd.DataFrame) -> pd.DataFrame:
    """The columns the fitted transformer takes: numbers, true/false values as 1/0, each date
    as its calendar features, categories as text."""
    wanted = [*spec["numbers"], *spec["booleans"], *spec["dates"], *spec["categories"]]
    absent = [name for name in wanted if name not in rows.columns]
    if absent:
        raise ValueError(
            f"the rows lack the column(s) {', '.join(map(repr, absent))}; the model takes "
            f"{', '.join(wanted)}"
        )
    decimal = spec.get("decimal", ".")
    parts = [
        as_numbers(rows[name], decimal).rename(name)
        for name in (*spec["numbers"], *spec["booleans"])
    ]
    parts += [calendar(as_dates(rows[name], fmt), name) for name, fmt in spec["dates"].items()]
    parts += [as_text(rows[name]).rename(name) for name in spec["categories"]]
    if not parts:
        return pd.DataFrame(index=rows.index)
    return pd.concat(parts, axis=1)


def refuse_missing(spec: dict, table: pd.DataFrame) -> None:
    """A model trained without imputing (missing=drop or refuse) scores complete rows only."""
    if spec.get("missing", "impute") == "impute":
        return
    counts = table.isna().sum()
    counts = counts[counts > 0]
    if len(counts):
        shown = ", ".join(f"{name!r} ({count})" for name, count in counts.items())
        raise ValueError(
            f"missing values in {shown}; this model was trained with missing="
            f"{spec['missing']} and scores complete rows only"
        )


def matrix(spec: dict, transformer, rows: pd.DataFrame) -> np.ndarray:
    """The float32 values the network takes for `rows` (a DataFrame of the raw columns)."""
    table = features(spec, rows)
    refuse_missing(spec, table)
    return np.asarray(transformer.transform(table), dtype=np.float32)
