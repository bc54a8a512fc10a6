"""Reading a table as spreadsheet programs write it, and saying what each column is.

A CSV saved by a spreadsheet may be UTF-8 (with or without a byte-order mark), a legacy code
page (cp949 for Korean, Latin-1 for western Europe), separated by `,`, `;` or tabs, with
numbers written with thousands separators ("1,234"), or with a decimal comma ("70,5") where
`;`, tabs or `|` separate the fields, and dates as text. `read_table` finds
the encoding and separator (or takes them from `-P encoding=` and `-P sep=`) and reads such
numbers as numbers; `column_kinds` says which columns are numbers, true/false values, dates
(and in which format) or categories, and which are left out: named by `-P drop_columns=`, or
text with a distinct value on almost every row (a name, an id, free text), unless
`-P keep_columns=` keeps them.
"""

from __future__ import annotations

import csv
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from steps.data import raw_rows
from steps.data.options import SEPARATOR_WORDS
from steps.errors import UserError

# Tried in order: strict UTF-8 (a BOM is skipped), then the legacy code pages. Latin-1 decodes
# any bytes, so it comes last.
ENCODINGS = ("utf-8", "cp949", "latin-1")
CANDIDATE_SEPARATORS = (",", ";", "\t", "|")
# A text column with more distinct values than this share of its rows (and more than the
# floor) names or describes each row (an id, a name, free text): it is not a category.
TEXT_DISTINCT_SHARE, TEXT_DISTINCT_FLOOR = 0.5, 20
THOUSANDS = re.compile(r"^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$|^[-+]?\d+(\.\d+)?$")
# Where the fields are not separated by commas, a spreadsheet of a decimal-comma locale
# writes "1.234,5": points group thousands and the comma marks the decimals.
DECIMAL_COMMA = re.compile(r"^[-+]?\d{1,3}(\.\d{3})*(,\d+)?$|^[-+]?\d+(,\d+)?$")
# "1,200" reads either way; "70,5", "0,1250" or "1.234,5" only with a decimal comma.
ONLY_DECIMAL_COMMA = re.compile(r",(?:\d{1,2}|\d{4,})$|\.\d{3},")
DATE_LIKE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2})?)?$")
# Date formats tried in order; the first that reads every value of a column is its format.
DATE_FORMATS = ("ISO8601", "%d.%m.%Y", "%m/%d/%Y", "%d/%m/%Y", "%Y/%m/%d", "%Y.%m.%d")


@dataclass(frozen=True)
class ReadTable:
    """The table, and how it was read: the encoding (`utf-8-sig`: UTF-8 with a byte-order
    mark) and separator found or given."""

    frame: pd.DataFrame
    encoding: str
    sep: str
    # Number columns pandas alone reads as text ("1,234"): a model takes them as text too.
    written_as_text: tuple[str, ...] = ()
    decimal: str = "."  # "," where the file writes "70,5"


@dataclass(frozen=True)
class Columns:
    """What each feature column is; `left_out`: the columns not learnt from, and why."""

    numbers: tuple[str, ...] = ()
    booleans: tuple[str, ...] = ()
    dates: dict[str, str] = field(default_factory=dict)  # name -> its format
    categories: tuple[str, ...] = ()
    left_out: dict[str, str] = field(default_factory=dict)

    @property
    def used(self) -> tuple[str, ...]:
        return (*self.numbers, *self.booleans, *self.dates, *self.categories)


def decode(data: bytes, path: Path, encoding: str) -> tuple[str, str]:
    """The file's text and the encoding it was read with."""
    if encoding:
        try:
            return data.decode(encoding), encoding
        except LookupError:
            raise UserError(
                f"unknown encoding {encoding!r}; give e.g. utf-8, cp949 or latin-1"
            ) from None
        except UnicodeDecodeError as exc:
            raise UserError(
                f"cannot read {path} as {encoding}: {exc.reason} at byte {exc.start}; "
                "leave -P encoding= empty to find it"
            ) from None
    for candidate in ENCODINGS:
        try:
            text = data.decode(candidate)
        except UnicodeDecodeError:
            continue
        if candidate == "utf-8" and text.startswith("\ufeff"):
            return text[1:], "utf-8-sig"
        return text, candidate
    raise AssertionError("latin-1 decodes any bytes")


