"""Tables as users have them, generated: missing values in several columns, text categories
(common, rare, and one the training never sees), dates, a name on every row, numbers written
with thousands separators, rows without a target; saved as a spreadsheet program would
(an encoding, a separator)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

CITIES = ("Seoul", "Busan", "Incheon", "Daegu")
RARE_CITY = "Jeju"  # a handful of rows: shares the slot of unseen categories
UNSEEN_CITY = "Ulsan"  # in no row of the file: only in the rows scored afterwards
KOREAN_CITIES = {
    "Seoul": "서울",
    "Busan": "부산",
    "Incheon": "인천",
    "Daegu": "대구",
    "Jeju": "제주",
}


def customers(rows: int = 240, seed: int = 0) -> pd.DataFrame:
    """Who bought (`bought`, yes/no) from their age, income, city, plan and sign-up month,
    with a name per row, missing values in age, income, city and signup, and two rows with
    no target. A linear model on one-hot cities and raw months does well; so must the net."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, rows).astype(float)
    income = rng.normal(52_000, 18_000, rows).round(-2).clip(8_000, None)
    city = rng.choice(CITIES, rows, p=(0.4, 0.25, 0.2, 0.15)).astype(object)
    city[rng.choice(rows, 6, replace=False)] = RARE_CITY
    plan = rng.choice(("basic", "plus", "pro"), rows)
    member = rng.random(rows) < 0.4
    signup = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 730, rows), unit="D")
    score = (
        0.06 * (age - 45)
        + (income - 52_000) / 9_000
        + np.select([city == "Seoul", city == "Busan"], [1.5, -1.0], 0.0)
        + np.where(plan == "pro", 1.0, 0.0)
        + np.where(member, 0.8, 0.0)
        + np.where(signup.month.isin([11, 12]), 1.2, 0.0)
    )
    bought = np.where(score + rng.normal(0, 0.6, rows) > 0.3, "yes", "no").astype(object)
    table = pd.DataFrame(
        {
            "customer": [f"customer {i:04d}" for i in rng.permutation(rows)],
            "signup": signup.strftime("%Y-%m-%d").to_numpy(dtype=object),
            "age": age,
            "income": income,
            "city": city,
            "plan": plan,
            "member": member,
            "bought": bought,
        }
    )
    for column, count in (("age", 20), ("income", 15), ("city", 12), ("signup", 8)):
        table.loc[rng.choice(rows, count, replace=False), column] = np.nan
    table.loc[rng.choice(rows, 2, replace=False), "bought"] = np.nan
    return table


def write(table: pd.DataFrame, path: Path, *, encoding: str = "utf-8", sep: str = ",") -> Path:
    """As a spreadsheet saves it: incomes as "52,300" (quoted where the separator is a comma),
    whole numbers without ".0", missing values as empty cells."""
    out = table.copy()
    for column, spelt in (("income", "{:,.0f}"), ("age", "{:.0f}")):
        if column in out:
            out[column] = out[column].map(lambda v, f=spelt: written(v, f))
    out.to_csv(path, index=False, encoding=encoding, sep=sep, quoting=csv.QUOTE_MINIMAL)
    return path


def written(value: object, spelling: str) -> str:
    """A number as `spelling` writes it; text (already written) and missing values as is."""
    if isinstance(value, str):
        return value
    return "" if pd.isna(value) else spelling.format(value)


def korean(table: pd.DataFrame) -> pd.DataFrame:
    """The same customers with Korean column names and city names (for a cp949 file)."""
    out = table.rename(columns={"customer": "고객", "city": "도시", "bought": "구매"})
    out["도시"] = out["도시"].map(KOREAN_CITIES)
    return out


def sales_series(rows: int = 120, seed: int = 0) -> pd.DataFrame:
    """Daily sales with a weekly cycle and a trend, dated, its rows shuffled (a user's
    export in no particular order), one missing temperature."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2024-01-01", periods=rows, freq="D")
    temperature = 10 + 8 * np.sin(np.arange(rows) / 20) + rng.normal(0, 1, rows)
    sales = 100 + 0.5 * np.arange(rows) + 15 * (days.dayofweek >= 5) + rng.normal(0, 3, rows)
    table = pd.DataFrame(
        {"day": days.strftime("%Y-%m-%d"), "temperature": temperature.round(1), "sales": sales}
    )
    table.loc[7, "temperature"] = np.nan
    return table.sample(frac=1.0, random_state=seed).reset_index(drop=True)
