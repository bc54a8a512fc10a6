"""The small-data fit of `tabular` (steps/train/folds.py) end to end: the folds on the run
(metrics, table, plot), the logged model one Keras model predicting as the ensemble or the
refit it reports, the same numbers again with the same seed, and after a kill and
`-P resume=true`."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from steps.data import cache, catalog
from steps.data.prepare import prepare

from helpers.options import prepare_options
from helpers.runs import TINY, artifact_paths, finished_run, in_process, runs_of, tiny

FOLDED = TINY | {"dataset": "iris", "folds": 3}


def by_step(client, run_id: str, name: str) -> dict[int, float]:
    return {m.step: m.value for m in client.get_metric_history(run_id, name)}


def iris_split(seed: int):
    """The test rows of iris as the run split them."""
    data, _ = cache.load_cached(catalog.resolve("iris"))
    return prepare(data, prepare_options(seed=seed)).data


def test_kfold_ensemble_shows_its_folds_and_logs_one_model_averaging_them(
    lesson_env, tracking, tmp_path
):
    import keras
    import mlflow

    result = in_process("tabular", FOLDED, lesson_env, tmp_path)
    run = finished_run(result, tracking, "tabular")
    run_id, metrics = run.info.run_id, run.data.metrics
    assert "3-fold ensemble, folds kept epochs" in result.stdout
    assert run.data.tags["fit"].startswith("3-fold ensemble, folds kept epochs ")
    assert run.data.tags["mlflow.note.content"].endswith(f"; {run.data.tags['fit']}")

    # Each fold's per-epoch curves under its name, its kept epoch and held-out scores by fold.
    for fold in (1, 2, 3):
        assert sorted(by_step(tracking, run_id, f"fold{fold}_val_loss")) == [1, 2]
    held_out = by_step(tracking, run_id, "fold_held_out_accuracy")
    kept = by_step(tracking, run_id, "fold_kept_epoch")
    assert sorted(held_out) == sorted(kept) == [1, 2, 3]
    assert metrics["cv_accuracy"] == pytest.approx(np.mean(list(held_out.values())))
    assert metrics["epochs_run"] == 6  # 2 epochs in each of 3 folds
    for fold, epoch in kept.items():  # the held-out score is the kept epoch's val_accuracy
        curve = by_step(tracking, run_id, f"fold{fold}_val_accuracy")
        assert held_out[fold] == pytest.approx(curve[int(epoch)])

    artifacts = set(artifact_paths(tracking, run_id))
    assert {"folds/folds.csv", "plots/history.png", "model_summary.txt"} <= artifacts
    table = tracking.download_artifacts(run_id, "folds/folds.csv", str(tmp_path))
    import pandas as pd

    folds = pd.read_csv(table)
    assert folds["fold"].tolist() == ["fold1", "fold2", "fold3"]
    assert folds["train_rows"].sum() == 2 * folds["held_out_rows"].sum() == 2 * 120
    assert folds["held_out_accuracy"].tolist() == pytest.approx(list(held_out.values()))

    # One model: the three fold models inside, their outputs averaged; served as it scored.
    uri = run.data.tags["model_uri"]
    model = mlflow.tensorflow.load_model(uri)
    members = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    assert [m.name for m in members] == ["fold1", "fold2", "fold3"]
    data = iris_split(seed=42)
    served = np.asarray(mlflow.pyfunc.load_model(uri).predict(data.x_test))
    averaged = np.mean([m.predict(data.x_test, verbose=0) for m in members], axis=0)
    np.testing.assert_allclose(served, averaged, rtol=1e-5, atol=1e-6)
    accuracy = np.mean(served.argmax(axis=1) == data.y_test.argmax(axis=1))
    assert metrics["test_accuracy"] == pytest.approx(accuracy)


@pytest.mark.slow
def test_kfold_refit_trains_one_model_on_every_row_the_same_way_twice(
    lesson_env, tracking, tmp_path
):
    import keras
    import mlflow

    params = FOLDED | {"fold_mode": "refit", "folds": 2}
    ran = [finished_run(in_process("tabular", params, lesson_env, tmp_path), tracking, "tabular")]
    env = lesson_env | {"MLFLOW_EXPERIMENT_NAME": "again"}
    ran.append(finished_run(in_process("tabular", params, env, tmp_path), tracking, "again"))
    run = ran[0]
    kept = by_step(tracking, run.info.run_id, "fold_kept_epoch")
    refit_epochs = round(np.mean(list(kept.values())))
    assert run.data.metrics["best_epoch"] == refit_epochs
    # The refit's own curve, under Keras's names: every training row, no validation.
    assert sorted(by_step(tracking, run.info.run_id, "loss")) == list(range(1, refit_epochs + 1))
    assert not by_step(tracking, run.info.run_id, "val_loss")
    table = tracking.download_artifacts(run.info.run_id, "folds/folds.csv", str(tmp_path))
    import pandas as pd

    rows = pd.read_csv(table).set_index("fold")
    assert (
        rows.loc["refit", "train_rows"] == 120 and rows.loc["refit", "epochs_run"] == refit_epochs
    )
    model = mlflow.tensorflow.load_model(run.data.tags["model_uri"])
    assert not [layer for layer in model.layers if isinstance(layer, keras.Model)]

    same = ("test_accuracy", "test_loss", "cv_accuracy", "cv_loss", "best_epoch")
    assert {k: ran[1].data.metrics[k] for k in same} == {k: run.data.metrics[k] for k in same}


# Slow enough per epoch to be caught inside the second fold, small enough to stay seconds.
RESUMABLE = {
    "dataset": "diabetes",
    "folds": 2,
    "epochs": 5,
    "batch_size": 4,
    "units": 8,
    "patience": 0,
    "verbose": 0,
}


@pytest.mark.slow
def test_kfold_fit_killed_in_its_second_fold_resumes_to_the_same_numbers(
    lesson_env, tracking, tmp_path
):
    env = lesson_env | {"KERAS_LESSONS_SAVE_SECONDS": "0", "MLFLOW_EXPERIMENT_NAME": "killed"}
    args = [sys.executable, "-m", "pipelines", "tabular"]
    for key, value in RESUMABLE.items():
        args += [f"--{key}", str(value)]
    process = subprocess.Popen(
        args, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 240
    while True:
        assert process.poll() is None, process.stderr.read()[-2000:]
        assert time.monotonic() < deadline, "no second fold within 240 s"
        runs = runs_of(tracking, "killed")
        if runs and len(tracking.get_metric_history(runs[0].info.run_id, "fold2_loss")) >= 2:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    resumed = subprocess.run(
        [*args, "--resume", "true"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    run = finished_run(resumed, tracking, "killed")

    reference_env = lesson_env | {"MLFLOW_EXPERIMENT_NAME": "left alone"}
    done = in_process("tabular", RESUMABLE, reference_env, tmp_path)
    reference = finished_run(done, tracking, "left alone")
    for name in ("test_rmse", "test_r2", "cv_loss", "cv_mae", "epochs_run", "best_epoch"):
        assert run.data.metrics[name] == pytest.approx(reference.data.metrics[name], rel=1e-5)
    for name in ("fold_held_out_loss", "fold2_val_loss"):
        got = by_step(tracking, run.info.run_id, name)
        expected = by_step(tracking, reference.info.run_id, name)
        assert sorted(got) == sorted(expected), name
        assert [got[step] for step in sorted(got)] == pytest.approx(
            [expected[step] for step in sorted(expected)], rel=1e-5
        ), name


@pytest.mark.slow
def test_tune_scores_a_kfold_trial_by_its_cross_validation_and_retrains_it_so(
    lesson_env, tracking, tmp_path
):
    params = tiny("tune") | {
        "dataset": "iris",
        "folds": 2,
        "n_trials": 1,
        "pruner": "none",
        "space": "units=4:8,layers=1,batch_size=16,fold_mode=refit",
        "storage": f"sqlite:///{tmp_path / 'optuna.db'}",
    }
    result = in_process("tune", params, lesson_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = runs_of(tracking, "tune")
    trial = next(r for r in runs if r.info.run_name == "trial 0")
    best = next(r for r in runs if r.info.run_name == "best")
    assert trial.data.metrics["value"] == trial.data.metrics["cv_accuracy"]
    assert trial.data.tags["fit"].startswith("2-fold refit, folds kept epochs ")
    assert best.data.tags["fit"] == trial.data.tags["fit"]  # retrained as the trial was fitted
    assert best.data.metrics["cv_accuracy"] == trial.data.metrics["cv_accuracy"]
    assert "folds/folds.csv" in artifact_paths(tracking, best.info.run_id, "folds")
