"""Step options for tests that call steps directly: the declared parameters' defaults, with
the changes a test names (the option types themselves have no defaults)."""

from __future__ import annotations

from dataclasses import replace

from pipelines.params import Params
from steps.data.options import PrepareOptions
from steps.model.options import ModelOptions
from steps.options import TextOptions
from steps.train.options import FitOptions


def prepare_options(**changes: object) -> PrepareOptions:
    return replace(Params().prepare_options(), **changes)


def model_options(**changes: object) -> ModelOptions:
    return replace(Params().model_options(), **changes)


def fit_options(**changes: object) -> FitOptions:
    return replace(Params().fit_options(), **changes)


def text_options(**changes: object) -> TextOptions:
    return replace(Params().text_options(), **changes)
