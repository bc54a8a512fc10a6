"""Image steps shared by the image pipelines (lessons 36-41, 63-64, 75-78).

`load_images` reads a registered image set or a folder of class sub-folders (`dir:PATH`, or
one the project writes from bundled images: digits_folder) through the npy cache, skipped
files counted and listed; `fit_images` is the standard lesson plus optional augmentation
(Keras's random layers in front of any model) and `log_class_accuracy`, how well each class
is recognised.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from steps import workflow
from steps.data import catalog
from steps.data.dataset import Dataset
from steps.data.prepare import Prepared, prepare
from steps.data.sources.image_folder import (
    DEFAULT_IMAGE_SIZE,
    image_folder_source,
    scan_image_folder,
)
from steps.errors import UserError
from steps.model import build
from steps.options import Recipe
from steps.track import plots
from steps.track.tracker import Tracker
from steps.train import evaluate, fit

# Up to this many classes, each class's test accuracy is also a run metric.
CLASS_METRICS_MAX = 10


def load_images(
    tracker: Tracker, uri: str, *, size: tuple[int, int] = DEFAULT_IMAGE_SIZE
) -> Dataset:
    """A folder (`dir:PATH`, or one the project writes such as digits_folder) read at `size`,
    skipped files logged; a named photo set (cats_vs_dogs) at `size` too; anything else as
    `load_dataset`."""
    if uri in catalog.NAMED and catalog.NAMED[uri].sized:  # photos, read at `size`
        dataset = workflow.load_dataset(tracker, uri, source=catalog.NAMED[uri].source(size))
    elif not catalog.is_folder(uri):
        dataset = workflow.load_dataset(tracker, uri)
    else:
        path = catalog.folder(uri)
        if uri in catalog.FOLDERS:  # say where it is: the same folder works as dir:PATH
            print(f"{uri}: {path}")
            tracker.set_tags(folder=str(path))
        folder = scan_image_folder(path)
        tracker.log_metrics({"skipped_files": len(folder.skipped)})
        if folder.skipped:
            print(f"skipped {len(folder.skipped)} files in {folder.root}: see skipped_files.csv")
            table = pd.DataFrame(folder.skipped, columns=["file", "reason"])
            tracker.log_table(table, "data/skipped_files.csv")
        source = image_folder_source(folder, size)
        dataset = workflow.load_dataset(tracker, uri, source=source)
        tracker.log_params({"n_classes": dataset.n_classes})
    if not dataset.is_image or dataset.task != "classification":
        raise UserError(
            f"{uri} is not a set of labelled images; use an image data set "
            f"({', '.join(catalog.names(kind='images'))}) or dir:PATH"
        )
    return dataset


def augmentation(seed: int, rotation: float = 0.1, zoom: float = 0.1):
    """Lesson 63's random flips, rotations and zooms; Keras applies them in training only."""
    import keras

    return keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal", seed=seed),
            keras.layers.RandomRotation(rotation, seed=seed),
            keras.layers.RandomZoom(zoom, seed=seed),
        ],
        name="augmentation",
    )


def with_augmentation(model, seed: int):
    """Raw image -> random augmentation -> `model`; the result still takes raw images."""
    import keras

    if len(model.input_shape) != 4:
        raise UserError(
            f"augmentation needs images with channels (height, width, channels); "
            f"these samples have shape {model.input_shape[1:]}"
        )
    inputs = keras.Input(model.input_shape[1:], name="sample")
    return keras.Model(inputs, model(augmentation(seed)(inputs)), name=f"{model.name}_augmented")


def fit_images(
    tracker: Tracker, dataset: Dataset, recipe: Recipe, *, augment: bool = False
) -> workflow.Trained:
    """`workflow.fit_dataset` for images: optional augmentation, then each class's accuracy."""
    fit.seed_everything(recipe.fit.seed, recipe.fit.deterministic)
    prepared = prepare(dataset, recipe.prepare)
    model = build.build(recipe.family, prepared, recipe.model, name=recipe.family)
    if augment:
        model = with_augmentation(model, recipe.fit.seed)
    trained = workflow.train_and_log(tracker, model, prepared, recipe.fit)
    log_class_accuracy(tracker, prepared, trained.predictions)
    return trained


def per_class_accuracy(
    truth: np.ndarray, guess: np.ndarray, class_names: tuple[str, ...]
) -> pd.DataFrame:
    """One row per class: its test samples, how many were right, and the share."""
    truth, guess = np.asarray(truth).ravel(), np.asarray(guess).ravel()
    support = np.bincount(truth, minlength=len(class_names))
    correct = np.bincount(truth[truth == guess], minlength=len(class_names))
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(support > 0, correct / np.maximum(support, 1), np.nan)
    return pd.DataFrame(
        {"class": list(class_names), "support": support, "correct": correct, "accuracy": accuracy}
    )


def metric_name(class_name: str) -> str:
    return "test_accuracy_" + re.sub(r"[^A-Za-z0-9_.-]+", "_", class_name).strip("_")


def log_class_accuracy(tracker: Tracker, prepared: Prepared, predictions: np.ndarray) -> None:
    """evaluation/per_class_accuracy.csv, a bar chart, and metrics when classes are few."""
    table = per_class_accuracy(
        evaluate.class_indices(prepared.data.y_test),
        evaluate.class_indices(predictions),
        prepared.class_names,
    )
    tracker.log_table(table, "evaluation/per_class_accuracy.csv")
    tracker.log_figure(plots.per_class_accuracy_figure(table), "plots/per_class_accuracy.png")
    if len(table) <= CLASS_METRICS_MAX:
        scored = table.dropna(subset=["accuracy"])
        tracker.log_metrics(
            {metric_name(row["class"]): row["accuracy"] for _, row in scored.iterrows()}
        )
