"""Lessons 25-27 and 62: one time series cut into windows, then any model family.

25 a `split_x` function cuts the series into windows of `-P window=` steps, each followed by
the value to predict (the run logs the first ones as `windows/first_windows.csv`); 26-27 the
windows are ordinary samples: train_test_split, then an LSTM or a DNN (`-P model=lstm|dnn`,
or any other family); 62 split_x on a 2-D series: `-P features=N` feeds the first N columns, the
target first. On the default `series` data set (a wave plus 0.5 x the previous step of a
random `driver` column), the target's own past predicts only the wave; `-P features=2` adds
the driver and test_r2 rises. `plots/forecast.png` shows the one-step predictions in time
order.

    mlflow run . -e timeseries --env-manager local [-P window=12 -P features=2 -P model=dnn]
    mlflow run . -e timeseries --env-manager local -P dataset=csv:PATH -P target=COLUMN

A CSV series is put in time order by its first date column, which labels the forecast plot
and is no input (`-P missing=`, `-P sep=`, ... read it as `csv` reads its tables).
"""

from pathlib import Path

from pipelines.params import Params
from steps import workflow
from steps.data import windows
from steps.data.prepare import prepare
from steps.data.sources import csv_file
from steps.data.table_front import Front
from steps.model import build
from steps.track.tracker import Tracker
from steps.train import evaluate, fit


def run(params: Params, tracker: Tracker) -> None:
    table = params.table_options()
    source = None
    if params.dataset.startswith("csv:"):
        path = Path(params.dataset.removeprefix("csv:"))
        source = csv_file.source(path, params.target, table, series=True)
    dataset = workflow.load_dataset(
        tracker, params.dataset, target=params.target, source=source, table=table
    )
    dates = series_dates(dataset)
    windowed = windows.window_dataset(dataset, params.window, params.features, params.target)
    tracker.log_params(
        {"n_windows": len(windowed.x_train), "columns": ",".join(windowed.feature_names)}
    )
    tracker.log_table(windows.preview(windowed), "windows/first_windows.csv")

    fit.seed_everything(params.seed, params.deterministic)
    prepared = prepare(windowed, params.prepare_options())
    model = build.build(params.model, prepared, params.model_options())
    trained = workflow.train_and_log(tracker, model, prepared, params.fit_options())

    every_window = evaluate.predict(trained.model, windowed.x_train)
    figure = windows.forecast_figure(
        windowed.y_train,
        every_window,
        windowed.feature_names[0],
        dates[params.window :] if dates is not None else None,
    )
    tracker.log_figure(figure, "plots/forecast.png")


def series_dates(dataset):
    """The dates that ordered a CSV series (one per row, in order), or None."""
    if dataset.front is None:
        return None
    front = Front.from_array(dataset.front)
    column = front.report.get("order")
    return front.rows[column].to_numpy() if column else None
