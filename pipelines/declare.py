"""How a parameter is declared and checked: the marks a declaration carries (allowed values,
text to split, what 0 means, a file's kind) and the one validation loop whose messages say, in
words, what each parameter takes, and the command line built from the declarations, which
refuses a bad argument in one line. The tables themselves are in `pipelines.params`.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import annotated_types as at
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import core_schema

from steps.errors import UserError
from steps.secrets import holds_password, redacted
from steps.track.param_text import param_text


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line naming it and exit code 2."""

    def error(self, message: str):
        raise UserError(f"{message} (see `python -m pipelines {self.prog.split()[-1]} --help`)")


def command_line(
    kind: type[BaseModel],
    prog: str,
    description: str,
    names: tuple[str, ...],
    defaults: Mapping[str, object],
    narrow: Mapping[str, tuple] | None = None,
) -> OneLineParser:
    """`--name VALUE` for each of `names`, its help from the declaration: what it is, what it
    takes (narrowed), its default; a name without one in `defaults` must be given. Values stay
    text: `validate` checks them, in the declaration's words."""
    parser = OneLineParser(prog=prog, description=description, argument_default=argparse.SUPPRESS)
    for name in names:
        takes = rule(kind, name, (narrow or {}).get(name, ())).removeprefix("use ")
        default = param_text(defaults[name]) if name in defaults else None
        meaning, given = described(kind.model_fields[name].description or "", default)
        parser.add_argument(
            f"--{name}",
            metavar=metavar(kind.model_fields[name].annotation),
            required=name not in defaults,
            help=f"{meaning}{': ' if takes else ''}{takes}{given}",
        )
    return parser


DESCRIBED_DEFAULT = re.compile(r" \(default: [^)]*\)")


def described(description: str, default: str | None) -> tuple[str, str]:
    """The help's meaning and its one default: `(required)` without one; the description's
    own `(default: ...)` when the value is empty (it says what empty stands for); else the
    value, and the description without its own."""
    if default is None:
        return description, " (required)"
    if not default and DESCRIBED_DEFAULT.search(description):
        return description, ""
    return DESCRIBED_DEFAULT.sub("", description), f" (default: {default or repr('')})"


def defaults_of(kind: type[BaseModel]) -> dict[str, object]:
    """The declared defaults; a parameter without one must be given."""
    return {name: i.default for name, i in kind.model_fields.items() if not i.is_required()}


def metavar(annotation: object) -> str:
    return {int: "INT", float: "NUMBER", bool: "BOOL", Path: "PATH"}.get(annotation, "TEXT")


@dataclass(frozen=True)
class OneOf:
    """The allowed values: a tuple, or a function giving them now (model families can be
    registered at run time)."""

    values: tuple | Callable[[], tuple]

    def allowed(self) -> tuple:
        return self.values() if callable(self.values) else self.values

    def rule(self) -> str:
        return f"choose one of {', '.join(str(v) for v in self.allowed() if v != '')}"

    def __get_pydantic_core_schema__(self, source: Any, handler) -> Any:
        def check(value):
            if value not in self.allowed():
                raise ValueError(self.rule())
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))


@dataclass(frozen=True)
class Parsed:
    """A parameter given as one text and split (comma lists, sizes) before its parts are
    checked; `describe` says what it takes."""

    parse: Callable[[str], tuple]
    describe: str | Callable[[], str]

    def rule(self) -> str:
        return self.describe() if callable(self.describe) else self.describe

    def __get_pydantic_core_schema__(self, source: Any, handler) -> Any:
        def parse(value):
            return self.parse(value) if isinstance(value, str) else value

        return core_schema.no_info_before_validator_function(parse, handler(source))


@dataclass(frozen=True)
class ZeroOr:
    """0 (meaning `zero`), or at least `least` (a gap: 1..least-1 is refused)."""

    least: int
    zero: str

    def rule(self) -> str:
        return f"use 0 ({self.zero}) or {self.least} or more"

    def __get_pydantic_core_schema__(self, source: Any, handler) -> Any:
        def check(value):
            if value != 0 and value < self.least:
                raise ValueError(self.rule())
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))


@dataclass(frozen=True)
class Zero:
    """What 0 means for a count or a penalty (`patience` 0: off), for the help and messages."""

    meaning: str


@dataclass(frozen=True)
class NoPassword:
    """A URL that names no password: `mlflow run` would store and print it with the run."""

    def rule(self) -> str:
        return (
            "leave the password out of the URL: libpq reads it from PGPASSWORD or ~/.pgpass "
            "(or give the whole URL in OPTUNA_STORAGE)"
        )

    def __get_pydantic_core_schema__(self, source: Any, handler) -> Any:
        def check(value):
            if holds_password(value):
                raise ValueError(self.rule())
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))


@dataclass(frozen=True)
class ModelName:
    """A registered model's name as MLflow takes it, or '' for none."""

    def rule(self) -> str:
        return "give a name without / or : (or nothing, to register no model)"

    def __get_pydantic_core_schema__(self, source: Any, handler) -> Any:
        def check(value):
            if "/" in value or ":" in value or (value and not value.strip()):
                raise ValueError(self.rule())
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))


class Refused(ValueError):
    """A mark's refusal in its own words, where the mark has more than one (a file of the
    wrong kind, or one that is not there): the message says which."""


