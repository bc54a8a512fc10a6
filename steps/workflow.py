"""The common lesson flow, composed from the other steps, with what each part logs.

Most lessons are: load (through the npy cache) -> prepare -> build -> `train_and_log`.
A pipeline calls these and adds its own twist.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from steps.data import cache, catalog, checks
from steps.data.dataset import Dataset, Source
from steps.data.options import TableOptions
from steps.data.prepare import Prepared, Split, prepare
from steps.model import build
from steps.options import Recipe
from steps.track import plots
from steps.track.registry import TestRows
from steps.track.tracker import Tracker
from steps.train import baselines, distribute, evaluate, fit, folds
from steps.train.options import FitOptions


@dataclass(frozen=True)
class Trained:
    model: object
    fit: fit.FitResult
    metrics: dict[str, float]
    predictions: np.ndarray
    model_uri: str


def load_dataset(
    tracker: Tracker,
    uri: str,
    *,
    target: str = "",
    source: Source | None = None,
    text: bool = False,
    table: TableOptions | None = None,
) -> Dataset:
    """Resolve `-P dataset=` (or take the `source` a lesson built for it, e.g. with its own
    image size), read it through the npy cache, tag the run with both, then check its
    numbers (and that it holds text only where the lesson reads `text`). `table`: how a
    csv: file is read (`report_table` says what the reading found)."""
    source = source or catalog.resolve(uri, target=target, table=table)
    dataset, status = cache.load_cached(source)
    n_test = 0 if dataset.x_test is None else len(dataset.x_test)
    samples = {"n_samples": len(dataset.x_train) + n_test}
    tracker.log_params(samples, tags={"dataset": uri, "cache": status})
    tracker.dataset = (catalog.label(uri), cache.content_key(source))
    if dataset.front is not None:
        report_table(tracker, dataset)
    checks.check_dataset(dataset, uri.partition(":")[2] or uri, text=text)
    return dataset


def report_table(tracker: Tracker, dataset: Dataset) -> None:
    """What reading a table found, on the terminal and the run: its encoding, separator and
    decimal mark (tags), the columns left out and why (tag `left_out_columns`), rows
    dropped, and per column the missing values and what replaced them
    (`profile/missing.csv`)."""
    import pandas as pd

    from steps.data.table_front import Front

    report = Front.from_array(dataset.front).report
    left_out = report["left_out"]
    tracker.set_tags(
        encoding=report["encoding"],
        separator={"\t": "tab"}.get(report["sep"], report["sep"]),
        decimal_mark=report.get("decimal", "."),
        left_out_columns=",".join(left_out),
    )
    for name, why in left_out.items():
        print(f"column {name!r} left out: {why}")
    missing = pd.DataFrame(report["missing"])
    tracker.log_table(missing, "profile/missing.csv")
    counted = missing[missing["missing"] > 0]
    shown = [
        f"{row.column} {row.missing}" + (f" ({row.replaced_by})" if row.replaced_by else "")
        for row in counted.itertuples()
    ]
    dropped = []
    if report["without_target"]:
        dropped.append(f"{report['without_target']} rows without a target dropped")
    if report["dropped_rows"]:
        dropped.append(f"{report['dropped_rows']} rows with a missing value dropped")
    tracker.log_metrics(
        {
            "rows_without_target": report["without_target"],
            "rows_dropped_missing": report["dropped_rows"],
            "missing_values": int(missing["missing"].sum()) if len(missing) else 0,
        }
    )
    print(f"missing values: {'; '.join(shown) or 'none'}" + "".join(f"; {d}" for d in dropped))


def fit_dataset(
    tracker: Tracker,
    dataset: Dataset,
    recipe: Recipe,
    *,
    scores_to_beat: dict[str, float] | None = None,
) -> Trained:
    """The standard lesson: prepare, build, then `train_and_log` (which see for
    `scores_to_beat`); on a small training set where `-P folds=` asks for it, the k-fold fit
    of every training row instead (`folds_and_log`)."""
    fit.seed_everything(recipe.fit.seed, recipe.fit.deterministic)
    prepared = prepare(dataset, recipe.prepare)
    return train_recipe_and_log(tracker, prepared, recipe, scores_to_beat=scores_to_beat)


def train_recipe_and_log(
    tracker: Tracker,
    prepared: Prepared,
    recipe: Recipe,
    *,
    scores_to_beat: dict[str, float] | None = None,
    name: str = "",
) -> Trained:
    """Build the recipe's model (called `name`, else after its family) and `train_and_log`
    it, or make the k-fold fit `folds_and_log` where the recipe asks for one and the training
    rows are few enough; either way test and log the model as `test_and_log` does."""
    devices = distribute.device_count()
    if folds.applies(recipe.fit, prepared.data, devices):
        model, result = folds_and_log(tracker, prepared, recipe, name=name)
        summary, how = result.as_fit(), result.text()
        with distribute.single_device():
            return test_and_log(tracker, model, prepared, recipe.fit, summary, scores_to_beat, how)
    if reason := folds.one_fit_reason(recipe.fit, prepared.data, devices):
        print(reason)
        tracker.set_tags(fit=reason)
    model = build.build(recipe.family, prepared, recipe.model, name=name)
    return train_and_log(tracker, model, prepared, recipe.fit, scores_to_beat=scores_to_beat)


def folds_and_log(
    tracker: Tracker,
    prepared: Prepared,
    recipe: Recipe,
    *,
    callbacks: list | None = None,
    refuse_divergence: bool = True,
    name: str = "",
) -> tuple[object, folds.FoldsResult]:
    """`steps.train.folds.fit_folds` of `prepared`'s training rows, logged: each fold's
    per-epoch metrics under its name (`fold1_val_loss`; a refit's under Keras's own), each
    fold's kept epoch and held-out scores at step = fold number (`fold_kept_epoch`,
    `fold_held_out_loss`...), their means (`cv_loss`, `cv_accuracy`...), the table
    `folds/folds.csv` and every fit's curves in `plots/history.png`. The model is called
    `name`, else after the recipe's family. Divergence as in `fit_and_log`."""
    config, head = recipe.fit, build.head_for(prepared)
    tracker.log_inputs(folds.every_training_row(prepared.data))

    def member(name: str):
        return build.build(recipe.family, prepared, recipe.model, name=name)

    def fit_callbacks(name: str) -> list:
        prefix = "" if name == "refit" else f"{name}_"
        return [*(callbacks or []), *tracker.keras_callbacks(prefix)]

    model, result = folds.fit_folds(
        member,
        head,
        prepared.data,
        config,
        log_dir=tracker.tensorboard_dir,
        backup=tracker.backup_dir,
        callbacks=fit_callbacks,
        name=name or recipe.family,
    )
    if config.verbose:
        model.summary(print_fn=lambda line, *_: print(line))
    log_folds(tracker, model, result)
    if refuse_divergence and result.diverged is not None:
        fit.refuse(fit.divergence_problem(result.diverged, config))
    return model, result


