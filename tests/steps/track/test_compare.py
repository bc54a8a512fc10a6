"""Comparison step (`steps.track.compare`): rows of variants -> table, metrics, charts, gaps."""

from __future__ import annotations

import pytest

from steps.track import compare
from steps.train.fit import FitResult
from steps.workflow import Trained


def test_table_puts_variant_first_and_keeps_every_column():
    frame = compare.table([{"score": 0.9, "variant": "a"}, {"variant": "b", "score": 0.8, "x": 1}])
    assert list(frame.columns) == ["variant", "score", "x"]
    assert frame["variant"].tolist() == ["a", "b"]
    with pytest.raises(ValueError, match="variant"):
        compare.table([{"score": 1.0}])


def test_per_variant_metrics_are_named_column_then_variant():
    frame = compare.table([{"variant": "lstm", "s": 0.5, "t": 2}, {"variant": "conv1d", "s": 0.4}])
    metrics = compare.per_variant_metrics(frame, ["s", "t", "absent"])
    assert metrics == {"s_lstm": 0.5, "t_lstm": 2.0, "s_conv1d": 0.4}  # NaN t is left out


def test_gaps_are_positive_when_validation_is_worse():
    history = {
        "loss": [1.0, 0.2],
        "val_loss": [1.1, 0.9],
        "accuracy": [0.5, 1.0],
        "val_accuracy": [0.5, 0.75],
        "learning_rate": [0.001, 0.001],
    }
    assert compare.gaps(history) == pytest.approx({"loss_gap": 0.7, "accuracy_gap": 0.25})
    assert compare.gaps(history, epoch=0) == pytest.approx({"loss_gap": 0.1, "accuracy_gap": 0.0})
    assert compare.gaps({"loss": [1.0]}) == {}  # no validation: no gap


def test_bar_chart_has_one_panel_per_column_and_a_bar_per_variant():
    frame = compare.table([{"variant": v, "a": i, "b": 2 * i} for i, v in enumerate("xyz")])
    figure = compare.bar_chart(frame, ["a", "b", "missing"], "title")
    assert [ax.get_title() for ax in figure.axes] == ["a", "b"]
    assert [len(ax.patches) for ax in figure.axes] == [3, 3]
    assert [p.get_height() for p in figure.axes[1].patches] == [0, 2, 4]


def test_bar_chart_says_a_time_is_one_measurement():
    frame = compare.table([{"variant": v, "test_r2": 0.5, "fit_seconds": 2.0} for v in "xy"])
    figure = compare.bar_chart(frame, ["test_r2", "fit_seconds"])
    assert [ax.get_title() for ax in figure.axes] == [
        "test_r2",
        "fit_seconds\n(one measurement each)",
    ]


def test_curves_figure_overlays_train_and_validation_of_every_variant():
    histories = {
        "plain": {"loss": [3, 2, 1], "val_loss": [3, 3, 4]},
        "regularized": {"loss": [3, 2.5], "val_loss": [3, 2.8]},
    }
    figure = compare.curves_figure(histories, ("loss",))
    labels = [line.get_label() for line in figure.axes[0].lines]
    assert labels == [
        "plain train",
        "plain validation",
        "regularized train",
        "regularized validation",
    ]
    assert list(figure.axes[0].lines[1].get_ydata()) == [3, 3, 4]


class Counted:
    def count_params(self) -> int:
        return 1234


def test_trained_row_reports_score_size_and_speed():
    trained = Trained(
        model=Counted(),
        fit=FitResult(history={}, epochs_run=4, best_epoch=3, seconds=2.0),
        metrics={"test_accuracy": 0.75},
        predictions=None,
        model_uri="",
    )
    row = compare.trained_row("lstm", trained, units=8)
    assert row == {
        "variant": "lstm",
        "units": 8,
        "test_accuracy": 0.75,
        "parameters": 1234,
        "epochs_run": 4,
        "fit_seconds": 2.0,
        "seconds_per_epoch": 0.5,
    }


def test_terminal_table_shows_what_varied_scores_and_counts_as_integers():
    rows = [
        {"variant": "layers_1", "layers": "1", "status": "FINISHED", "test_rmse": 74.5539}
        | {"parameters": 97.0, "epochs_run": 2.0, "fit_seconds": 3.718, "baseline_mean_r2": 0.1},
        {"variant": "layers_2", "layers": "2", "status": "FINISHED", "test_rmse": 73.0095}
        | {"parameters": 169.0, "epochs_run": 2.0, "fit_seconds": 12345.6, "seconds_per_epoch": 1},
    ]
    lines = compare.terminal_table(compare.table(rows), ("layers",)).splitlines()
    assert [line.split() for line in lines] == [
        ["layers", "test_rmse", "epochs_run", "parameters", "fit_seconds"],
        ["1", "74.55", "2", "97", "3.718"],
        ["2", "73.01", "2", "169", "12346"],
    ]
    failed = [rows[0], {"variant": "layers_3", "layers": "3", "status": "FAILED"}]
    lines = compare.terminal_table(compare.table(failed), ("layers",)).splitlines()
    assert lines[0].split()[:2] == ["layers", "status"]  # said only when a variant failed
    assert lines[2].split() == ["3", "FAILED", "NaN", "<NA>", "<NA>", "NaN"]
