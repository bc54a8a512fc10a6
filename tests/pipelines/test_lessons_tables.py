"""Lessons 38, 42-46, 58-61 end to end: `tabular`, `overfitting`, `csv`, `compare_models`,
and the baselines every run logs beside its test scores. One test per entry point launches
the real `mlflow run`; the others run it in process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import upstream_files
from helpers.runs import (
    ONE_FIT,
    TINY,
    TINY_TALKING,
    artifact_paths,
    assert_clean_failure,
    assert_no_tensorflow_warnings,
    assert_trained_run,
    finished_run,
    in_process,
    mlflow_run,
    trained_run,
)


def parent_run(client, experiment: str):
    """The one top-level run of a comparison (its children are in the same experiment)."""
    found = client.get_experiment_by_name(experiment)
    runs = client.search_runs([found.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1, f"{len(parents)} top-level runs in {experiment!r}"
    return parents[0]


def children(client, parent) -> list:
    """The parent's child runs, oldest first."""
    found = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
        order_by=["start_time ASC"],
    )
    return list(found)


def read_table(client, run, path: str, tmp_path) -> pd.DataFrame:
    return pd.read_csv(client.download_artifacts(run.info.run_id, path, str(tmp_path)))


# ------------------------------------------------------------------ tabular (43-46, 61)


@pytest.mark.slow
def test_tabular_learns_boston_housing_with_conv1d(lesson_env, tracking, tmp_path, upstream):
    """Keras's boston_housing archive, through its download function, into a Conv1D."""
    import mlflow

    archive = upstream_files.write_boston_housing_npz(upstream)
    params = TINY | ONE_FIT | {"dataset": "boston_housing", "model": "conv1d"}
    result = mlflow_run("tabular", params, lesson_env, tmp_path)
    run = trained_run(result, tracking, "tabular", "regression", tmp_path)
    assert run.data.tags["lesson"] == "43-46, 61"
    assert run.data.params["model"] == "conv1d"
    # Lesson 34: the scaling fitted on the training rows is the model's first layer, and the
    # target's the last (learnt standardized, predicted in its own units)
    summary = Path(
        tracking.download_artifacts(run.info.run_id, "model_summary.txt", str(tmp_path))
    ).read_text()
    kinds = [line.split("(")[1].split(")")[0] for line in summary.splitlines() if "│ " in line]
    assert (kinds[1], kinds[-1]) == ("Normalization", "Rescaling")  # -P scaler=auto: standard
    assert run.data.params["scaler"] == "auto"
    assert "plots/predicted_vs_true.png" in artifact_paths(tracking, run.info.run_id, "plots")
    # The logged model takes the 13 raw features and scores the run's own test rows (Keras's
    # split: the last 20% after a seed-113 shuffle) as logged.
    with np.load(archive) as data:
        x, y = data["x"], data["y"]
    order = np.arange(len(x))
    np.random.RandomState(113).shuffle(order)
    x_test, y_test = x[order][48:].astype(np.float32), y[order][48:]
    predicted = np.asarray(mlflow.pyfunc.load_model(run.data.tags["model_uri"]).predict(x_test))
    assert predicted.shape == (12, 1)
    rmse = float(np.sqrt(np.mean((predicted.ravel() - y_test) ** 2)))
    assert rmse == pytest.approx(run.data.metrics["test_rmse"], rel=1e-4)


def test_tabular_refuses_images(lesson_env, tracking, tmp_path):
    result = in_process("tabular", TINY | {"dataset": "digits"}, lesson_env, tmp_path)
    assert_clean_failure(
        result, tracking, "tabular", "digits is a set of images; use image_classify for images"
    )