def log_folds(tracker: Tracker, model, result: folds.FoldsResult) -> None:
    """What `folds_and_log` logs of a finished k-fold fit."""
    import pandas as pd

    rows, histories, kept = [], {}, {}
    for fold in result.folds:
        name = f"fold{fold.number}"
        held_out = {
            key.removeprefix("val_"): value
            for key, value in fold.result.best_metrics.items()
            if key.startswith("val_")
        }
        tracker.log_metrics(
            {
                "fold_kept_epoch": fold.result.best_epoch,
                "fold_epochs_run": fold.result.epochs_run,
                **{f"fold_held_out_{key}": value for key, value in held_out.items()},
            },
            step=fold.number,
        )
        rows.append(
            {
                "fold": name,
                "train_rows": fold.train_rows,
                "held_out_rows": fold.held_rows,
                "epochs_run": fold.result.epochs_run,
                "kept_epoch": fold.result.best_epoch,
                **{f"held_out_{key}": value for key, value in held_out.items()},
                "seconds": round(fold.result.seconds, 2),
            }
        )
        histories[name] = whole_history(tracker, fold.result, f"{name}_")
        kept[name] = fold.result.best_epoch
    if result.refit is not None:
        rows.append(
            {
                "fold": "refit",
                "train_rows": rows[0]["train_rows"] + rows[0]["held_out_rows"],
                "epochs_run": result.refit.epochs_run,
                "seconds": round(result.refit.seconds, 2),
            }
        )
        histories["refit"] = whole_history(tracker, result.refit)
    cv = {f"cv_{key.removeprefix('val_')}": v for key, v in result.cross_validation().items()}
    tracker.log_metrics(
        {
            **cv,
            "epochs_run": result.epochs_trained,
            "best_epoch": result.as_fit().best_epoch,
            "fit_seconds": result.seconds,
            "parameters": model.count_params(),
        }
    )
    tracker.log_table(pd.DataFrame(rows), "folds/folds.csv")
    tracker.log_figure(plots.folds_figure(histories, kept), "plots/history.png")
    lines: list[str] = []
    model.summary(print_fn=lambda line, *_: lines.append(line))
    tracker.log_text("\n".join(lines), "model_summary.txt")
    tracker.set_tags(fit=result.text(), callbacks=result.folds[0].result.callbacks)


