"""`make serve`: MLflow's scoring server over a registered model, asked over HTTP."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from helpers.runs import REPO, finished_run, in_process, tiny
from helpers.servers import LOADING_LINES, SERVE, post, start, stop

NAME = "iris-classifier"
CHAMPION = f"models:/{NAME}@champion"


@pytest.fixture
def champion(lesson_env, tracking, tmp_path) -> str:
    """A tiny `tabular` run on iris, its model registered and aliased `champion`."""
    import mlflow

    params = tiny("tabular") | {"dataset": "iris", "epochs": 1}
    run = finished_run(in_process("tabular", params, lesson_env, tmp_path), tracking, "tabular")
    version = mlflow.register_model(run.data.tags["model_uri"], NAME)
    tracking.set_registered_model_alias(NAME, "champion", version.version)
    return CHAMPION


def test_scoring_server_answers_as_the_reloaded_model(champion, lesson_env, tmp_path):
    import mlflow
    from sklearn.datasets import load_iris

    folder = mlflow.artifacts.download_artifacts(champion, dst_path=str(tmp_path / "model"))
    example = (tmp_path / "model" / "serving_input_example.json").read_bytes()
    assert folder and json.loads(example).keys() == {"inputs"}
    reloaded = mlflow.pyfunc.load_model(champion)
    raw = load_iris().data[[0, 60, 120]].astype("float32")  # one of each class, unscaled
    expected = {
        "example": reloaded.predict(np.asarray(json.loads(example)["inputs"], dtype="float32")),
        "raw": reloaded.predict(raw),
    }

    server = start([*SERVE, champion], lesson_env, REPO, tmp_path / "serve.log")
    try:
        url = server.ready("/ping") + "/invocations"
        status, answer = post(url, example)
        assert status == 200, answer
        np.testing.assert_allclose(answer["predictions"], expected["example"], rtol=1e-5)
        # Raw rows, as a table (column names are the caller's) and as a tensor.
        split = {"columns": ["sl", "sw", "pl", "pw"], "data": raw.tolist()}
        for body in ({"dataframe_split": split}, {"inputs": raw.tolist()}):
            status, answer = post(url, json.dumps(body).encode())
            assert status == 200, answer
            np.testing.assert_allclose(answer["predictions"], expected["raw"], rtol=1e-5)
            assert np.asarray(answer["predictions"]).shape == (3, 3)

        # Malformed: MLflow's own 400 and error code, and the server keeps serving.
        status, answer = post(url, b'{"inputs": [[1.0, 2.0]]}')  # 2 columns, not 4
        assert status == 400 and answer["error_code"] == "INVALID_PARAMETER_VALUE", answer
        assert "does not match expected shape (-1, 4)" in answer["message"]
        status, answer = post(url, b'{"inputs": ')  # not JSON
        assert status == 400 and answer["error_code"] == "BAD_REQUEST", answer
        status, answer = post(url, example)
        assert status == 200
        np.testing.assert_allclose(answer["predictions"], expected["example"], rtol=1e-5)
    finally:
        stop(server)
    output = server.log.read_text(errors="replace")
    assert f"serving {champion} at http://127.0.0.1:{server.port}/invocations" in output
    assert output.count('"POST /invocations HTTP/1.1" 200') == 4, output[-3000:]
    # No Keras progress bar per request (`1/1 ━━━━ 0s 30ms/step`).
    assert "━" not in output and "/step" not in output, output[-3000:]
    # Nor TensorFlow's loading lines, which MLflow's processes print as they load the model.
    assert not any(line in output for line in LOADING_LINES), output[-3000:]


def test_serving_a_model_that_is_not_there_says_so_in_one_line(lesson_env, tracking):
    result = subprocess.run(
        [*SERVE, f"models:/{NAME}@champion", "--port", "9"],
        cwd=REPO,
        env=lesson_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: cannot serve models:/{NAME}@champion: Registered Model with name={NAME} not "
        f"found (tracking store {lesson_env['MLFLOW_TRACKING_URI']})"
    ]
