"""Tables as users have them (tests/helpers/tables.py): missing values in several columns,
text categories (rare ones, and one never seen in training), dates, a name on every row,
numbers written "52,300", a legacy encoding and `;` separators. One `csv` run through the
real `mlflow run` is shared by the tests of this module: its model scores the file's raw
rows through `python -m pipelines predict`, MLflow's scoring server and
`mlflow.pyfunc.load_model`, all alike and alike with the run's own test predictions."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from helpers import tables
from helpers.runs import (
    MLFLOW,
    ONE_FIT,
    REPO,
    TINY,
    artifact_paths,
    fresh_tracking_store,
    in_process,
    mlflow_run,
    trained_run,
)
from helpers.servers import SERVE, post, start, stop

INPUTS = ["signup", "age", "income", "city", "plan", "member"]


@pytest.fixture(scope="module")
def customers_run(tmp_path_factory, upstream, empty_tracking_store):
    """`mlflow run . -e csv -P path=customers.csv -P target=bought` on 240 generated rows,
    in a folder and tracking store of its own: (env, folder, file, run, stdout)."""
    import os

    import mlflow

    folder = tmp_path_factory.mktemp("customers")
    fresh_tracking_store(empty_tracking_store, folder)
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "KERAS_"))}
    env.update(
        MLFLOW_TRACKING_URI=uri,
        KERAS_HOME=str(folder),
        KERAS_LESSONS_CACHE=str(folder / "cache"),
        KERAS_LESSONS_DATA_ORIGIN=str(upstream),
        PATH=f"{MLFLOW.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    path = tables.write(tables.customers(), folder / "customers.csv")
    params = TINY | ONE_FIT | {"path": str(path), "target": "bought", "epochs": 3}
    result = mlflow_run("csv", params, env, folder)
    client = mlflow.MlflowClient(uri)
    mlflow.set_tracking_uri(uri)
    try:
        run = trained_run(result, client, "csv", "classification", folder / "downloads")
    finally:
        mlflow.set_tracking_uri(None)
    return SimpleNamespace(env=env, folder=folder, path=path, run=run, stdout=result.stdout)


@pytest.fixture
def store(customers_run, monkeypatch):
    """An MlflowClient on the shared run's store, as the current tracking URI."""
    import mlflow

    uri = customers_run.env["MLFLOW_TRACKING_URI"]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    yield mlflow.MlflowClient()
    mlflow.set_tracking_uri(None)


def scored_rows(path: Path) -> pd.DataFrame:
    """The file as pandas reads it, its first row's city one the model never saw."""
    raw = pd.read_csv(path)
    raw.loc[0, "city"] = tables.UNSEEN_CITY
    return raw


def test_the_run_says_what_it_left_out_and_what_it_filled(customers_run, store, tmp_path):
    run, out = customers_run.run, customers_run.stdout
    assert run.data.tags["encoding"] == "utf-8" and run.data.tags["separator"] == ","
    assert run.data.tags["left_out_columns"] == "customer"
    assert (
        "column 'customer' left out: text with 240 distinct values in 240 rows (an id, a name "
        "or free text, not a category; keep_columns keeps it)"
    ) in out
    line = next(line for line in out.splitlines() if line.startswith("missing values: "))
    assert "age 20 (the training median " in line and "city 12 (the category 'missing')" in line
    assert line.endswith("; 2 rows without a target dropped"), line
    assert run.data.metrics["rows_without_target"] == 2
    assert run.data.metrics["missing_values"] == 20 + 15 + 12 + 8
    local = store.download_artifacts(run.info.run_id, "profile/missing.csv", str(tmp_path))
    missing = pd.read_csv(local).set_index("column")
    assert missing["missing"].to_dict() == {
        "signup": 8,
        "age": 20,
        "income": 15,
        "city": 12,
        "plan": 0,
        "member": 0,
    }
    assert missing.loc["signup", "kind"] == "date" and missing.loc["member", "kind"] == "true/false"
    median = float(missing.loc["income", "replaced_by"].split("median ")[1].split(",")[0])
    assert 30_000 < median < 70_000


def test_the_model_takes_the_files_columns_by_name(customers_run, store, tmp_path):
    import mlflow

    uri = customers_run.run.data.tags["model_uri"]
    model = mlflow.pyfunc.load_model(uri)
    inputs = model.metadata.get_input_schema()
    assert inputs.input_names() == INPUTS
    types = {spec.name: spec.type.name for spec in inputs.inputs}
    assert types == {
        "signup": "string",
        "age": "double",
        "income": "string",  # written "52,300": pandas reads it as text, and so may the caller
        "city": "string",
        "plan": "string",
        "member": "boolean",
    }
    # The input example and the serving example: raw rows under the file's column names.
    folder = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path / "model")))
    assert json.loads((folder / "input_example.json").read_text())["columns"] == INPUTS
    serving = json.loads((folder / "serving_input_example.json").read_text())
    assert serving["dataframe_split"]["columns"] == INPUTS
    assert (folder / "code" / "raw_rows.py").is_file()
    assert {p.name for p in (folder / "front").iterdir()} == {"spec.json", "transformer.joblib"}