def whole_history(tracker: Tracker, result: fit.FitResult, prefix: str = "") -> dict:
    """A fit's per-epoch history, from the run where a resumed fit holds only its own epochs;
    `prefix`: before each name in the run (one fold of a k-fold fit)."""
    history = result.history
    if len(next(iter(history.values()), [])) >= result.epochs_run:
        return history
    whole = tracker.full_history({prefix + name: values for name, values in history.items()})
    return {name.removeprefix(prefix): values for name, values in whole.items()}


def log_baselines(tracker: Tracker, prepared: Prepared) -> dict[str, float]:
    """The scores to beat on `prepared`'s split (`baselines.baseline_metrics`), logged at
    step 0 beside the test metrics; for a comparison's parent, whose children share the split."""
    scores = baselines.baseline_metrics(prepared)
    tracker.log_metrics(scores)
    return scores


def fit_and_log(
    tracker: Tracker,
    model,
    head: build.Head,
    data: Split,
    config: FitOptions,
    *,
    checkpoint: Path | None = None,
    callbacks: list | None = None,
    validation_split: float = 0.0,
    refuse_divergence: bool = True,
) -> fit.FitResult:
    """Fit with the standard callbacks (plus `callbacks`; ModelCheckpoint writes the best
    epoch to `checkpoint`, or beside the run's backups, unless `config.checkpoint` is off);
    log how training went, the checkpoint and the history plot. Any inputs and outputs.
    Training that diverged stops the pipeline, unless `refuse_divergence` is off (a search's
    trial: one diverged configuration is a result, not the end of the search)."""
    if config.verbose:
        model.summary(print_fn=lambda line, *_: print(line))
    tracker.log_inputs(data)
    plan = distribute.active()
    if plan is not None:  # this fit's batch: a sweep's or a trial's own
        tracker.set_tags(**distribute.checked(plan, config.batch_size).tags())
    if left := distribute.left_out(data, plan):  # rows that do not split over the devices
        tracker.set_tags(rows_left_out=", ".join(f"{k} {v}" for k, v in left.items()))
    data, batch_size = distribute.share(data, config.batch_size, plan)
    config = replace(config, batch_size=batch_size)
    if config.checkpoint and checkpoint is None:
        folder = tracker.backup_dir or Path(tempfile.mkdtemp(prefix="checkpoint-"))
        checkpoint = folder / "best.keras"
    result = fit.fit(
        model,
        head,
        data,
        config,
        log_dir=tracker.tensorboard_dir,
        extra_callbacks=[*(callbacks or []), *tracker.keras_callbacks()],
        checkpoint=checkpoint if config.checkpoint else None,
        backup=tracker.backup_dir,
        validation_split=validation_split,
    )
    tracker.set_tags(callbacks=result.callbacks)
    history = whole_history(tracker, result)
    best = {f"best_{name}": value for name, value in result.best_metrics.items()}
    tracker.log_metrics(
        {
            "epochs_run": result.epochs_run,
            "best_epoch": result.best_epoch,
            **best,
            "lr_reductions": len(fit.rate_cuts(history)),
            "fit_seconds": result.seconds,
            "parameters": model.count_params(),
        }
    )
    if result.checkpoint is not None and result.checkpoint.is_file():
        tracker.log_artifact(result.checkpoint, "checkpoints")
    figure = plots.history_figure(history, kept_epoch=result.best_epoch)
    tracker.log_figure(figure, "plots/history.png")
    if refuse_divergence:
        fit.refuse(fit.divergence_problem(result, config))
    return result


