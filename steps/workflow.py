"""The common lesson flow, composed from the other steps, with what each part logs.

Most lessons are: load (through the npy cache) -> prepare -> build -> `train_and_log`.
A pipeline calls these and adds its own twist.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from steps import build, cache, datasets, evaluate, fit, plots
from steps.build import ModelOptions
from steps.datasets import Dataset
from steps.prepare import Prepared, PrepareOptions, prepare
from steps.tracking import Tracker


@dataclass(frozen=True)
class Trained:
    model: object
    fit: fit.FitResult
    metrics: dict[str, float]
    predictions: np.ndarray
    model_uri: str


def load_dataset(tracker: Tracker, uri: str, *, target: str = "") -> Dataset:
    """Resolve `-P dataset=`, read it through the npy cache, tag the run with both."""
    dataset, status = cache.load_cached(datasets.resolve(uri, target=target))
    tracker.set_tags(dataset=uri, cache=status)
    n_test = 0 if dataset.x_test is None else len(dataset.x_test)
    tracker.log_params({"n_samples": len(dataset.x_train) + n_test})
    return dataset


@dataclass(frozen=True)
class Recipe:
    """Everything the standard lesson needs besides the data."""

    family: str
    prepare: PrepareOptions
    model: ModelOptions
    fit: fit.FitConfig


def fit_dataset(tracker: Tracker, dataset: Dataset, recipe: Recipe) -> Trained:
    """The standard lesson: prepare, build, then `train_and_log`."""
    fit.seed_everything(recipe.fit.seed)
    prepared = prepare(dataset, recipe.family, recipe.prepare)
    model = build.build(recipe.family, prepared, recipe.model)
    return train_and_log(tracker, model, prepared, recipe.fit)


def train_and_log(tracker: Tracker, model, prepared: Prepared, config: fit.FitConfig) -> Trained:
    """Fit with the standard callbacks, then log test metrics, plots and the model."""
    model.summary(print_fn=lambda line, *_: print(line)) if config.verbose else None
    result = fit.fit(
        model,
        build.head_for(prepared),
        prepared.data,
        config,
        log_dir=tracker.tensorboard_dir,
        extra_callbacks=tracker.keras_callbacks(),
    )
    x_test, y_test = prepared.data.x_test, prepared.data.y_test
    predictions = evaluate.predict(model, x_test)
    metrics = evaluate.test_metrics(model, prepared, predictions)
    tracker.log_metrics(
        metrics
        | {
            "epochs_run": result.epochs_run,
            "best_epoch": result.best_epoch,
            "fit_seconds": result.seconds,
            "parameters": model.count_params(),
        }
    )
    tracker.log_figure(plots.history_figure(result.history), "plots/history.png")
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
    model_uri = tracker.log_model(model, x_test[:5])
    summary = ", ".join(f"{k}={v:.4f}" for k, v in metrics.items())
    print(f"{model.name}: {summary} after {result.epochs_run} epochs")
    return Trained(model, result, metrics, predictions, model_uri)
