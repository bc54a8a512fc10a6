"""`make server`: a shared MLflow tracking server on PostgreSQL with proxied artifacts, used by
a lesson, two `tune` workers, `make tensorboard` and a model registry, all through http://."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import optuna
import pytest

from helpers.runs import REPO, in_process, mlflow_run, tiny
from helpers.servers import start, stop

# What `make server BACKEND=... ARTIFACTS=...` runs, less the port (start() appends one).
SERVER = [sys.executable, "-m", "tools.servers", "tracking", "--workers", "2"]
SEARCH = tiny("tune") | {
    "dataset": "iris",
    "space": "units=4:16,layers=1:2,batch_size=16",
    "pruner": "none",
}


class Rest:
    """MLflow's REST API (`/api/2.0/mlflow/...`) of the server at `url`, as any client sees it."""

    def __init__(self, url: str):
        self.url = url

    def get(self, endpoint: str, **query: str) -> dict:
        address = f"{self.url}/api/2.0/{endpoint}?{urllib.parse.urlencode(query)}"
        with urllib.request.urlopen(address, timeout=60) as answer:
            return json.load(answer)

    def post(self, endpoint: str, body: dict) -> dict:
        request = urllib.request.Request(
            f"{self.url}/api/2.0/{endpoint}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.load(answer)

    def raw(self, endpoint: str, **query: str) -> bytes:
        address = f"{self.url}/{endpoint}?{urllib.parse.urlencode(query)}"
        with urllib.request.urlopen(address, timeout=60) as answer:
            return answer.read()

    def runs(self, experiment: str) -> list[dict]:
        found = self.get("mlflow/experiments/get-by-name", experiment_name=experiment)
        body = {"experiment_ids": [found["experiment"]["experiment_id"]], "max_results": 1000}
        return self.post("mlflow/runs/search", body)["runs"]

    def files(self, run_id: str, path: str = "") -> list[str]:
        """Every artifact file of a run under `path`, listed by the server."""
        found = []
        for item in self.get("mlflow/artifacts/list", run_id=run_id, path=path).get("files", []):
            found += self.files(run_id, item["path"]) if item["is_dir"] else [item["path"]]
        return found


def values(entries: list[dict]) -> dict[str, object]:
    """A run's `[{"key": k, "value": v}]` params, tags or metrics as a dict."""
    return {e["key"]: e["value"] for e in entries}


@pytest.mark.postgres
def test_a_team_server_on_postgres_records_lessons_tune_workers_and_models(
    postgres_databases, lesson_env, tmp_path, monkeypatch
):
    import mlflow
    from sklearn.datasets import load_iris
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from tools.traces import trace_tree

    optuna_url, backend = postgres_databases
    artifacts = tmp_path / "server-artifacts"
    env = lesson_env | {"PGPASSWORD": os.environ["PGPASSWORD"]}
    command = [*SERVER, "--backend", backend, "--artifacts", str(artifacts)]
    command += ["--allowed-hosts", "mlflow.team.example"]
    server = start(command, env, REPO, tmp_path / "server.log")
    try:
        url = server.ready("/health")
        rest = Rest(url)
        # MLflow's host check: its local names and the names given, no other (DNS rebinding).
        for host, expected in (("mlflow.team.example:80", 200), ("rebound.example", 403)):
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            connection.request(
                "GET", "/api/2.0/mlflow/experiments/search?max_results=1", headers={"Host": host}
            )
            assert connection.getresponse().status == expected, host
            connection.close()
        # Clients know only the server's address: no database, no artifact folder.
        client_env = lesson_env | {"MLFLOW_TRACKING_URI": url}
        client_env.pop("PGPASSWORD", None)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        mlflow.set_tracking_uri(url)
        client = mlflow.MlflowClient()

        # Two tune workers on one Optuna study (its experiment and study created first, as
        # `make tune-workers` does), and one lesson meanwhile.
        client.create_experiment("tune")
        optuna.storages.RDBStorage(optuna_url)
        params = SEARCH | {"n_trials": 2, "storage": optuna_url, "study_name": "team"}
        params |= {"resume": "true", "retrain": "false", "checkpoint": "false"}  # fewer uploads
        worker_env = client_env | {"PGPASSWORD": os.environ["PGPASSWORD"]}  # Optuna's database
        with ThreadPoolExecutor(2) as pool:
            workers = [
                pool.submit(mlflow_run, "tune", params | {"worker": k}, worker_env, tmp_path)
                for k in (1, 2)
            ]
            lesson = tiny("tabular") | {"dataset": "iris", "epochs": 2}
            result = in_process("tabular", lesson, client_env, tmp_path)
            assert result.returncode == 0, result.stderr[-3000:]
            for worker in workers:
                assert worker.result().returncode == 0, worker.result().stderr[-3000:]

        # The lesson's run, read back over REST: status, tags, metrics and their history,
        # its data sets (MLflow inputs), its artifacts kept by the server.
        experiment = rest.get("mlflow/experiments/get-by-name", experiment_name="tabular")
        experiment_id = experiment["experiment"]["experiment_id"]
        assert experiment["experiment"]["artifact_location"] == f"mlflow-artifacts:/{experiment_id}"
        [run] = rest.runs("tabular")
        run_id = run["info"]["run_id"]
        assert run["info"]["status"] == "FINISHED"
        tags, metrics = values(run["data"]["tags"]), values(run["data"]["metrics"])
        assert tags["lesson"] == "43-46, 61" and tags["dataset"] == "iris"
        assert {"test_loss", "test_accuracy", "baseline_linear_accuracy"} <= metrics.keys()
        history = rest.get("mlflow/metrics/get-history", run_id=run_id, metric_key="loss")
        epochs = int(metrics["epochs_run"])
        assert [m["step"] for m in history["metrics"]] == list(range(1, epochs + 1))
        inputs = run["inputs"]["dataset_inputs"]
        assert {i["dataset"]["name"] for i in inputs} == {"iris"}
        assert {values(i["tags"])["mlflow.data.context"] for i in inputs} == {
            "train",
            "validation",
            "test",
        }
        files = rest.files(run_id)
        for path in ("plots/history.png", "model_summary.txt", "checkpoints/best.keras"):
            assert path in files
        assert any(p.startswith("tensorboard/train/events.out.tfevents") for p in files)
        summary = rest.raw("get-artifact", run_id=run_id, path="model_summary.txt").decode()
        assert "Total params" in summary
        # ...which the server wrote to its artifact store, and the client nowhere.
        stored = artifacts / experiment_id / run_id / "artifacts"
        assert (stored / "plots" / "history.png").is_file()
        assert not (tmp_path / "mlruns").exists()

        # The run's logged model, registered and aliased champion; loaded through the server
        # as `make serve` loads it, it predicts raw rows.
        model_uri = tags["model_uri"]
        logged = rest.get(f"mlflow/logged-models/{model_uri.removeprefix('models:/')}")
        assert logged["model"]["info"]["source_run_id"] == run_id
        version = mlflow.register_model(model_uri, "iris-team")
        client.set_registered_model_alias("iris-team", "champion", version.version)
        alias = rest.get("mlflow/registered-models/alias", name="iris-team", alias="champion")
        assert alias["model_version"]["version"] == "1"
        assert alias["model_version"]["run_id"] == run_id
        rows = load_iris().data[[0, 60, 120]].astype("float32")
        predictions = mlflow.pyfunc.load_model("models:/iris-team@champion").predict(rows)
        assert np.asarray(predictions).shape == (3, 3)

        # The two workers: a parent run each, every trial once as a child run, its
        # per-epoch history on the server.
        runs = rest.runs("tune")
        parents = [r for r in runs if "mlflow.parentRunId" not in values(r["data"]["tags"])]
        assert sorted(values(p["data"]["params"])["worker"] for p in parents) == ["1", "2"]
        trials = [r for r in runs if r not in parents]
        study = optuna.load_study(study_name="team", storage=optuna_url)
        assert sorted(int(values(r["data"]["tags"])["trial"]) for r in trials) == sorted(
            t.number for t in study.trials
        )
        for trial in trials:
            assert trial["info"]["status"] == "FINISHED"
            history = rest.get(
                "mlflow/metrics/get-history",
                run_id=trial["info"]["run_id"],
                metric_key="val_accuracy",
            )
            assert [m["step"] for m in history["metrics"]] == [1, 2]

        # `make tensorboard`: the traces, downloaded through the server.
        assert trace_tree(tmp_path / "board", experiment="tabular") == 1
        [train] = (tmp_path / "board" / "tabular").glob("*/train")
        assert not train.is_symlink()
        events = EventAccumulator(str(train)).Reload().Tags()
        assert "epoch_loss" in events["scalars"] + events["tensors"]
    finally:
        mlflow.set_tracking_uri(None)
        stop(server)


@pytest.mark.parametrize(
    ("backend", "message"),
    [
        (
            "postgresql://lessons:s3cr3t@127.0.0.1:9/mlflow",  # nothing listens on port 9
            "error: cannot open the backend store postgresql://lessons:***@127.0.0.1:9/mlflow: "
            "(psycopg.OperationalError) connection failed: ",
        ),
        (
            "file:///tmp/runs",
            "error: the backend store must be a database URL, not file:///tmp/runs",
        ),
    ],
)
def test_a_backend_store_it_cannot_open_is_one_line(backend, message, lesson_env, tmp_path):
    result = subprocess.run(
        [*SERVER, "--backend", backend, "--port", "9"],
        cwd=tmp_path,
        env=lesson_env | {"PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(message) and "s3cr3t" not in result.stderr + result.stdout