def test_raw_rows_score_alike_three_ways_and_as_the_run_did(customers_run, store, tmp_path):
    """pyfunc, `python -m pipelines predict` and the scoring server on the file's raw rows
    (missing values, a rare city, an unseen one): the same probabilities; on the test rows,
    the classes the run wrote in predictions/test_predictions.csv."""
    import mlflow

    run, uri = customers_run.run, customers_run.run.data.tags["model_uri"]
    raw = scored_rows(customers_run.path)
    rows_file = tables.write(raw, tmp_path / "rows.csv")
    assert rows_file.read_text().count('"') > 0  # incomes as "52,300", quoted

    by_pyfunc = mlflow.pyfunc.load_model(uri).predict(raw).to_numpy()

    result = in_process(
        "predict",
        {"model": uri, "input": rows_file, "output": tmp_path / "predicted.csv"},
        customers_run.env,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    by_cli = pd.read_csv(tmp_path / "predicted.csv")[["p_0", "p_1"]].to_numpy()

    server = start([*SERVE, uri], customers_run.env, REPO, tmp_path / "serve.log")
    try:
        url = server.ready("/ping") + "/invocations"
        body = json.dumps({"dataframe_split": json.loads(raw.to_json(orient="split"))})
        status, answer = post(url, body.encode())
        assert status == 200, answer
        by_server = pd.DataFrame(answer["predictions"]).to_numpy(dtype=float)
    finally:
        stop(server)

    assert by_pyfunc.shape == (240, 2) and np.isfinite(by_pyfunc).all()
    np.testing.assert_allclose(by_cli, by_pyfunc, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(by_server, by_pyfunc, rtol=1e-5, atol=1e-6)

    # The run's own test predictions: the same classes for the same customers.
    local = store.download_artifacts(
        run.info.run_id, "predictions/test_predictions.csv", str(tmp_path)
    )
    tested = pd.read_csv(local)
    assert len(tested) == 48  # 20% of the 238 rows with a target
    classes = np.array(["no", "yes"])[by_pyfunc.argmax(axis=1)]
    ours = dict(zip(raw["customer"], classes, strict=True))
    assert [ours[name] for name in tested["customer"]] == tested["predicted"].tolist()
    accuracy = float((tested["true"] == tested["predicted"]).mean())
    assert accuracy == pytest.approx(run.data.metrics["test_accuracy"], abs=1e-6)


# ------------------------------------------------------------------ other files, in process


def test_a_cp949_file_with_semicolons_trains_and_scores(lesson_env, tracking, tmp_path):
    """Korean column and city names saved as cp949 with `;` separators, as a spreadsheet
    program in a Korean locale saves them: read without saying so, and scored alike."""
    import mlflow

    table = tables.korean(tables.customers(rows=120, seed=1))
    path = tables.write(table, tmp_path / "고객.csv", encoding="cp949", sep=";")
    with pytest.raises(UnicodeDecodeError):
        path.read_text(encoding="utf-8")
    params = TINY | ONE_FIT | {"path": str(path), "target": "구매"}
    result = in_process("csv", params, lesson_env, tmp_path)
    run = trained_run(result, tracking, "csv", "classification", tmp_path)
    assert (run.data.tags["encoding"], run.data.tags["separator"]) == ("cp949", ";")
    assert run.data.tags["left_out_columns"] == "고객"

    raw = pd.read_csv(path, sep=";", encoding="cp949")
    model = mlflow.pyfunc.load_model(run.data.tags["model_uri"])
    assert "도시" in model.metadata.get_input_schema().input_names()
    by_pyfunc = model.predict(raw).to_numpy()
    scored = in_process(
        "predict",
        {"model": run.data.tags["model_uri"], "input": path, "output": tmp_path / "out.csv"},
        lesson_env,
        tmp_path,
    )
    assert scored.returncode == 0, scored.stderr[-3000:]
    by_cli = pd.read_csv(tmp_path / "out.csv")[["p_0", "p_1"]].to_numpy()
    np.testing.assert_allclose(by_cli, by_pyfunc, rtol=1e-5, atol=1e-6)

    local = tracking.download_artifacts(
        run.info.run_id, "predictions/test_predictions.csv", str(tmp_path)
    )
    tested = pd.read_csv(local)
    classes = dict(zip(raw["고객"], np.array(["no", "yes"])[by_pyfunc.argmax(axis=1)], strict=True))
    assert [classes[name] for name in tested["고객"]] == tested["predicted"].tolist()


def test_timeseries_orders_a_csv_by_its_date_column(lesson_env, tracking, tmp_path):
    """Rows exported in no order: the date column sorts them and is no input."""
    series = tables.sales_series()
    path = tmp_path / "sales.csv"
    series.to_csv(path, index=False)
    params = TINY | {
        "dataset": f"csv:{path}",
        "target": "sales",
        "window": 3,
        "features": 2,
        "model": "dnn",
    }
    result = in_process("timeseries", params, lesson_env, tmp_path)
    run = trained_run(result, tracking, "timeseries", "regression", tmp_path)
    assert run.data.tags["left_out_columns"] == "day"
    assert "column 'day' left out: the date that orders the series" in result.stdout
    assert run.data.params["columns"] == "sales,temperature"
    local = tracking.download_artifacts(run.info.run_id, "windows/first_windows.csv", str(tmp_path))
    first = pd.read_csv(local)
    ordered = series.sort_values("day")["sales"].to_numpy()
    np.testing.assert_allclose(first["sales[t-2]"], ordered[:5], rtol=1e-5)
    np.testing.assert_allclose(first["sales[t+1]"], ordered[3:8], rtol=1e-5)
    assert "plots/forecast.png" in artifact_paths(tracking, run.info.run_id, "plots")
