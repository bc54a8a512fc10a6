"""Window step (lessons 25, 62): cut a time series into (window -> next value) samples.

Lesson 25's `split_x` cuts one series into overlapping windows, each followed by the value to
predict; lesson 62 cuts a 2-D (time step x feature) series the same way. The windows become
ordinary samples: the prepare step splits them with train_test_split and fits the scaler on
the training windows, and the recurrent and Conv1D families read each one as
(time steps, features) (`steps.model.families.time_steps`).

A series data set is a `Dataset` whose rows are time steps in order: `y_train` is the series
to predict (the target column) and `x_train` holds the other series beside it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from steps.data.dataset import Dataset
from steps.data.prepare import Prepared, Split
from steps.errors import UserError


def split_x(
    series: np.ndarray, window: int, horizon: int = 1, target_column: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Every `window` consecutive rows of `series` (1-D, or 2-D rows of features), and the
    `horizon` values of the target column that follow them.

    Returns x of shape (n, window, features) and y of shape (n,) (or (n, horizon)), with
    n = len(series) - window - horizon + 1: for 1..10 and window 3, x holds [1, 2, 3],
    [2, 3, 4], ... [7, 8, 9] and y holds 4, 5, ... 10.
    """
    series = np.asarray(series)
    if series.ndim == 1:
        series = series[:, None]
    if series.ndim != 2:
        raise UserError(f"a series has one row per time step; got an array of shape {series.shape}")
    for name, value in (("window", window), ("horizon", horizon)):
        if value < 1:
            raise UserError(f"bad value {value} for {name}: use 1 or more")
    rows, features = series.shape
    if not -features <= target_column < features:
        raise UserError(f"target column {target_column} is not one of the {features} columns")
    if rows < window + horizon:
        raise UserError(
            f"a window of {window} plus {horizon} value(s) to predict needs at least "
            f"{window + horizon} time steps; the series has {rows}: use a smaller window"
        )
    # (n, features, window + horizon): one read-only view, no copies until the slices below
    spans = np.lib.stride_tricks.sliding_window_view(series, window + horizon, axis=0)
    x = np.ascontiguousarray(spans[:, :, :window].transpose(0, 2, 1))
    y = np.ascontiguousarray(spans[:, target_column, window:])
    return x, (y[:, 0] if horizon == 1 else y)


def series_columns(dataset: Dataset, target_name: str = "") -> tuple[np.ndarray, tuple[str, ...]]:
    """A series data set as one (time step, column) array: the target first, then the others."""
    if dataset.is_image:
        raise UserError(
            f"{dataset.name} is a set of images, not a time series; use -P dataset=series or "
            "csv:PATH -P target=COLUMN (rows in time order), or image_classify -P model=lstm"
        )
    parts = [(dataset.x_train, dataset.y_train)]
    if dataset.x_test is not None and dataset.y_test is not None:
        parts.append((dataset.x_test, dataset.y_test))  # a kept test split continues the series
    x = np.concatenate([np.asarray(p[0]).reshape(len(p[0]), -1) for p in parts])
    y = np.concatenate([np.asarray(p[1]).ravel() for p in parts])
    if dataset.task == "classification":  # a csv column of few whole numbers: decode them
        try:
            y = np.asarray(dataset.class_names, dtype=np.float64)[y.astype(np.int64)]
        except ValueError:
            raise UserError(
                f"{dataset.name}'s target holds labels ({', '.join(dataset.class_names[:3])}...), "
                "not numbers: a time series needs a numeric column"
            ) from None
    names = (
        target_name or "target",
        *(dataset.feature_names or [f"x{i}" for i in range(x.shape[1])]),
    )
    return np.column_stack([y, x]).astype(np.float32), names


def window_dataset(
    dataset: Dataset, window: int, features: int = 1, target_name: str = ""
) -> Dataset:
    """The series' first `features` columns (the target first) cut into windows, each
    labelled with the target's next value: a regression data set of (window, features)
    samples."""
    series, names = series_columns(dataset, target_name)
    if not 1 <= features <= len(names):
        raise UserError(
            f"bad value {features} for features: {dataset.name} has {len(names)} columns "
            f"({', '.join(names)}); use 1 to {len(names)}"
        )
    x, y = split_x(series[:, :features], window)
    return Dataset(
        name=f"{dataset.name}-window{window}",
        task="regression",
        x_train=x,
        y_train=y,
        feature_names=names[:features],
    )


def preview(windowed: Dataset, count: int = 5) -> pd.DataFrame:
    """The first windows as a table: one column per (feature, time step), then the target."""
    x, y = windowed.x_train[:count], windowed.y_train[:count]
    window = x.shape[1]
    columns = {
        f"{name}[t{step - window + 1 or ''}]": x[:, step, i]
        for i, name in enumerate(windowed.feature_names)
        for step in range(window)
    }
    return pd.DataFrame(columns | {f"{windowed.feature_names[0]}[t+1]": y})


def split_inputs(prepared: Prepared, branches: dict[str, slice]) -> Prepared:
    """Windows of several columns as named inputs, one group of columns each (lesson 23)."""

    def named(x: np.ndarray) -> dict[str, np.ndarray]:
        return {name: np.ascontiguousarray(x[..., columns]) for name, columns in branches.items()}

    data = prepared.data
    return replace(
        prepared,
        data=Split(
            named(data.x_train),
            data.y_train,
            named(data.x_val),
            data.y_val,
            named(data.x_test),
            data.y_test,
        ),
    )


def forecast_figure(truth: np.ndarray, guess: np.ndarray, name: str, dates=None):
    """The series' next values in time order and the model's one-step predictions of them;
    `dates`: the date of each predicted value (a CSV series' date column), on the x axis."""
    from steps.track.plots import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 3.5))
    steps = np.arange(len(truth))
    xlabel = "window (time order)"
    if dates is not None:
        steps, xlabel = pd.to_datetime(pd.Series(dates), errors="coerce"), "date"
        fig.autofmt_xdate()
    ax.plot(steps, np.ravel(truth), label="true")
    ax.plot(steps, np.ravel(guess), label="predicted")
    ax.set(title=f"next {name}, every window", xlabel=xlabel, ylabel=name)
    ax.legend()
    fig.tight_layout()
    return fig
