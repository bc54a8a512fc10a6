"""Search spaces (lessons 66-67): ranges and choices of build and fit options.

Each model family carries its space (`steps.model.families`); `narrowed` applies a run's
`-P space=units=16:128,dropout=0:0.5,optimizer=adam|sgd` to it and `suggest` draws one
configuration from an Optuna trial.
"""

from __future__ import annotations

from dataclasses import dataclass

from steps.errors import UserError
from steps.train.options import FOLD_MODES


@dataclass(frozen=True)
class IntRange:
    low: int
    high: int
    log: bool = False

    def text(self) -> str:
        return f"{self.low}:{self.high}" + (" (log)" if self.log else "")

    def ends(self) -> tuple:
        return self.low, self.high


@dataclass(frozen=True)
class FloatRange:
    low: float
    high: float
    log: bool = False

    def text(self) -> str:
        return f"{self.low:g}:{self.high:g}" + (" (log)" if self.log else "")

    def ends(self) -> tuple:
        return self.low, self.high


@dataclass(frozen=True)
class Choice:
    options: tuple

    def text(self) -> str:
        return "|".join(map(str, self.options))

    def ends(self) -> tuple:
        return self.options


Dimension = IntRange | FloatRange | Choice
Space = dict[str, Dimension]

# What every family searches besides its own build options.
FIT_SPACE: Space = {
    "learning_rate": FloatRange(1e-4, 3e-2, log=True),
    "optimizer": Choice(("adam", "rmsprop", "nadam", "sgd")),
    "batch_size": Choice((16, 32, 64, 128)),
}
# Searched only where `-P space=` names them: how the small-data fit is made (the study's
# default is the run's own `-P folds=` and `-P fold_mode=`).
OPTIONAL_SPACE: Space = {
    "folds": Choice((0, 5)),
    "fold_mode": Choice(FOLD_MODES),
}


def narrowed(space: Space, text: str, family: str) -> Space:
    """`space` with `name=low:high`, `name=a|b|c` or `name=value` overrides from `text`,
    which may add the OPTIONAL_SPACE dimensions."""
    space = dict(space)
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep or not value:
            raise UserError(f"bad space entry {item!r}: use name=low:high, name=a|b or name=value")
        default = space.get(name, OPTIONAL_SPACE.get(name))
        if default is None:
            names = ", ".join([*space, *OPTIONAL_SPACE])
            raise UserError(f"{name!r} is not searched for model {family}; choose from {names}")
        space[name] = override(name, default, value)
    return space


def override(name: str, default: Dimension, value: str) -> Dimension:
    kind = int if isinstance(default, IntRange) else float
    if isinstance(default, Choice):
        kind = type(default.options[0])
    try:
        if ":" in value and not isinstance(default, Choice):
            low, high = (kind(part) for part in value.split(":", 1))
            if low > high or (default.log and low <= 0):
                raise ValueError
            return type(default)(low, high, default.log)
        # one value fixes the parameter; a|b|c lists the choices
        return Choice(tuple(kind(part) for part in value.split("|")))
    except ValueError:
        raise UserError(
            f"bad space value {value!r} for {name}: use low:high (low <= high) or a|b|c"
        ) from None


def describe(space: Space) -> str:
    return ", ".join(f"{name}={dim.text()}" for name, dim in space.items())


def suggest(trial, space: Space) -> dict[str, object]:
    """One configuration drawn by the study's sampler."""
    chosen: dict[str, object] = {}
    for name, dim in space.items():
        if isinstance(dim, IntRange):
            chosen[name] = trial.suggest_int(name, dim.low, dim.high, log=dim.log)
        elif isinstance(dim, FloatRange):
            chosen[name] = trial.suggest_float(name, dim.low, dim.high, log=dim.log)
        else:
            chosen[name] = trial.suggest_categorical(name, list(dim.options))
    return chosen
