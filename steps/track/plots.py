"""Figures the runs log under `plots/` (lesson 32's history curves and each lesson's own)."""

from __future__ import annotations

import math

import numpy as np

from steps.data.dataset import Dataset


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def history_figure(history: dict[str, list[float]], kept_epoch: int = 0):
    """One panel per quantity, training and validation curves together, epochs from 1 in
    whole numbers, the epoch whose weights the model kept marked (when given); the learning
    rate in a panel of its own, on a log scale."""
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()
    names = [k for k in history if not k.startswith("val_") and k != "learning_rate"]
    names += ["learning_rate"] if "learning_rate" in history else []
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.5), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        epochs = np.arange(1, len(history[name]) + 1)
        if name == "learning_rate":
            learning_rate_curve(ax, epochs, history[name])
        else:
            ax.plot(epochs, history[name], marker="o", label="train")
        if f"val_{name}" in history:
            ax.plot(epochs, history[f"val_{name}"], marker="o", label="validation")
        if kept_epoch:
            ax.axvline(kept_epoch, color="grey", linestyle="--", label=f"kept: epoch {kept_epoch}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set(title=name, xlabel="epoch")
        ax.legend()
    fig.tight_layout()
    return fig


def folds_figure(histories: dict[str, dict[str, list[float]]], kept: dict[str, int]):
    """A k-fold fit's history: one panel per quantity, each fit's curves in a colour of its
    own (its held-out fold's dashed), the epoch each fit's model kept marked by a dot."""
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()
    names = list(
        dict.fromkeys(
            name.removeprefix("val_")
            for history in histories.values()
            for name in history
            if name != "learning_rate"
        )
    )
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.5), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        for colour, (fit_name, history) in enumerate(histories.items()):
            for key, style, label in ((name, "-", fit_name), (f"val_{name}", "--", None)):
                values = history.get(key, [])
                epochs = np.arange(1, len(values) + 1)
                ax.plot(epochs, values, style, color=f"C{colour}", label=label if values else None)
                if key.startswith("val_") and 0 < kept.get(fit_name, 0) <= len(values):
                    ax.plot(kept[fit_name], values[kept[fit_name] - 1], "o", color=f"C{colour}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set(title=f"{name} (dashed: held-out fold; dot: kept epoch)", xlabel="epoch")
        ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def learning_rate_curve(ax, epochs: np.ndarray, rates: list[float]) -> None:
    """Rates on a log scale (a constant 0.001 reads 10^-3, not 0); in scientific notation
    when one is 0 or less."""
    ax.plot(epochs, rates, marker="o", color="C2", label="learning rate")
    if min(rates) > 0:
        ax.set_yscale("log")
    else:
        ax.ticklabel_format(axis="y", style="sci", scilimits=(0, 0), useOffset=False)


def sample_grid(dataset: Dataset, count: int = 25):
    """The first images of the training set with their labels (lesson 36's imshow)."""
    plt = pyplot()
    count = min(count, len(dataset.x_train))
    side = math.ceil(math.sqrt(count))
    fig, axes = plt.subplots(side, side, figsize=(1.6 * side, 1.8 * side), squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i >= count:
            continue
        image = np.asarray(dataset.x_train[i])
        ax.imshow(image.squeeze(), cmap="gray" if image.ndim == 2 or image.shape[-1] == 1 else None)
        label = int(np.asarray(dataset.y_train[i]).ravel()[0])
        ax.set_title(dataset.class_names[label] if dataset.class_names else str(label), fontsize=8)
    fig.tight_layout()
    return fig


def confusion_figure(truth: np.ndarray, guess: np.ndarray, class_names: tuple[str, ...]):
    from sklearn.metrics import ConfusionMatrixDisplay

    plt = pyplot()
    size = max(4.0, 0.45 * len(class_names))
    fig, ax = plt.subplots(figsize=(size, size))
    ConfusionMatrixDisplay.from_predictions(
        truth,
        guess,
        labels=list(range(len(class_names))),
        display_labels=list(class_names),
        ax=ax,
        colorbar=False,
        include_values=len(class_names) <= 20,
    )
    ax.tick_params(axis="x", labelrotation=90)
    fig.tight_layout()
    return fig


def predicted_vs_true(truth: np.ndarray, guess: np.ndarray):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.scatter(truth, guess, s=10, alpha=0.7)
    low, high = float(min(truth.min(), guess.min())), float(max(truth.max(), guess.max()))
    ax.plot([low, high], [low, high], color="grey", linestyle="--", label="perfect")
    ax.set(xlabel="true", ylabel="predicted", title="test set")
    ax.legend()
    fig.tight_layout()
    return fig


def per_class_accuracy_figure(table):
    """Test accuracy of each class (a table with `class` and `accuracy`), worst first."""
    plt = pyplot()
    table = table.sort_values("accuracy", na_position="first")
    height = max(2.5, 0.22 * len(table) + 1)
    fig, ax = plt.subplots(figsize=(6, height))
    ax.barh([str(name) for name in table["class"]], table["accuracy"].fillna(0.0))
    ax.set(xlim=(0, 1), xlabel="test accuracy", title="accuracy per class")
    ax.tick_params(axis="y", labelsize=8 if len(table) <= 20 else 5)
    fig.tight_layout()
    return fig
