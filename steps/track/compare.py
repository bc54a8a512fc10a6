"""Compare step: variants of one lesson side by side (lessons 42, 60 and later comparisons).

A comparison is a list of rows `{"variant": name, metric: value, ...}`, one per child run;
these functions turn it into the table, the bar chart and the overlaid curves the parent
run logs, and the train/validation gap that shows overfitting.
"""

from __future__ import annotations

import re
from textwrap import fill

import numpy as np
import pandas as pd

from steps.track.plots import pyplot

# Each variant is fitted once: its times are one wall-clock measurement, so a time ratio
# carries no spread and is said to be what it is wherever it is shown.
TIMINGS = ("fit_seconds", "seconds_per_epoch")
ONCE = "one measurement each"
TIMING_NOTE = (
    f"{', '.join(TIMINGS)} and fit_seconds_ratio_*: {ONCE}, not repeated "
    "(their spread is unknown; machine load alone can move them by tens of percent)"
)


def panel_title(column: str) -> str:
    return f"{column}\n({ONCE})" if column in TIMINGS else column


def table(rows: list[dict[str, object]]) -> pd.DataFrame:
    """One row per variant, `variant` first, columns in first-seen order."""
    if not rows or any("variant" not in row for row in rows):
        raise ValueError("each comparison row needs a 'variant'")
    frame = pd.DataFrame(rows)
    return frame[["variant", *[c for c in frame.columns if c != "variant"]]]


def metric_key(text: str) -> str:
    """`text` as MLflow takes it in a metric name (letters, digits, `_ - .`): `adam_lr_0.01`."""
    return re.sub(r"[^\w.\-]+", "_", text).strip("_")


def per_variant_metrics(frame: pd.DataFrame, columns: list[str]) -> dict[str, float]:
    """`{column}_{variant}` for the parent run, so the MLflow UI shows them as columns."""
    return {
        f"{column}_{metric_key(str(row['variant']))}": float(row[column])
        for _, row in frame.iterrows()
        for column in columns
        if column in frame.columns and pd.notna(row[column])
    }


def bar_chart(frame: pd.DataFrame, columns: list[str], title: str = ""):
    """One panel per numeric column, one bar per variant, each bar labelled with its value."""
    plt = pyplot()
    columns = [c for c in columns if c in frame.columns]
    fig, axes = plt.subplots(1, len(columns), figsize=(4 * len(columns), 3.5), squeeze=False)
    for ax, column in zip(axes[0], columns, strict=True):
        values = frame[column].astype(float).to_numpy()
        bars = ax.bar(frame["variant"].astype(str), values, color=f"C{columns.index(column)}")
        ax.bar_label(bars, labels=[f"{v:.3g}" for v in values], fontsize=8)
        ax.set(title=panel_title(column))
        ax.tick_params(axis="x", labelrotation=30)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def curves_figure(
    histories: dict[str, dict[str, list[float]]], names: tuple[str, ...], title: str = ""
):
    """Every variant's curves for each quantity in one panel: solid train, dashed validation;
    `title` (a verdict, in words) above them."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(names), figsize=(5.5 * len(names), 3.8), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        for i, (variant, history) in enumerate(histories.items()):
            for key, style, where in ((name, "-", "train"), (f"val_{name}", "--", "validation")):
                if key in history:
                    epochs = np.arange(1, len(history[key]) + 1)
                    label = f"{variant} {where}"
                    ax.plot(epochs, history[key], style, color=f"C{i}", label=label)
        ax.set(title=name, xlabel="epoch")
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(fill(title, 110), fontsize=9)
    fig.tight_layout()
    return fig


def gaps(history: dict[str, list[float]], epoch: int = -1) -> dict[str, float]:
    """Validation minus training at one epoch (the last by default): above 0 means overfit.

    `loss_gap` = val_loss - loss; for a score such as accuracy, `accuracy_gap` =
    accuracy - val_accuracy, so both grow as the model memorises its training rows.
    """
    found: dict[str, float] = {}
    for name, values in history.items():
        validation = history.get(f"val_{name}")
        if name.startswith("val_") or name == "learning_rate" or not validation:
            continue
        train, val = values[epoch], validation[epoch]
        lower_is_better = name == "loss" or name in ("mae", "mse")
        found[f"{name}_gap"] = float(val - train if lower_is_better else train - val)
    return found


def trained_row(variant: str, trained, **extra: object) -> dict[str, object]:
    """A comparison row for one trained variant (a `workflow.Trained`): its test metrics,
    size and speed, plus whatever the lesson varies (`extra`)."""
    result = trained.fit
    return {
        "variant": variant,
        **extra,
        **trained.metrics,
        "parameters": int(trained.model.count_params()),
        "epochs_run": result.epochs_run,
        "fit_seconds": round(result.seconds, 3),
        "seconds_per_epoch": round(result.seconds / result.epochs_run, 4),
    }


# What a comparison row takes from a child run besides its test scores and baselines.
RUN_FACTS = ("parameters", "trainable_parameters", "epochs_run", "best_epoch", "fit_seconds")
# The score a comparison's chart leads with: the first of these its rows have.
SCORES = ("test_accuracy", "test_r2", "test_rmse", "test_loss")


def logged_row(variant: str, changes: dict[str, str], run) -> dict[str, object]:
    """A comparison row read back from a finished (or failed) child run: what it varied, its
    status, test scores, baselines and size and time."""
    metrics = run.data.metrics
    scores = {k: v for k, v in sorted(metrics.items()) if "test_" in k}
    facts = {k: metrics[k] for k in RUN_FACTS if k in metrics}
    if metrics.get("epochs_run"):
        facts["seconds_per_epoch"] = metrics["fit_seconds"] / metrics["epochs_run"]
    to_beat = {k: v for k, v in sorted(metrics.items()) if k.startswith("baseline_")}
    row = {"variant": variant, **changes, "status": run.info.status}
    return row | scores | facts | to_beat


def logged_history(run_id: str, names: tuple[str, ...] = ("loss", "val_loss")):
    """A child run's per-epoch curves as the tracking store holds them, those it logged."""
    from steps.track.tracker import metric_histories

    return {name: values for name, values in metric_histories(run_id, names).items() if values}


