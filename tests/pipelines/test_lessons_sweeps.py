"""Sweeps (lessons 09, 53, 73, 77): a parameter given as a comma list trains a child run per
value under one parent, which logs the comparison table, chart and curves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.runs import (
    ONE_FIT,
    TINY,
    TINY_TALKING,
    artifact_paths,
    assert_clean_failure,
    assert_no_tensorflow_warnings,
    assert_trained_run,
    in_process,
    mlflow_run,
    parents_and_children,
)


def sweep_runs(tracking, experiment: str):
    """(the parent, its children oldest first) of the one sweep in `experiment`."""
    parents, children = parents_and_children(tracking, experiment)
    assert len(parents) == 1, f"{len(parents)} top-level runs"
    kids = sorted(children[parents[0].info.run_id], key=lambda run: run.info.start_time)
    return parents[0], kids


def comparison(tracking, parent, tmp_path) -> pd.DataFrame:
    local = tracking.download_artifacts(parent.info.run_id, "comparison/sweep.csv", str(tmp_path))
    return pd.read_csv(local)


@pytest.mark.slow
def test_a_depth_sweep_trains_a_child_per_depth(lesson_env, tracking, tmp_path):
    """Lesson 09 through the real `mlflow run`: MLproject takes the list as it is typed;
    with Keras's default verbosity, the terminal shows no TensorFlow warning."""
    params = TINY_TALKING | {"layers": "1,3"}
    result = mlflow_run("dnn_regression", params, lesson_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert_no_tensorflow_warnings(result)

    parent, kids = sweep_runs(tracking, "dnn_regression")
    assert parent.info.status == "FINISHED"
    assert parent.info.run_name == "dnn_regression · diabetes · layers=1,3"
    assert parent.data.params["layers"] == "1,3" and parent.data.tags["sweep"] == "layers"
    assert [k.info.run_name for k in kids] == ["layers=1", "layers=3"]
    assert [k.data.params["layers"] for k in kids] == ["1", "3"]
    assert {k.data.params["units"] for k in kids} == {"8"}  # the rest as given, for each
    for kid in kids:
        assert_trained_run(tracking, kid, "regression", tmp_path / kid.info.run_id)
        assert not [name for name in kid.data.metrics if "accuracy" in name]  # lessons 07-08

    table = comparison(tracking, parent, tmp_path)
    assert table["variant"].tolist() == ["layers_1", "layers_3"]
    assert table["layers"].tolist() == [1, 3]
    assert table["status"].tolist() == ["FINISHED", "FINISHED"]
    for kid, (_, row) in zip(kids, table.iterrows(), strict=True):
        for name in ("test_r2", "test_rmse", "parameters", "epochs_run"):
            assert row[name] == pytest.approx(kid.data.metrics[name]), name
    shallow, deep = (k.data.metrics for k in kids)
    assert deep["parameters"] == shallow["parameters"] + 2 * (8 * 8 + 8)
    metrics = parent.data.metrics
    assert metrics["test_r2_layers_1"] == shallow["test_r2"]
    assert metrics["test_r2_ratio_layers_3"] == pytest.approx(deep["test_r2"] / shallow["test_r2"])
    # One fit per depth: its time and time ratio are said to be one measurement, not a finding.
    assert "fit_seconds_ratio_layers_3" in metrics
    assert parent.data.tags["timings"] == (
        "fit_seconds, seconds_per_epoch and fit_seconds_ratio_*: one measurement each, not "
        "repeated (their spread is unknown; machine load alone can move them by tens of percent)"
    )
    assert f"times: {parent.data.tags['timings']}" in result.stdout.splitlines()
    assert {"plots/comparison.png", "plots/curves.png"} <= set(
        artifact_paths(tracking, parent.info.run_id, "plots")
    )
    best = min(kids, key=lambda k: k.data.metrics["test_rmse"])
    assert parent.data.tags["mlflow.note.content"].startswith(
        f"2 child runs; best {best.info.run_name}: test_rmse {best.data.metrics['test_rmse']:.4g} "
        "(linear "
    )
    # The terminal: what varied, the test scores, epochs, size and time, counts as integers;
    # then how sure its times are, and the best child by the ranking metric.
    lines = result.stdout.splitlines()
    [at] = [n for n, line in enumerate(lines) if line.split()[:1] == ["layers"]]
    assert lines[at].split() == [
        "layers",
        *("test_loss", "test_mae", "test_r2", "test_rmse"),
        *("epochs_run", "parameters", "fit_seconds"),
    ]
    for kid, line in zip(kids, lines[at + 1 : at + 3], strict=True):
        counts = [f"{kid.data.metrics[name]:.0f}" for name in ("epochs_run", "parameters")]
        assert line.split()[0] == kid.data.params["layers"] and line.split()[5:7] == counts
    rmse = best.data.metrics["test_rmse"]
    assert lines[at + 3].startswith("times: fit_seconds, seconds_per_epoch and ")
    assert lines[at + 4] == f"best: {best.info.run_name} (lowest test_rmse, {rmse:.4g})"
    # Lesson 09's verdict: the depth whose R² is best, and how far the deepest is below it.
    r2 = {int(k.data.params["layers"]): k.data.metrics["test_r2"] for k in kids}
    top = max(r2, key=r2.get)
    assert metrics["best_layers"] == top
    assert metrics["deepest_shortfall"] == pytest.approx(r2[top] - r2[3])
    verdict = parent.data.tags["verdict"]
    assert verdict.startswith(f"test_r2: layers=1 {r2[1]:.3g}, layers=3 {r2[3]:.3g}; ")
    assert f"best at layers={top}" in verdict
    assert parent.data.tags["mlflow.note.content"].endswith(f". {verdict}")
    assert f"verdict: {verdict}" in lines


@pytest.mark.slow
def test_a_depth_sweep_over_seeds_reports_each_depths_mean_and_spread(
    lesson_env, tracking, tmp_path
):
    """Lesson 09 over two seeds: the verdict gives each depth's mean R² and its spread."""
    params = TINY | {"layers": "1,2", "seed": "1,2", "epochs": 1}
    result = in_process("dnn_regression", params, lesson_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]

    parent, kids = sweep_runs(tracking, "dnn_regression")
    assert [k.info.run_name for k in kids] == [
        *("layers=1 seed=1", "layers=1 seed=2", "layers=2 seed=1", "layers=2 seed=2")
    ]
    scores = {}
    for kid in kids:
        scores.setdefault(int(kid.data.params["layers"]), []).append(kid.data.metrics["test_r2"])
    means = {depth: np.mean(values) for depth, values in scores.items()}
    sds = {depth: np.std(values, ddof=1) for depth, values in scores.items()}
    metrics, verdict = parent.data.metrics, parent.data.tags["verdict"]
    for depth in (1, 2):
        assert metrics[f"test_r2_mean_layers_{depth}"] == pytest.approx(means[depth])
        assert metrics[f"test_r2_sd_layers_{depth}"] == pytest.approx(sds[depth])
    assert verdict.startswith(
        f"test_r2 (mean ± sd over 2 seeds): layers=1 {means[1]:.3g} ± {sds[1]:.2g}, "
        f"layers=2 {means[2]:.3g} ± {sds[2]:.2g}; best at layers={max(means, key=means.get)}"
    )
    assert parent.data.tags["mlflow.note.content"].endswith(f". {verdict}")


@pytest.mark.slow
def test_two_lists_train_every_combination(lesson_env, tracking, tmp_path):
    """Lesson 73: BatchNormalization on and off, each at two learning rates."""
    params = TINY | ONE_FIT | {"dataset": "iris", "batch_norm": "false,true"}
    params |= {"learning_rate": "0.001,0.05"}
    result = in_process("tabular", params, lesson_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]

    parent, kids = sweep_runs(tracking, "tabular")
    assert parent.data.tags["sweep"] == "batch_norm, learning_rate"
    assert [k.info.run_name for k in kids] == [
        "batch_norm=false learning_rate=0.001",
        "batch_norm=false learning_rate=0.05",
        "batch_norm=true learning_rate=0.001",
        "batch_norm=true learning_rate=0.05",
    ]
    pairs = [(k.data.params["batch_norm"], k.data.params["learning_rate"]) for k in kids]
    assert pairs == [("false", "0.001"), ("false", "0.05"), ("true", "0.001"), ("true", "0.05")]
    table = comparison(tracking, parent, tmp_path)
    assert table["variant"].tolist()[-1] == "batch_norm_true_learning_rate_0.05"
    by_run = [k.data.metrics["test_accuracy"] for k in kids]
    assert table["test_accuracy"].tolist() == pytest.approx(by_run)
    normalised = [k.data.metrics["parameters"] for k in kids]
    assert normalised[0] == normalised[1] < normalised[2] == normalised[3]  # BN's own weights
    key = "test_accuracy_batch_norm_true_learning_rate_0.05"
    assert parent.data.metrics[key] == by_run[3]
    for kid in kids:  # a table's class, as any classification run: its confusion matrix
        assert "plots/confusion_matrix.png" in artifact_paths(tracking, kid.info.run_id, "plots")
    # Lesson 73's verdict: what BatchNormalization changed at each rate.
    for rate, off, on in (("0.001", 0, 2), ("0.05", 1, 3)):
        change = by_run[on] - by_run[off]
        assert parent.data.metrics[f"batch_norm_effect_learning_rate_{rate}"] == pytest.approx(
            change
        )
        assert (
            f"at learning_rate={rate}: test_accuracy {by_run[off]:.3g} → {by_run[on]:.3g} "
            f"({change:+.3g}), kept epoch "
        ) in parent.data.tags["verdict"]


@pytest.mark.slow
def test_a_sweep_over_data_sets_scores_each_on_its_own(lesson_env, tracking, tmp_path):
    """Lesson 53: ModelCheckpoint on several data sets, a classification and a regression."""
    params = TINY | {"dataset": "iris,diabetes"}
    result = in_process("checkpoint", params, lesson_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]

    parent, kids = sweep_runs(tracking, "checkpoint")
    assert parent.info.run_name == "checkpoint dnn · iris,diabetes"
    assert [k.data.tags["dataset"] for k in kids] == ["iris", "diabetes"]
    for kid in kids:
        assert "checkpoints/best.keras" in artifact_paths(tracking, kid.info.run_id, "checkpoints")
    table = comparison(tracking, parent, tmp_path)
    iris, diabetes = (row for _, row in table.iterrows())
    assert iris["test_accuracy"] == pytest.approx(kids[0].data.metrics["test_accuracy"])
    assert pd.isna(iris["test_rmse"]) and pd.isna(diabetes["test_accuracy"])
    assert diabetes["best_epoch_test_rmse"] == pytest.approx(
        kids[1].data.metrics["best_epoch_test_rmse"]
    )


def test_a_failed_variant_leaves_the_others_and_says_why(lesson_env, tracking, tmp_path):
    params = TINY | {"optimizer": "sgd", "learning_rate": "0.00001,10", "epochs": 3}
    result = in_process("dnn_regression", params, lesson_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]

    parent, (fine, diverged) = sweep_runs(tracking, "dnn_regression")
    assert parent.info.status == "FINISHED" and fine.info.status == "FINISHED"
    assert diverged.info.status == "FAILED"
    reason = diverged.data.tags["error"]
    assert "learning_rate" in reason
    assert diverged.data.tags["mlflow.note.content"] == f"**FAILED**: {reason}"
    assert f"--- learning_rate=10 FAILED: {reason}" in result.stdout
    table = comparison(tracking, parent, tmp_path)
    assert table["status"].tolist() == ["FINISHED", "FAILED"]
    assert parent.data.tags["mlflow.note.content"].startswith("2 child runs (1 failed); best ")


@pytest.mark.slow
def test_a_sweep_fails_when_every_variant_does(lesson_env, tracking, tmp_path):
    params = TINY | {"optimizer": "sgd", "learning_rate": "1,10", "epochs": 3}
    result = in_process("dnn_regression", params, lesson_env, tmp_path)
    assert result.returncode == 2
    parent, kids = sweep_runs(tracking, "dnn_regression")
    assert [k.info.status for k in kids] == ["FAILED", "FAILED"]
    assert parent.info.status == "FAILED"
    first = kids[0].data.tags["error"]
    assert parent.data.tags["error"] == f"every variant failed; the first: learning_rate=1: {first}"


@pytest.mark.parametrize(
    ("entry_point", "params", "message"),
    [
        ("dnn_regression", {"layers": "1,4,1"}, "layers lists 1 twice: give each value once"),
        ("dnn_regression", {"layers": "1,x"}, "bad value 'x' for layers: use 0 to 64"),
        (
            "tabular",
            {"units": ",".join(str(n) for n in range(1, 10)), "layers": "1,2,3,4,5,6,7,8"},
            "the sweep has 72 variants: give at most 64",
        ),
        (
            "tabular",
            {"layers": "1,2", "resume": "true"},
            "-P resume=true continues one interrupted run, not a sweep: run the sweep again, "
            "or resume one variant with single values",
        ),
        # An entry point that compares inside one run takes single values.
        ("optimizers", {"epochs": "1,2"}, "bad value '1,2' for epochs: use 1 or more"),
    ],
)
def test_a_sweep_is_refused_before_anything_trains(
    entry_point, params, message, lesson_env, tracking, tmp_path
):
    result = in_process(entry_point, params, lesson_env, tmp_path)
    assert_clean_failure(result, tracking, entry_point, message, parameter_error=True)
