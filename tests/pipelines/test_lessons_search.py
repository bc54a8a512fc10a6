"""Lessons 66-67 end to end: `tune` with Optuna, tracked in MLflow."""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor

import optuna
import pandas as pd
import pytest

from steps.model.families import SEARCHED_BY_ALL

from helpers.runs import (
    artifact_paths,
    assert_clean_failure,
    assert_fit_logged,
    assert_trained_run,
    in_process,
    mlflow_run,
    parents_and_children,
    tiny,
)

# Small trials: iris, 2 epochs, a narrow space; no pruning unless a test asks for it.
SEARCH = tiny("tune") | {
    "dataset": "iris",
    "space": "units=4:16,layers=1:2,batch_size=16",
    "pruner": "none",
}


def test_tune_logs_each_trial_as_a_child_run_and_retrains_the_best(lesson_env, tracking, tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    # Two trials are enough for a best one and for parameter importances (two that vary).
    result = mlflow_run("tune", SEARCH | {"n_trials": 2, "storage": storage}, lesson_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]

    parents, children = parents_and_children(tracking, "tune")
    assert len(parents) == 1
    parent = parents[0]
    [retrained] = [r for r in children[parent.info.run_id] if r.info.run_name == "best"]
    trials = [r for r in children[parent.info.run_id] if r is not retrained]
    assert sorted(r.info.run_name for r in trials) == ["trial 0", "trial 1"]
    assert parent.info.run_name == "tune dnn · iris"
    # the parent logs what applies to all trials, none of what the search chose
    assert not parent.data.params.keys() & set(SEARCHED_BY_ALL)
    study = optuna.load_study(study_name="tune-dnn-iris", storage=storage)
    assert {t.user_attrs["mlflow_run_id"] for t in study.trials} == {r.info.run_id for r in trials}
    # The study names its metric and points at its MLflow experiment and parent run.
    assert study.metric_names == ["val_accuracy"]
    assert study.user_attrs["mlflow_experiment_id"] == parent.info.experiment_id
    assert study.user_attrs["mlflow_parent_run_worker_0"] == parent.info.run_id
    for trial in trials:
        assert trial.info.status == "FINISHED"
        assert trial.data.tags["state"] == "COMPLETE"
        assert {
            "units",
            "layers",
            "dropout",
            "learning_rate",
            "optimizer",
        } <= trial.data.params.keys()
        assert trial.data.params["checkpoint"] == "true"  # -P checkpoint, as any run
        # Logged like any run that trained: per-epoch metrics (learning rate too), the kept
        # epoch, history plot, checkpoint, TensorBoard traces; the objective its best epoch's.
        assert_fit_logged(tracking, trial, tmp_path / trial.info.run_id)
        epochs = int(trial.data.metrics["epochs_run"])
        history = tracking.get_metric_history(trial.info.run_id, "val_accuracy")
        assert [m.step for m in history] == list(range(1, epochs + 1))
        assert trial.data.metrics["value"] == max(m.value for m in history)
        assert "pruned_at_epoch" not in trial.data.metrics

    best = max(trials, key=lambda r: r.data.metrics["value"])
    assert parent.data.metrics["best_value"] == best.data.metrics["value"]
    assert parent.data.tags["best_run_id"] == best.info.run_id
    for name in ("units", "layers", "optimizer", "batch_size"):
        assert parent.data.params[f"best_{name}"] == best.data.params[name]
    assert parent.data.metrics["trials_complete"] == 2
    assert parent.data.tags["study"] == "tune-dnn-iris"
    artifacts = artifact_paths(tracking, parent.info.run_id)
    for path in ("plots/optimization_history.png", "plots/param_importances.png"):
        assert path in artifacts
    # The terminal: a line per trial with its parameters (numbers to 4 significant digits)
    # and its score, then the best, rounded alike.
    lines = result.stdout.splitlines()
    for trial in study.trials:
        [line] = [line for line in lines if line.startswith(f"trial {trial.number} (")]
        assert line.endswith(f"): val_accuracy={trial.value:.4f} after 2 epochs"), line
        assert shown_params(line) == rounded(trial.params), line
    best_trial = study.best_trial
    [line] = [line for line in lines if line.startswith("best of 2 trials (0 pruned): ")]
    assert line.startswith(f"best of 2 trials (0 pruned): trial {best_trial.number}, ")
    assert f", val_accuracy={best_trial.value:.4f} (" in line
    assert shown_params(line) == rounded(best_trial.params)
    table = pd.read_csv(tracking.download_artifacts(parent.info.run_id, "search/trials.csv"))
    assert sorted(table["number"]) == [0, 1]
    assert set(table["state"]) == {"COMPLETE"}
    # the best configuration, retrained in a child run with its real parameters: the full
    # lesson contract; the parent points at its model and keeps its test metrics
    assert_trained_run(tracking, retrained, "classification", tmp_path)
    for name in ("units", "layers", "optimizer", "batch_size"):
        assert retrained.data.params[name] == best.data.params[name]
    assert parent.data.tags["model_uri"] == retrained.data.tags["model_uri"]
    assert parent.data.tags["retrained_run_id"] == retrained.info.run_id
    model_id = retrained.data.tags["model_uri"].removeprefix("models:/")
    assert tracking.get_logged_model(model_id).name == "tune-dnn-iris-best"
    # its description counts the trials apart from the retrained best
    note = f"2 trials; best trial {best_trial.number}, retrained: test_accuracy "
    assert parent.data.tags["mlflow.note.content"].startswith(note)
    test_metrics = {k: v for k, v in retrained.data.metrics.items() if k.startswith("test_")}
    assert test_metrics and test_metrics.items() <= parent.data.metrics.items()
    # ...beside the baselines of the split every trial used, computed once on the parent.
    to_beat = {k: v for k, v in parent.data.metrics.items() if k.startswith("baseline_")}
    assert to_beat.keys() == {"baseline_majority_accuracy", "baseline_linear_accuracy"}
    assert to_beat.items() <= retrained.data.metrics.items()

    # -P resume=true continues the same study up to n_trials in all: one more trial, which
    # trains silently (no Keras epoch lines even at verbose=2) and says how it went.
    resumed = SEARCH | {"n_trials": 3, "storage": storage, "resume": "true", "retrain": "false"}
    result = in_process("tune", resumed | {"verbose": 2}, lesson_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Epoch 1/2" not in result.stdout and "s/step" not in result.stdout
    assert [line[:9] for line in result.stdout.splitlines() if line.startswith("trial")] == [
        "trial 2 ("
    ]
    parents, children = parents_and_children(tracking, "tune")
    second = next(p for p in parents if p.info.run_id != parent.info.run_id)
    assert second.info.status == "FINISHED"
    assert [r.info.run_name for r in children[second.info.run_id]] == ["trial 2"]
    assert "model_uri" not in second.data.tags  # retrain=false
    study = optuna.load_study(study_name="tune-dnn-iris", storage=storage)
    assert [t.number for t in study.trials] == [0, 1, 2]
    best_trial = study.best_trial
    assert second.data.tags["mlflow.note.content"] == (
        f"1 trial of 3 in the study; best trial {best_trial.number}: "
        f"val_accuracy {best_trial.value:.4g}"
    )
    assert (
        len(pd.read_csv(tracking.download_artifacts(second.info.run_id, "search/trials.csv"))) == 3
    )


def shown_params(line: str) -> dict[str, str]:
    """The `name=value` pairs inside a line's parentheses."""
    [inside] = re.findall(r"\(([^()]+=[^()]*)\)", line)
    return dict(pair.split("=") for pair in inside.split(", "))


def rounded(params: dict[str, object]) -> dict[str, str]:
    """What a user should read: numbers to 4 significant digits, the rest as is."""
    return {k: f"{v:.4g}" if isinstance(v, float) else str(v) for k, v in params.items()}


def test_wrong_metric_fails_before_the_first_trial_naming_the_real_ones(
    lesson_env, tracking, tmp_path
):
    storage = tmp_path / "optuna.db"
    params = SEARCH | {"metric": "val_acc", "storage": f"sqlite:///{storage}"}
    result = in_process("tune", params, lesson_env, tmp_path)
    assert_clean_failure(
        result,
        tracking,
        "tune",
        "unknown metric 'val_acc': this model reports accuracy, loss, val_accuracy, val_loss; "
        "pick one with -P metric=",
    )
    assert not storage.exists()  # no study was created, no trial ran


def test_without_keras_accuracy_the_search_minimizes_the_validation_loss(
    lesson_env, tracking, tmp_path
):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    params = SEARCH | {"metrics": "", "n_trials": 1, "retrain": "false", "storage": storage}
    result = in_process("tune", params, lesson_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    [parent], _ = parents_and_children(tracking, "tune")
    assert (parent.data.tags["metric"], parent.data.tags["direction"]) == ("val_loss", "minimize")


@pytest.mark.postgres
def test_two_workers_share_one_postgres_study_each_trial_recorded_once(
    postgres_databases, lesson_env, tmp_path
):
    """PostgreSQL as the Optuna storage and as MLflow's backend store, two workers at once."""
    import mlflow

    optuna_url, mlflow_url = postgres_databases
    # Create both schemas and the experiment once, as `make tune-workers` does, so the
    # workers do not race to create them.
    client = mlflow.MlflowClient(tracking_uri=mlflow_url)
    client.create_experiment("tune", artifact_location=str(tmp_path / "artifacts"))
    optuna.storages.RDBStorage(optuna_url)
    env = lesson_env | {"MLFLOW_TRACKING_URI": mlflow_url, "PGPASSWORD": os.environ["PGPASSWORD"]}
    params = SEARCH | {
        "n_trials": 4,
        "storage": optuna_url,
        "study_name": "scale-out",
        "resume": "true",
        "retrain": "false",
    }
    with ThreadPoolExecutor(2) as pool:
        results = list(
            pool.map(
                lambda worker: mlflow_run("tune", params | {"worker": worker}, env, tmp_path),
                (1, 2),
            )
        )
    for result in results:
        assert result.returncode == 0, result.stderr[-3000:]

    study = optuna.load_study(study_name="scale-out", storage=optuna_url)
    assert len(study.trials) >= 4  # MaxTrialsCallback stops each worker at 4 started in all
    assert all(t.state.is_finished() for t in study.trials)
    parents, children = parents_and_children(client, "tune")
    assert len(parents) == 2
    assert {p.data.params["worker"] for p in parents} == {"1", "2"}
    trial_runs = [run for runs in children.values() for run in runs]
    numbers = sorted(int(run.data.tags["trial"]) for run in trial_runs)
    assert numbers == [t.number for t in study.trials]  # each trial once in MLflow
    assert {t.user_attrs["mlflow_run_id"] for t in study.trials} == {
        run.info.run_id for run in trial_runs
    }
    for run in trial_runs:  # every worker's trials logged like any training run
        assert_fit_logged(client, run, tmp_path / run.info.run_id)


# ------------------------------------------------------------------ credentials

SECRET_URL = "postgresql://lessons:s3cr3t@127.0.0.1:9/optuna"  # nothing listens on port 9


def everything_stored(client) -> str:
    """Every parameter and tag of every run in the store, as one text."""
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    return " ".join(f"{r.data.params} {r.data.tags}" for r in runs)


def test_mlflow_run_with_a_password_in_a_parameter_stops_before_storing_it(
    lesson_env, tracking, tmp_path
):
    result = mlflow_run("tune", SEARCH | {"storage": SECRET_URL}, lesson_env, tmp_path)
    assert result.returncode == 2
    assert "s3cr3t" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert lines == [
        "error: -P storage= holds a password, which mlflow run would store with the run and "
        "print; leave it out of the URL: libpq reads it from PGPASSWORD or ~/.pgpass (or give "
        "the whole URL in OPTUNA_STORAGE)"
    ]
    assert "Traceback" not in result.stderr
    assert "s3cr3t" not in everything_stored(tracking)


def test_a_password_in_the_storage_parameter_is_refused_without_showing_it(
    lesson_env, tracking, tmp_path
):
    result = in_process("tune", SEARCH | {"storage": SECRET_URL}, lesson_env, tmp_path)
    message = (
        "bad value 'postgresql://lessons:***@127.0.0.1:9/optuna' for storage: leave the "
        "password out of the URL"
    )
    assert_clean_failure(result, tracking, "tune", message, parameter_error=True)
    assert "s3cr3t" not in result.stdout + result.stderr


def test_a_storage_url_from_the_environment_never_reaches_the_run(lesson_env, tracking, tmp_path):
    env = lesson_env | {"OPTUNA_STORAGE": SECRET_URL}
    result = in_process("tune", SEARCH, env, tmp_path)
    message = "cannot open Optuna storage postgresql://lessons:***@127.0.0.1:9/optuna: "
    assert_clean_failure(result, tracking, "tune", message)
    assert "s3cr3t" not in result.stdout + result.stderr
    assert "s3cr3t" not in everything_stored(tracking)