@dataclass(frozen=True)
class FileName:
    """A file named by one of `suffixes` (`kinds` says them in words, "a .csv file");
    `existing`: the file must be there (an input), else the folder it is written to."""

    suffixes: tuple[str, ...]
    kinds: str
    existing: bool = False

    def rule(self) -> str:
        return f"give {self.kinds}"

    def problem(self, path: Path) -> str:
        if path.suffix not in self.suffixes:
            return self.rule()
        if self.existing and not path.is_file():
            return "no such file"
        if not self.existing and not path.resolve().parent.is_dir():
            return "its folder does not exist"
        return ""

    def __get_pydantic_core_schema__(self, source: Any, handler) -> Any:
        def check(value):
            problem = self.problem(Path(value))
            if problem:
                raise Refused(problem)
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))


@dataclass(frozen=True)
class Distinct:
    """Each entry of a list once."""

    def __get_pydantic_core_schema__(self, source: Any, handler) -> Any:
        def check(value):
            if len(set(value)) != len(value):
                raise ValueError("an entry listed twice")
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))


def commas(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def height_width(text: str) -> tuple[str, ...]:
    sides = commas(text)
    return sides * 2 if len(sides) == 1 else sides


def names_of(allowed: OneOf) -> Any:
    """A comma list of names from `allowed`, each once."""

    def describe() -> str:
        return f"give a comma list of {', '.join(allowed.allowed())}, each once"

    return Annotated[
        tuple[Annotated[str, allowed], ...], Parsed(commas, describe), at.MinLen(1), Distinct()
    ]


# The kinds of list and size a parameter can be, each with what it takes in words.
Counts = Annotated[
    tuple[Annotated[int, at.Ge(1)], ...], Parsed(commas, "give counts like 32,64"), at.MinLen(1)
]
Numbers = Annotated[
    tuple[Annotated[float, at.Gt(0)], ...],
    Parsed(commas, "give numbers above 0 like 0.001,0.01"),
    at.MinLen(1),
]
Values = Annotated[tuple[float, ...], Parsed(commas, "give numbers like 101,102,103"), at.MinLen(1)]
Size = Annotated[
    tuple[Annotated[int, at.Ge(1)], Annotated[int, at.Ge(1)]],
    Parsed(height_width, "give a size like 64 or 64,48"),
]


def rule(kind: type[BaseModel], name: str, narrowed: tuple = ()) -> str:
    """What `name` takes, in words, from its declaration (and an entry point's narrowing)."""
    info = kind.model_fields[name]
    marks = tuple(info.metadata)
    for mark in (*narrowed, *marks):
        if isinstance(mark, OneOf | Parsed | ZeroOr | NoPassword | ModelName | FileName):
            return mark.rule()
    if info.annotation is bool:
        return "use true or false"
    low = high = None
    for mark in (*marks, *narrowed):  # a narrowing wins over the declaration
        for key in ("ge", "gt"):
            low = (key, getattr(mark, key)) if hasattr(mark, key) else low
        for key in ("le", "lt"):
            high = (key, getattr(mark, key)) if hasattr(mark, key) else high
    if info.annotation is str:
        return "use a non-empty value" if any(isinstance(m, at.MinLen) for m in marks) else ""
    zero = next((m.meaning for m in marks if isinstance(m, Zero)), "")
    return number_rule(info.annotation, low, high, zero)


def number_rule(kind: type, low: tuple | None, high: tuple | None, zero: str) -> str:
    """'use 1 or more', 'use a number above 0 and below 1', 'use 0 (off) to 1'..."""
    if low is None and high is None:
        return "use a whole number" if kind is int else "use a number"
    start = "" if low is None else f"{low[1]}"
    if low == ("ge", 0) and zero:
        start = f"0 ({zero})"
    if high is None:
        return f"use {start} or more" if low[0] == "ge" else f"use a number above {start}"
    if low is None:
        return f"use a number {'up to' if high[0] == 'le' else 'below'} {high[1]}"
    if low[0] == "gt":
        return (
            f"use a number above {start} and {'at most' if high[0] == 'le' else 'below'} {high[1]}"
        )
    if high[0] == "le":
        return f"use {start} to {high[1]}"
    return f"use a number from {start} up to (not including) {high[1]}"


def shown(value: object) -> str:
    """A value as a user types it: numbers bare, text quoted, no password."""
    if isinstance(value, str):
        value = redacted(value)
        try:
            float(value)
        except ValueError:
            return repr(value)
        return value
    return repr(value) if not isinstance(value, bool) else param_text(value)


Kind = TypeVar("Kind", bound=BaseModel)


def validate(
    kind: type[Kind], values: Mapping[str, object], narrowing: Mapping[str, tuple] | None = None
) -> Kind:
    """`values` checked against the declarations (and an entry point's narrowing): the
    parameters, or a UserError naming the first bad one and what it takes."""
    try:
        params = kind.model_validate(dict(values))
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else ""
        if error["type"] == "extra_forbidden":
            raise UserError(f"unknown parameter {name!r}") from None
        value = values.get(name, error.get("input"))
        item = error["loc"][1] if len(error["loc"]) > 1 else None
        unknown = f"{error['input']!r} unknown; " if isinstance(item, int) else ""  # in a list
        refused = error.get("ctx", {}).get("error")
        words = str(refused) if isinstance(refused, Refused) else rule(kind, name)
        raise UserError(f"bad value {shown(value)} for {name}: {unknown}{words}") from None
    for name, marks in (narrowing or {}).items():
        value = getattr(params, name)
        try:
            TypeAdapter(Annotated[kind.model_fields[name].annotation, *marks]).validate_python(
                value
            )
        except ValidationError:
            shown_value = shown(values.get(name, value))
            raise UserError(
                f"bad value {shown_value} for {name}: {rule(kind, name, marks)}"
            ) from None
    return params
