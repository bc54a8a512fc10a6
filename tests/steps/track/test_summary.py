"""A run's one-line result (`steps.track.summary`), read back from a real tracking store."""

from __future__ import annotations

import mlflow
import pytest

from steps.track.summary import best_line, result_line


@pytest.fixture(autouse=True)
def experiment(tracking) -> None:
    """This test's own experiment (the fluent API remembers the last one set in the process)."""
    mlflow.set_experiment("summary")


def child(name: str, tags: dict[str, str], metrics: dict[str, float]) -> str:
    with mlflow.start_run(run_name=name, nested=True) as run:
        mlflow.set_tags(tags)
        mlflow.log_metrics(metrics)
    return run.info.run_id


def search_parent(retrain: bool, trials_in_study: int = 3) -> str:
    """A tune parent as `tune` leaves it: trials 0-2 (trial 1 pruned), maybe a retrained best."""
    with mlflow.start_run(run_name="tune dnn · iris") as parent:
        for number, state in enumerate(["COMPLETE", "PRUNED", "COMPLETE"]):
            child(f"trial {number}", {"trial": str(number), "state": state}, {"value": 0.9})
        mlflow.log_metrics({"baseline_linear_accuracy": 0.9, "best_value": 0.95, "best_trial": 2})
        mlflow.log_metrics({"trials_complete": trials_in_study - 1, "trials_pruned": 1})
        mlflow.set_tags({"metric": "val_accuracy"})
        if retrain:
            retrained = child("best", {}, {"test_accuracy": 0.9333, "test_loss": 0.2})
            mlflow.set_tags({"retrained_run_id": retrained})
            mlflow.log_metrics({"test_accuracy": 0.9333, "test_loss": 0.2})
    return parent.info.run_id


def test_a_search_counts_its_trials_apart_from_the_retrained_best():
    line = result_line(search_parent(retrain=True))
    assert line == (
        "3 trials (1 pruned); best trial 2, retrained: test_accuracy 0.9333 (linear 0.9)"
    )


def test_a_search_without_retraining_names_its_best_trials_objective():
    line = result_line(search_parent(retrain=False, trials_in_study=5))
    assert line == "3 trials of 5 in the study (1 pruned); best trial 2: val_accuracy 0.95"


def test_a_sweep_names_its_best_child_run():
    with mlflow.start_run(run_name="layers") as parent:
        child("1", {}, {"test_accuracy": 0.8})
        child("4", {}, {"test_accuracy": 0.9})
    assert result_line(parent.info.run_id) == "2 child runs; best 4: test_accuracy 0.9"


def test_best_line_names_the_best_child_by_the_ranking_metric(tracking):
    with mlflow.start_run(run_name="layers=1,4") as parent:
        child("layers=1", {}, {"test_rmse": 74.55, "test_loss": 5558})
        child("layers=4", {}, {"test_rmse": 73.01, "test_loss": 5330})
    children = tracking.search_runs([parent.info.experiment_id], "tags.mlflow.parentRunId != ''")
    assert best_line(children) == "best: layers=4 (lowest test_rmse, 73.01)"
    assert best_line([]) == ""