def separator(text: str, given: str) -> str:
    """The given separator, else the candidate splitting the first lines into the same
    number of fields, the most of them (a table of one column: ',')."""
    if given:
        sep = SEPARATOR_WORDS.get(given, given)
        if sep not in CANDIDATE_SEPARATORS:
            raise UserError(
                f"bad value {given!r} for sep: choose one of comma, semicolon, tab or pipe "
                "(or ',', ';', '|'), or leave it empty to find it"
            )
        return sep
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    best, widest = ",", 1
    for candidate in CANDIDATE_SEPARATORS:
        widths = {len(row) for row in csv.reader(lines, delimiter=candidate)}
        if len(widths) == 1 and (width := widths.pop()) > widest:
            best, widest = candidate, width
    return best


def read_table(path: Path, *, sep: str = "", encoding: str = "") -> ReadTable:
    """The file as a DataFrame, or a UserError saying why it cannot be read."""
    import io

    if path.stat().st_size == 0:
        raise UserError(f"{path} is empty; a CSV needs a header row and data rows")
    text, used = decode(path.read_bytes(), path, encoding)
    sep = separator(text, sep)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep)
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        raise UserError(f"cannot read {path} as CSV: {exc}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    decimal = "," if sep != "," and writes_decimal_commas(frame) else "."
    numbers = numbers_written_as_text(frame, decimal)
    converted = tuple(c for c in frame.columns if numbers[c].dtype != frame[c].dtype)
    return ReadTable(numbers, used, sep, converted, decimal)


def writes_decimal_commas(frame: pd.DataFrame) -> bool:
    """Some text column holds only numbers, one of them written as only a decimal comma
    writes it ("70,5", "1.234,5"); "1,200" alone stays a thousands separator."""
    for column in frame.columns:
        if is_text_column(frame[column]):
            present = frame[column].dropna().astype(str).str.strip()
            numbers = present.str.fullmatch(DECIMAL_COMMA)
            if len(present) and numbers.all() and present.str.contains(ONLY_DECIMAL_COMMA).any():
                return True
    return False


def numbers_written_as_text(frame: pd.DataFrame, decimal: str = ".") -> pd.DataFrame:
    """Text columns whose every value is a number, some written as "1,234" (or, with a
    decimal comma, "1.234,5"), as numbers."""
    pattern = DECIMAL_COMMA if decimal == "," else THOUSANDS
    frame = frame.copy()
    for column in frame.columns:
        values = frame[column]
        if not is_text_column(values):
            continue
        present = values.dropna().astype(str).str.strip()
        if len(present) and present.str.fullmatch(pattern).all():
            frame[column] = raw_rows.as_numbers(values, decimal)
    return frame


def is_text_column(values: pd.Series) -> bool:
    return values.dtype == object or isinstance(values.dtype, pd.StringDtype)


def date_format(values: pd.Series) -> str | None:
    """The format every present value of a text column parses with as a date, or None."""
    present = values.dropna().astype(str).str.strip()
    if present.empty or not present.str.fullmatch(DATE_LIKE).all():
        return None
    for candidate in DATE_FORMATS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(present, format=candidate, errors="coerce")
        if parsed.notna().all():
            return candidate
    return None


def unknown_names(names: tuple[str, ...], frame: pd.DataFrame, parameter: str) -> None:
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise UserError(
            f"{parameter} names {', '.join(map(repr, missing))}, not a column of the file; its "
            f"columns are {', '.join(map(str, frame.columns))}"
        )


def column_kinds(
    frame: pd.DataFrame,
    target: str,
    *,
    drop: tuple[str, ...] = (),
    keep: tuple[str, ...] = (),
) -> Columns:
    """What each column besides `target` is, in the file's order (see the module's text)."""
    unknown_names(drop, frame, "drop_columns")
    unknown_names(keep, frame, "keep_columns")
    numbers, booleans, categories = [], [], []
    dates: dict[str, str] = {}
    left_out: dict[str, str] = {}
    rows = len(frame)
    for column in frame.columns:
        values = frame[column]
        if column == target:
            continue
        if column in drop:
            left_out[column] = "dropped by drop_columns"
        elif values.isna().all():
            left_out[column] = "no values"
        elif pd.api.types.is_bool_dtype(values):
            booleans.append(column)
        elif pd.api.types.is_numeric_dtype(values):
            numbers.append(column)
        elif fmt := date_format(values):
            dates[column] = fmt
        else:
            distinct = int(values.nunique())
            many = distinct > max(TEXT_DISTINCT_FLOOR, TEXT_DISTINCT_SHARE * rows)
            if many and column not in keep:
                left_out[column] = (
                    f"text with {distinct} distinct values in {rows} rows (an id, a name or "
                    "free text, not a category; keep_columns keeps it)"
                )
            else:
                categories.append(column)
    return Columns(tuple(numbers), tuple(booleans), dates, tuple(categories), left_out)