def main_score(frame: pd.DataFrame) -> str:
    return next(name for name in (*SCORES, "fit_seconds") if name in frame.columns)


def ratios(frame: pd.DataFrame, columns: list[str]) -> dict[str, float]:
    """`{column}_ratio_{variant}`: each later variant's value over the first variant's (0.998:
    the second scores 0.998 of the first)."""
    first = frame.iloc[0]
    return {
        f"{column}_ratio_{metric_key(str(row['variant']))}": float(row[column] / first[column])
        for _, row in frame.iloc[1:].iterrows()
        for column in columns
        if column in frame.columns and pd.notna(row[column]) and first[column]
    }


# What the terminal's table shows besides what varied, the test scores and the gaps; counts
# are shown as integers.
SHOWN_FACTS = ("epochs_run", "parameters", "fit_seconds")
COUNTS = ("parameters", "trainable_parameters", "epochs_run", "best_epoch")


def terminal_table(frame: pd.DataFrame, varied: tuple[str, ...] = ("variant",)) -> str:
    """The comparison as the terminal shows it: what varied, the status when a variant failed,
    the test scores (and train/validation gaps), epochs, parameters and fit seconds; counts
    as integers, the rest to 4 significant digits. Everything else is in the logged table."""
    failed = "status" in frame and bool((frame["status"] != "FINISHED").any())
    scores = [c for c in frame.columns if c.startswith("test_") or c.endswith("_gap")]
    wanted = [*varied, *(["status"] if failed else []), *scores, *SHOWN_FACTS]
    shown = frame[[c for c in wanted if c in frame.columns]].copy()
    for column in shown.columns.intersection(COUNTS):
        shown[column] = shown[column].round().astype("Int64")
    return shown.to_string(index=False, float_format=readable)


def readable(value: float) -> str:
    """4 significant digits, without an exponent below 10**6: `5558`, `73.01`, `-0.04910`."""
    return f"{value:.0f}" if 1e4 <= abs(value) < 1e6 else f"{value:.4g}"


def log_comparison(
    tracker,
    rows: list[dict[str, object]],
    histories: dict,
    name: str,
    title: str = "",
    varied: tuple[str, ...] = ("variant",),
) -> pd.DataFrame:
    """What a comparison's parent run logs: the table (`comparison/<name>.csv`), each
    variant's score, size and time as metrics with their ratios to the first variant (the
    times tagged as single measurements: `timings`), one bar chart of them
    (`plots/comparison.png`) and every variant's loss curves (`plots/curves.png`); the
    terminal gets `terminal_table` (`varied`: the columns naming each variant)."""
    frame = table(rows)
    score = main_score(frame)
    shown = [score, "parameters", "fit_seconds", "seconds_per_epoch"]
    tracker.log_metrics(per_variant_metrics(frame, shown) | ratios(frame, [score, "fit_seconds"]))
    timed = any(column in frame.columns for column in TIMINGS)
    if timed:
        tracker.set_tags(timings=TIMING_NOTE)
    tracker.log_table(frame, f"comparison/{name}.csv")
    finished = frame[frame["status"] == "FINISHED"] if "status" in frame else frame
    tracker.log_figure(bar_chart(finished, shown, title), "plots/comparison.png")
    tracker.log_figure(curves_figure(histories, ("loss",)), "plots/curves.png")
    print(terminal_table(frame, varied))
    if timed:
        print(f"times: {TIMING_NOTE}")
    return frame
