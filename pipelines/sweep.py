"""Sweeps: any number, switch, choice or data set given as a comma list trains one child run
per value (per combination, for several lists) under one parent run, which logs the
comparison table, one chart of the test score, size and time, and every variant's curves.

Lessons 09 (a deeper DNN scores worse: `-P layers=1,4,8`), 53 (ModelCheckpoint on several
data sets: `-P dataset=iris,wine,...`), 73 (BatchNormalization at two learning rates, glorot
against He initialisation, no/L1/L2 penalties) and 77 (several pretrained bases:
`-P base=mobilenet_v2,resnet50`). Entry points that already compare inside one run
(compare_models, optimizers, tune...) take single values. Sweeps over depths (09) and
BatchNormalization (73) end with the lesson's verdict; with a seed list too
(`-P seed=1,2,3`), each value is judged by its mean over the seeds and its spread.

    mlflow run . -e dnn_regression --env-manager local -P layers=1,4,8 -P seed=1,2,3
    mlflow run . -e image_classify --env-manager local -P model=dnn -P layers=2 \
        -P batch_norm=false,true -P learning_rate=0.001,0.03
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipelines.declare import OneOf, commas
from pipelines.params import Params
from steps.errors import UserError

if TYPE_CHECKING:
    from pipelines.entry_points import EntryPoint
    from steps.track.tracker import Tracker

MAX_VARIANTS = 64
# Chosen at import (the backend), or what a sweep cannot give each child (its own backups).
NEVER_SWEPT = ("backend", "resume")


@dataclass(frozen=True)
class Variant:
    name: str  # the child run's name: `layers=4 learning_rate=0.01`
    key: str  # the same as a metric-name suffix: `layers_4_learning_rate_0.01`
    changes: dict[str, str]
    params: Params


def sweepable(name: str) -> bool:
    """Numbers, switches, choices and the data set; not lists, paths or free text."""
    if name in NEVER_SWEPT:
        return False
    info = Params.model_fields[name]
    chosen = any(isinstance(mark, OneOf) for mark in info.metadata)
    return name == "dataset" or chosen or info.annotation in (int, float, bool)


def lists(entry: EntryPoint, given: dict[str, object]) -> dict[str, tuple[str, ...]]:
    """The parameters given (or defaulted) as comma lists, in the order given."""
    values = given | {k: v for k, v in entry.defaults.items() if k not in given}
    return {
        name: commas(value)
        for name, value in values.items()
        if isinstance(value, str) and "," in value and sweepable(name)
    }


def variants(entry: EntryPoint, given: dict[str, object]) -> list[Variant]:
    """One checked `Params` per combination of the listed values; none for a plain run."""
    swept = lists(entry, given)
    if not swept or not entry.sweeps:  # its own lists (prepare_data's data sets) or values
        return []
    for name, values in swept.items():
        twice = next((v for v in values if values.count(v) > 1), None)
        if twice is not None:
            raise UserError(f"{name} lists {twice} twice: give each value once")
    count = math.prod(len(values) for values in swept.values())
    if count > MAX_VARIANTS:
        raise UserError(f"the sweep has {count} variants: give at most {MAX_VARIANTS}")
    if str(given.get("resume", "")).lower() == "true":
        raise UserError(
            "-P resume=true continues one interrupted run, not a sweep: run the sweep again, "
            "or resume one variant with single values"
        )
    from steps.track.compare import metric_key

    found = []
    for combination in itertools.product(*swept.values()):
        changes = dict(zip(swept, combination, strict=True))
        name = " ".join(f"{k}={v}" for k, v in changes.items())
        key = metric_key("_".join(f"{k}_{v}" for k, v in changes.items()))
        found.append(Variant(name, key, changes, entry.params(**{**given, **changes})))
    return found


def run(pipeline, found: list[Variant], tracker: Tracker) -> None:
    """Each variant as a child run of `tracker`'s run, then the comparison on the parent.
    A variant refused with a message (it diverged, a download is missing) ends FAILED with
    that message and the others still train; the sweep fails only if every one did."""
    import mlflow

    from steps import session
    from steps.track import compare, outcomes
    from steps.track.failures import failure_tags
    from steps.track.summary import best_line

    client = mlflow.MlflowClient()
    rows, histories, errors, children = [], {}, [], []
    for variant in found:
        session.fresh_session()  # fresh layer names, and the last variant's memory back
        print(f"--- {variant.name}")
        try:
            with tracker.child_run(variant.name, variant.changes) as child:
                try:
                    pipeline.run(variant.params, child)
                except UserError as exc:
                    child.set_tags(**failure_tags(str(exc), "FAILED"))
                    raise
        except UserError as exc:
            print(f"--- {variant.name} FAILED: {exc}")
            errors.append(f"{variant.name}: {exc}")
        logged = client.get_run(child.run_id)
        children.append(logged)
        rows.append(compare.logged_row(variant.key, variant.changes, logged))
        histories[variant.key] = compare.logged_history(child.run_id)
    if len(errors) == len(found):
        raise UserError(f"every variant failed; the first: {errors[0]}")
    varied = tuple(found[0].changes)
    frame = compare.log_comparison(tracker, rows, histories, "sweep", varied=varied)
    print(best_line(children))
    outcomes.log_verdict(tracker, outcomes.sweep_verdict(frame, varied))
