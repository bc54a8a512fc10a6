"""Batch scoring: `python -m pipelines predict` and `mlflow run . -e predict` with a registered
model, against `mlflow.pyfunc` on the same rows; files that do not fit are refused first."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.runs import TINY, error_lines, in_process, mlflow_run, only_run

MODEL = "models:/houses@champion"


def predict(env, cwd, *args: str):
    return in_process("predict", {}, env, cwd, *args)


@pytest.fixture
def registered(lesson_env, tracking, tmp_path):
    """A diabetes model registered as `houses`, and 50 raw diabetes rows as CSV and .npz."""
    from sklearn.datasets import load_diabetes

    result = in_process("dnn_regression", TINY | {"register": "houses"}, lesson_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    x = load_diabetes(as_frame=True).frame.head(50)
    x.drop(columns="target").to_csv(tmp_path / "rows.csv", index=False)
    x.to_csv(tmp_path / "with_target.csv", index=False)
    np.savez(tmp_path / "rows.npz", x=x.drop(columns="target").to_numpy())
    return x.drop(columns="target").to_numpy(np.float32)


def test_a_csv_and_an_npz_score_as_pyfunc_does(registered, lesson_env, tracking, tmp_path):
    import mlflow

    expected = mlflow.pyfunc.load_model(MODEL).predict(registered).ravel()
    for name in ("rows.csv", "rows.npz"):
        output = tmp_path / f"{name}.predictions.csv"
        args = ("--model", MODEL, "--input", str(tmp_path / name), "--output", str(output))
        result = predict(lesson_env, tmp_path, *args, "--chunk_size", "16")  # 4 chunks
        assert result.returncode == 0, result.stderr[-3000:]
        assert f"scored 50 rows of {tmp_path / name} with {MODEL} into {output}" in result.stdout
        assert "50/50" in result.stderr  # the progress bar reached the end
        assert "━" not in result.stdout + result.stderr  # and Keras's own bar never printed
        scored = pd.read_csv(output)
        assert list(scored.columns) == ["prediction"]
        np.testing.assert_allclose(scored["prediction"], expected, rtol=1e-5)
    runs = tracking.search_runs([tracking.get_experiment_by_name("predict").experiment_id])
    assert [r.data.metrics["rows_scored"] for r in runs] == [50, 50]
    assert {r.data.params["model"] for r in runs} == {MODEL}


def test_the_mlflow_entry_point_scores_a_file(registered, lesson_env, tracking, tmp_path):
    output = tmp_path / "out.csv"
    params = {"model": MODEL, "input": tmp_path / "rows.csv", "output": output}
    result = mlflow_run("predict", params, lesson_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(pd.read_csv(output)) == 50
    run = only_run(tracking, "predict")
    assert run.info.status == "FINISHED" and run.data.metrics["rows_scored"] == 50


@pytest.mark.parametrize(
    ("file", "message"),
    [
        (
            "with_target.csv",
            "with_target.csv has 11 columns (age, sex, bmi, bp, s1, s2, s3, s4, s5, s6, target)"
            "; the model takes 10 values per row (float32 samples of shape (10,))",
        ),
        ("short.npz", "short.npz holds samples of shape (3,); the model takes float32 samples"),
        ("missing.csv", "bad value '{tmp}/missing.csv' for input: no such file"),
        ("rows.txt", "bad value '{tmp}/rows.txt' for input: give a .csv or an .npz file"),
    ],
)
def test_a_file_that_does_not_fit_is_refused_and_nothing_is_written(
    file, message, registered, lesson_env, tracking, tmp_path
):
    np.savez(tmp_path / "short.npz", x=registered[:, :3])
    (tmp_path / "rows.txt").write_text("1,2,3\n")
    output = tmp_path / "kept.csv"
    output.write_text("an earlier result\n")
    args = ("--model", MODEL, "--input", str(tmp_path / file), "--output", str(output))
    result = predict(lesson_env, tmp_path, *args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and message.format(tmp=tmp_path) in lines[0], result.stderr[-2000:]
    assert output.read_text() == "an earlier result\n"
    assert not list(tmp_path.glob(".kept.csv*"))


def test_an_unknown_model_is_one_line(lesson_env, tracking, tmp_path):
    (tmp_path / "rows.csv").write_text("a\n1\n")
    args = ("--model", "models:/nobody@champion", "--input", str(tmp_path / "rows.csv"))
    result = predict(lesson_env, tmp_path, *args)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = error_lines(result.stderr)
    assert line.startswith("error: cannot load model models:/nobody@champion: ")


def test_parameters_help_and_messages_come_from_their_declarations(tmp_path, capsys):
    from pipelines import predict
    from steps.errors import UserError

    rows = tmp_path / "rows.csv"
    rows.write_text("a\n1\n")
    given = ("--model", MODEL, "--input", str(rows))
    args = predict.parse(list(given))
    assert (args.model, args.input, args.output, args.chunk_size) == (
        MODEL,
        rows,
        "predictions.csv",
        1024,
    )
    for more, message in [
        (("--chunk_size", "0"), "bad value 0 for chunk_size: use 1 or more"),
        (("--chunk_size", "many"), "bad value 'many' for chunk_size: use 1 or more"),
        (("--output", "out.txt"), "bad value 'out.txt' for output: give a .csv file"),
        (
            ("--output", f"{tmp_path}/none/out.csv"),
            f"bad value '{tmp_path}/none/out.csv' for output: its folder does not exist",
        ),
    ]:
        with pytest.raises(UserError) as caught:
            predict.parse([*given, *more])
        assert str(caught.value) == message
    with pytest.raises(UserError, match=r"^the following arguments are required: --input \(see"):
        predict.parse(["--model", MODEL])
    with pytest.raises(SystemExit):
        predict.parse(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--input PATH the raw rows to score: give a .csv or an .npz file (required)" in text
    assert "--chunk_size INT rows per predict call: 1 or more (default: 1024)" in text