def train_and_log(
    tracker: Tracker,
    model,
    prepared: Prepared,
    config: FitOptions,
    *,
    checkpoint: Path | None = None,
    callbacks: list | None = None,
    validation_split: float = 0.0,
    scores_to_beat: dict[str, float] | None = None,
) -> Trained:
    """`fit_and_log`, then the test metrics beside the baselines on the same split, the
    task's plot and the model. `scores_to_beat`: the baselines of this very split, computed
    once by a parent whose children all train on it (`log_baselines`)."""
    head = build.head_for(prepared)
    result = fit_and_log(
        tracker,
        model,
        head,
        prepared.data,
        config,
        checkpoint=checkpoint,
        callbacks=callbacks,
        validation_split=validation_split,
    )
    with distribute.single_device():
        return test_and_log(tracker, model, prepared, config, result, scores_to_beat)


def test_and_log(
    tracker: Tracker,
    model,
    prepared: Prepared,
    config: FitOptions,
    result: fit.FitResult,
    scores_to_beat: dict[str, float] | None = None,
    how: str = "",
) -> Trained:
    """The trained model's test metrics beside the baselines, the task's plot, the model
    itself and the last printed line, which ends with `how` it was trained (default: the
    epochs `result` ran and kept) (`train_and_log`'s end)."""
    x_test, y_test = prepared.data.x_test, prepared.data.y_test
    predictions = evaluate.predict(model, x_test)
    metrics = evaluate.test_metrics(model, prepared, predictions)
    fit.refuse(fit.metrics_problem(metrics, config))
    if scores_to_beat is None:
        scores_to_beat = baselines.baseline_metrics(prepared)
    tracker.log_metrics(scores_to_beat)
    if prepared.task == "classification":
        figure = plots.confusion_figure(
            evaluate.class_indices(y_test),
            evaluate.class_indices(predictions),
            prepared.class_names,
        )
        tracker.log_figure(figure, "plots/confusion_matrix.png")
    else:
        figure = plots.predicted_vs_true(y_test.ravel(), predictions.ravel())
        tracker.log_figure(figure, "plots/predicted_vs_true.png")
    if prepared.front is None:
        model_uri = tracker.log_model(model, TestRows(x_test, y_test), test_metrics=metrics)
    else:  # a table's model takes the file's raw rows
        tested_on = TestRows(prepared.raw_test, y_test)
        model_uri = tracker.log_model(model, tested_on, test_metrics=metrics, front=prepared.front)
    summary = ", ".join(f"{k}={v:.4f}{against(k, scores_to_beat)}" for k, v in metrics.items())
    print(f"{model.name}: {summary}; {how or fit.epochs_text(result)}")
    return Trained(model, result, metrics, predictions, model_uri)


def against(metric: str, scores: dict[str, float]) -> str:
    """` (linear baseline 0.9333)` beside a test metric: the linear model's score, else the
    trivial one's where the linear model was skipped; nothing for other metrics."""
    found = baselines.beside(metric, scores)
    kind = next(iter(found), None)
    return f" ({kind} baseline {found[kind]:.4f})" if kind else ""