# The defaults' mean over seeds 42, 1, 2, 3 and 4 on each seed's held-out 20% (accuracy, R2 for
# diabetes) and its standard deviation, as bench/tabular_scores.py recorded them with the
# 5-fold fit on the JAX backend (docs/performance.md). One split says little (iris moves
# from 0.87 to 1.00 with the seed), so the check is on the mean. A guard against regressions,
# not a target: each seed's split and fit are deterministic on the CPU, so an unchanged
# pipeline on JAX meets its recorded mean exactly; the bar leaves two standard errors
# (2 sd / sqrt 5) for a change that only reshuffles the randomness, as another backend does.
SEEDS = (42, 1, 2, 3, 4)
RECORDED = {
    "iris": (0.940, 0.049),
    "breast_cancer": (0.972, 0.011),
    "wine": (0.994, 0.012),
    "diabetes": (0.447, 0.042),
}


@pytest.mark.slow
@pytest.mark.parametrize("dataset", list(RECORDED))
def test_tabular_defaults_keep_their_five_seed_mean(dataset, lesson_env, tracking, tmp_path):
    """With default parameters (a DNN): the mean test score over five seeds."""
    metric = "test_r2" if dataset == "diabetes" else "test_accuracy"
    scores = []
    for seed in SEEDS:
        params = {"dataset": dataset, "seed": seed, "verbose": 0}
        result = in_process("tabular", params, lesson_env, tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        experiment = tracking.get_experiment_by_name("tabular").experiment_id
        (run,) = tracking.search_runs([experiment], f"params.seed = '{seed}'")
        scores.append(run.data.metrics[metric])
    mean, sd = RECORDED[dataset]
    bar = mean - 2 * sd / len(SEEDS) ** 0.5
    assert np.mean(scores) >= bar, (
        f"{metric} below {bar:.3f}: {dict(zip(SEEDS, scores, strict=True))}"
    )


# ------------------------------------------------------------------ overfitting (42)


@pytest.mark.slow
def test_overfitting_compares_plain_and_regularized_children(lesson_env, tracking, tmp_path):
    params = TINY_TALKING | {"epochs": 3, "train_rows": 100, "dropout": 0.5, "l2": 0.01}
    result = mlflow_run("overfitting", params, lesson_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert_no_tensorflow_warnings(result)  # two models in one process, at default verbosity
    parent = parent_run(tracking, "overfitting")
    assert parent.data.params["train_rows_used"] == "100"

    plain, regularized = children(tracking, parent)
    assert [plain.data.tags["variant"], regularized.data.tags["variant"]] == [
        "plain",
        "regularized",
    ]
    assert (plain.data.params["dropout"], plain.data.params["l2"]) == ("0", "0")
    assert (regularized.data.params["dropout"], regularized.data.params["l2"]) == ("0.5", "0.01")
    for child in (plain, regularized):
        assert_trained_run(tracking, child, "classification", tmp_path / child.info.run_id)
        assert child.data.tags["dataset"] == "breast_cancer" and child.data.tags["lesson"] == "42"

    # Each gap on the parent is the child's last-epoch val_loss - loss / accuracy - val_accuracy.
    for child in (plain, regularized):
        name, history = child.data.tags["variant"], {}
        for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
            history[key] = tracking.get_metric_history(child.info.run_id, key)[-1].value
        assert parent.data.metrics[f"loss_gap_{name}"] == pytest.approx(
            history["val_loss"] - history["loss"], abs=1e-6
        )
        assert parent.data.metrics[f"accuracy_gap_{name}"] == pytest.approx(
            history["accuracy"] - history["val_accuracy"], abs=1e-6
        )
    # The baselines, once on the parent, from the rows both variants learn from.
    to_beat = {k: v for k, v in parent.data.metrics.items() if k.startswith("baseline_")}
    assert to_beat.keys() == {"baseline_majority_accuracy", "baseline_linear_accuracy"}
    for child in (plain, regularized):
        assert to_beat.items() <= child.data.metrics.items()
    table = read_table(tracking, parent, "comparison/overfitting.csv", tmp_path)
    assert table["variant"].tolist() == ["plain", "regularized"]
    assert table["parameters"].nunique() == 1  # the same model, only regularized
    plots = artifact_paths(tracking, parent.info.run_id, "plots")
    assert {"plots/overfitting.png", "plots/gaps.png"} <= set(plots)
    # The verdict: how far each variant's val_loss rose from its best epoch while its
    # training loss fell, read from the child's own curves.
    verdict = parent.data.tags["verdict"]
    for child in (plain, regularized):
        name, curves = child.data.tags["variant"], {}
        for key in ("loss", "val_loss"):
            curves[key] = [m.value for m in tracking.get_metric_history(child.info.run_id, key)]
        best = int(np.argmin(curves["val_loss"]))
        rise = curves["val_loss"][-1] - curves["val_loss"][best]
        fall = curves["loss"][best] - curves["loss"][-1]
        assert parent.data.metrics[f"best_val_epoch_{name}"] == best + 1
        assert parent.data.metrics[f"val_loss_rise_{name}"] == pytest.approx(rise, abs=1e-6)
        assert parent.data.metrics[f"loss_fall_{name}"] == pytest.approx(fall, abs=1e-6)
        moved = f"fell {fall:.3g}" if fall >= 0 else f"rose {-fall:.3g}"
        assert (
            f"{name}: val_loss rose {rise:.3g} from its best epoch {best + 1} while loss {moved}"
        ) in verdict
    assert parent.data.tags["mlflow.note.content"].endswith(f". {verdict}")


def test_overfitting_needs_something_to_regularize_with(lesson_env, tracking, tmp_path):
    params = TINY | {"dropout": 0, "l2": 0}
    result = in_process("overfitting", params, lesson_env, tmp_path)
    message = "set dropout, l2 or l1 above 0"
    assert_clean_failure(result, tracking, "overfitting", message, parameter_error=True)


# ------------------------------------------------------------------ csv (58-59)


@pytest.mark.slow
def test_csv_by_default_writes_wine_out_and_learns_it_back(lesson_env, tracking, tmp_path):
    import mlflow

    result = mlflow_run("csv", TINY | ONE_FIT, lesson_env, tmp_path)
    run = trained_run(result, tracking, "csv", "classification", tmp_path)
    assert run.data.tags["dataset"] == "wine"

    written = read_table(tracking, run, "data/wine.csv", tmp_path / "data")
    assert written.shape == (178, 14) and written.columns[-1] == "target"
    columns = read_table(tracking, run, "profile/columns.csv", tmp_path / "profile")
    assert columns["column"].tolist() == written.columns.tolist()
    assert columns["missing"].sum() == 0
    # each column's dtype as pandas reads the file: the measures are floats
    assert dict(zip(columns["column"], columns["dtype"], strict=True)) == {
        name: str(dtype) for name, dtype in written.dtypes.items()
    }
    assert columns["dtype"].iloc[0] == "float64"
    report = tracking.download_artifacts(run.info.run_id, "profile/profile.txt", str(tmp_path))
    text = Path(report).read_text()
    assert text.startswith("shape: 178 rows x 14 columns")
    assert all(f"\n{row} " in text for row in ("count", "mean", "std", "min", "max", "top"))

    # The predictions file: the test rows exactly as written, plus true and predicted.
    out = read_table(tracking, run, "predictions/test_predictions.csv", tmp_path / "out")
    assert list(out.columns) == [*written.columns, "true", "predicted"]
    assert len(out) == 36  # 20% of 178
    assert (out["true"] == out["target"]).all()
    merged = out.merge(written, on=list(written.columns), how="left", indicator=True)
    assert (merged["_merge"] == "both").all()
    # ...and "predicted" is what the logged model says for those rows, given by column name.
    model = mlflow.pyfunc.load_model(run.data.tags["model_uri"])
    assert model.metadata.get_input_schema().input_names() == list(written.columns[:-1])
    classes = np.array(sorted(written["target"].unique()))
    guessed = classes[np.asarray(model.predict(out)).argmax(axis=1)]
    assert guessed.tolist() == out["predicted"].tolist()
    accuracy = float((out["true"] == out["predicted"]).mean())
    assert accuracy == pytest.approx(run.data.metrics["test_accuracy"], abs=1e-6)


def test_csv_path_with_a_category_column_predicts_a_number(lesson_env, tracking, tmp_path):
    rng = np.random.default_rng(0)
    size = rng.uniform(20, 200, 120).round(1)
    city = rng.choice(["north", "south", "east"], 120)
    price = 3 * size + np.where(city == "north", 100.0, 0.0) + rng.normal(0, 5, 120)
    path = tmp_path / "houses.csv"
    pd.DataFrame({"size": size, "city": city, "price": price.round(2)}).to_csv(path, index=False)

    params = TINY | ONE_FIT | {"path": str(path), "target": "price"}
    result = in_process("csv", params, lesson_env, tmp_path)
    run = trained_run(result, tracking, "csv", "regression", tmp_path)
    assert run.data.tags["dataset"] == f"csv:{path}"
    assert not any(p.startswith("data/") for p in artifact_paths(tracking, run.info.run_id))
    out = read_table(tracking, run, "predictions/test_predictions.csv", tmp_path)
    assert list(out.columns) == ["size", "city", "price", "true", "predicted"]
    assert len(out) == 24 and set(out["city"]) <= {"north", "south", "east"}
    np.testing.assert_allclose(out["true"], out["price"], rtol=1e-6)
    rmse = float(np.sqrt(np.mean((out["predicted"] - out["true"]) ** 2)))
    assert rmse == pytest.approx(run.data.metrics["test_rmse"], rel=1e-4)


def test_csv_leaves_an_id_column_out_and_says_so(lesson_env, tracking, tmp_path):
    import mlflow

    path = tmp_path / "people.csv"
    rows = [f"person{i},{i % 7},{i % 2}" for i in range(60)]
    path.write_text("name,age,label\n" + "\n".join(rows) + "\n")
    params = TINY | ONE_FIT | {"path": str(path), "target": "label"}
    result = in_process("csv", params, lesson_env, tmp_path)
    run = trained_run(result, tracking, "csv", "classification", tmp_path)
    assert (
        "column 'name' left out: text with 60 distinct values in 60 rows (an id, a name or "
        "free text, not a category; keep_columns keeps it)"
    ) in result.stdout
    assert run.data.tags["left_out_columns"] == "name"
    model = mlflow.pyfunc.load_model(run.data.tags["model_uri"])
    assert model.metadata.get_input_schema().input_names() == ["age"]


# ------------------------------------------------------------------ compare_models (38, 60)


@pytest.mark.slow
def test_compare_models_trains_each_family_as_a_child(lesson_env, tracking, tmp_path):
    params = TINY | {"dataset": "breast_cancer", "models": "lstm,conv1d"}
    result = mlflow_run("compare_models", params, lesson_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    parent = parent_run(tracking, "compare_models")
    runs = children(tracking, parent)
    assert [r.data.tags["variant"] for r in runs] == ["lstm", "conv1d"]
    assert [r.data.params["model"] for r in runs] == ["lstm", "conv1d"]
    for child in runs:
        assert_trained_run(tracking, child, "classification", tmp_path / child.info.run_id)

    table = read_table(tracking, parent, "comparison/models.csv", tmp_path)
    assert table["variant"].tolist() == ["lstm", "conv1d"]
    for child, (_, row) in zip(runs, table.iterrows(), strict=True):
        metrics = child.data.metrics
        assert row["test_accuracy"] == pytest.approx(metrics["test_accuracy"])
        assert row["parameters"] == metrics["parameters"]
        assert row["fit_seconds"] == pytest.approx(metrics["fit_seconds"], abs=1e-3)
        assert row["seconds_per_epoch"] == pytest.approx(
            metrics["fit_seconds"] / metrics["epochs_run"], abs=1e-3
        )
        name = child.data.tags["variant"]
        assert parent.data.metrics[f"test_accuracy_{name}"] == metrics["test_accuracy"]
    assert table["parameters"].iloc[0] != table["parameters"].iloc[1]
    # Lesson 60's claim in two numbers: Conv1D's score and time as shares of the LSTM's.
    lstm, conv1d = (child.data.metrics for child in runs)
    ratios = {k: v for k, v in parent.data.metrics.items() if "_ratio_" in k}
    assert ratios == pytest.approx(
        {
            "test_accuracy_ratio_conv1d": conv1d["test_accuracy"] / lstm["test_accuracy"],
            "fit_seconds_ratio_conv1d": conv1d["fit_seconds"] / lstm["fit_seconds"],
        },
        rel=1e-3,  # the table's seconds are rounded to milliseconds
    )
    plots = artifact_paths(tracking, parent.info.run_id, "plots")
    assert {"plots/comparison.png", "plots/curves.png"} <= set(plots)
    # ... and its verdict: the ratios against the lesson's band, in words and as metrics.
    score_ratio = conv1d["test_accuracy"] / lstm["test_accuracy"]
    assert parent.data.metrics["conv1d_over_lstm_score"] == pytest.approx(score_ratio)
    time_ratio = parent.data.metrics["conv1d_over_lstm_seconds"]  # from seconds to the ms
    assert time_ratio == pytest.approx(conv1d["fit_seconds"] / lstm["fit_seconds"], rel=1e-3)
    holds = 0.9 <= score_ratio <= 1.1 and time_ratio < 1
    assert parent.data.metrics["conv1d_claim_holds"] == float(holds)
    verdict = parent.data.tags["verdict"]
    assert (
        f"conv1d scores {score_ratio:.3f} of the lstm's test_accuracy (band 0.9-1.1) in "
        f"{time_ratio:.2f} of its fit time (one timing each): lesson 60's claim "
        f"{'holds' if holds else 'does not hold'}"
    ) in verdict
    assert parent.data.tags["mlflow.note.content"].endswith(f". {verdict}")


def test_compare_models_refuses_an_unknown_family_before_training(lesson_env, tracking, tmp_path):
    params = TINY | {"models": "dnn,mlp"}
    result = in_process("compare_models", params, lesson_env, tmp_path)
    assert_clean_failure(
        result,
        tracking,
        "compare_models",
        "bad value 'dnn,mlp' for models: 'mlp' unknown; give a comma list of dnn, cnn, lstm, gru, "
        "simple_rnn, conv1d, each once",
        parameter_error=True,
    )
    assert "Epoch" not in result.stdout


# ------------------------------------------------------------------ baselines


def run_split(run, name: str):
    """(fitted rows, their targets, test rows, their targets) of the split `run` trained on:
    the prepare step's split with the run's seed and fractions, training plus validation rows
    being the rows the network learnt from or early-stopped on."""
    from steps.data import catalog
    from steps.data.prepare import split

    params = run.data.params
    data = split(
        catalog.resolve(name).load(),
        val_fraction=float(params["val_fraction"]),
        test_fraction=float(params["test_fraction"]),
        seed=int(params["seed"]),
    )
    x_fit = np.concatenate([data.x_train, data.x_val])
    return x_fit, np.concatenate([data.y_train, data.y_val]), data.x_test, data.y_test


def assert_logged_at_step_0_with_the_model(client, run, names: set[str]) -> None:
    """Logged once at step 0, as the test metrics are, so that the model's page shows them."""
    metrics = run.data.metrics
    assert names <= metrics.keys()
    for name in names:
        assert [m.step for m in client.get_metric_history(run.info.run_id, name)] == [0], name
    model_id = run.data.tags["model_uri"].removeprefix("models:/")
    linked = {m.key: m.value for m in client.get_logged_model(model_id).metrics}
    assert {k: linked.get(k) for k in names} == {k: metrics[k] for k in names}


def test_a_classification_run_logs_the_majority_and_linear_baselines(
    lesson_env, tracking, tmp_path
):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    result = in_process("tabular", TINY | ONE_FIT | {"dataset": "iris"}, lesson_env, tmp_path)
    run = finished_run(result, tracking, "tabular")
    metrics = run.data.metrics
    names = {"baseline_majority_accuracy", "baseline_linear_accuracy"}
    assert_logged_at_step_0_with_the_model(tracking, run, names)

    x_fit, y_fit, x_test, y_test = run_split(run, "iris")
    linear = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x_fit, y_fit)
    assert metrics["baseline_linear_accuracy"] == linear.score(x_test, y_test)
    assert metrics["baseline_majority_accuracy"] == np.mean(y_test == np.bincount(y_fit).argmax())
    assert metrics["baseline_majority_accuracy"] == pytest.approx(1 / 3)  # stratified, 3 classes

    linear, majority = metrics["baseline_linear_accuracy"], metrics["baseline_majority_accuracy"]
    score = f"test_accuracy {metrics['test_accuracy']:.4g} (linear {linear:.4g}, majority "
    assert f"{score}{majority:.4g})" in run.data.tags["mlflow.note.content"]
    [line] = [line for line in result.stdout.splitlines() if "kept epoch" in line]
    assert f"test_accuracy={metrics['test_accuracy']:.4f} (linear baseline {linear:.4f})" in line


def test_a_regression_run_logs_the_mean_and_linear_baselines(lesson_env, tracking, tmp_path):
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import r2_score, root_mean_squared_error
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    params = TINY | {"dataset": "diabetes"}
    result = in_process("dnn_regression", params, lesson_env, tmp_path)
    run = finished_run(result, tracking, "dnn_regression")
    metrics = run.data.metrics
    kinds = ("mean", "linear")
    names = {f"baseline_{kind}_{score}" for kind in kinds for score in ("rmse", "mae", "r2")}
    assert_logged_at_step_0_with_the_model(tracking, run, names)

    x_fit, y_fit, x_test, y_test = run_split(run, "diabetes")
    # Always the training mean: R2 about 0, RMSE about the test targets' spread.
    assert abs(metrics["baseline_mean_r2"]) < 0.05
    assert metrics["baseline_mean_rmse"] == pytest.approx(np.std(y_test), rel=0.03)
    miss = np.sqrt(np.mean((y_test - y_fit.mean()) ** 2))
    assert metrics["baseline_mean_rmse"] == pytest.approx(miss, rel=1e-5)
    linear = make_pipeline(StandardScaler(), LinearRegression()).fit(x_fit, y_fit)
    guess = linear.predict(x_test)
    assert metrics["baseline_linear_r2"] == pytest.approx(r2_score(y_test, guess), rel=1e-4)
    rmse = root_mean_squared_error(y_test, guess)
    assert metrics["baseline_linear_rmse"] == pytest.approx(rmse, rel=1e-4)
    assert metrics["baseline_linear_rmse"] < metrics["baseline_mean_rmse"]

    linear, mean = metrics["baseline_linear_rmse"], metrics["baseline_mean_rmse"]
    score = f"test_rmse {metrics['test_rmse']:.4g} (linear {linear:.4g}, mean {mean:.4g})"
    assert score in run.data.tags["mlflow.note.content"]


def test_a_comparison_logs_its_baselines_on_the_parent_and_each_child(
    lesson_env, tracking, tmp_path
):
    params = TINY | {"dataset": "iris", "models": "dnn,conv1d"}
    result = in_process("compare_models", params, lesson_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    parent = parent_run(tracking, "compare_models")
    names = {"baseline_majority_accuracy", "baseline_linear_accuracy"}
    scores = {k: v for k, v in parent.data.metrics.items() if k.startswith("baseline_")}
    assert scores.keys() == names
    for name in names:
        history = tracking.get_metric_history(parent.info.run_id, name)
        assert [m.step for m in history] == [0], name
    for child in children(tracking, parent):  # the same split: the same baselines
        assert_logged_at_step_0_with_the_model(tracking, child, names)
        assert {k: child.data.metrics[k] for k in names} == scores
    linear, majority = scores["baseline_linear_accuracy"], scores["baseline_majority_accuracy"]
    # The parent's description: its best child's score beside the baselines.
    scores = {f: parent.data.metrics[f"test_accuracy_{f}"] for f in ("dnn", "conv1d")}
    top = max(scores.values())
    assert parent.data.tags["mlflow.note.content"] in {
        f"2 child runs; best {name}: test_accuracy {top:.4g} "
        f"(linear {linear:.4g}, majority {majority:.4g})"
        for name, score in scores.items()
        if score == top  # a tie: either is the best
    }
