"""The command line: fast help, generated MLproject, experiment naming."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipelines import mlproject
from pipelines.experiment import entry_point_from_argv
from pipelines.registry import ENTRY_POINTS
from steps.tracking import param_text

from helpers.runs import REPO, TINY, finished_run, in_process, mlflow_run


def python(code: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, env=env
    )


def test_help_lists_entry_points_without_importing_tensorflow_or_mlflow():
    result = python(
        "import sys; from pipelines.cli import main; main(['--help']);"
        "main(['dnn_basic', '--epochs', '0']);"
        "print(sorted(m for m in ('tensorflow', 'keras', 'mlflow') if m in sys.modules))"
    )
    assert result.returncode == 0, result.stderr
    for name in ENTRY_POINTS:
        assert name in result.stdout
    assert result.stdout.strip().endswith("[]")
    assert result.stderr.strip() == "error: bad value 0 for epochs: use 1 or more"


def test_entry_point_help_explains_each_parameter_it_takes():
    result = python(
        "import sys, contextlib\n"
        "from pipelines.cli import main\n"
        "with contextlib.suppress(SystemExit):\n"
        "    main(['tune', '--help'])\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'mlflow') if m in sys.modules))"
    )
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    for name in ENTRY_POINTS["tune"].takes:
        assert f"--{name} " in text, name
    assert "--model TEXT the model family (steps/families.py): choose one of dnn, cnn, lstm" in text
    assert "--patience INT EarlyStopping: epochs without a better validation loss" in text
    assert "0 (off) or more (default: 5)" in text
    assert (
        "--pruner TEXT what stops weak trials early: choose one of hyperband, median, none" in text
    )
    assert text.endswith("[]")


def test_unknown_entry_point_lists_the_known_ones():
    result = subprocess.run(
        [sys.executable, "-m", "pipelines", "cnn_mnst"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: unknown entry point 'cnn_mnst'; choose one of: ")
    assert "cnn_mnist" in result.stderr


def test_mlproject_is_generated_from_the_registry():
    """`make mlproject` output is what is committed: parameters cannot drift from the code."""
    assert (REPO / "MLproject").read_text() == mlproject.render()


def test_mlproject_declares_every_parameter_with_its_default():
    """Except `backend`: undeclared, so the run can log the backend Keras really loaded."""
    project = yaml.safe_load((REPO / "MLproject").read_text())
    assert set(project["entry_points"]) == set(ENTRY_POINTS)
    for name, entry in ENTRY_POINTS.items():
        declared = project["entry_points"][name]["parameters"]
        values = entry.params()
        assert set(declared) == set(entry.takes) - {"backend"}, name
        for field in declared:
            value = getattr(values, field)
            expected = param_text(value)
            kind = declared[field]["type"]
            written = declared[field]["default"]
            assert (param_text(written) if kind == "float" else written) == expected, (name, field)
            assert f"--{field} {{{field}}}" in project["entry_points"][name]["command"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/x/bin/mlflow", "run", ".", "-e", "cnn_mnist"], "cnn_mnist"),
        (["mlflow", "run", ".", "--entry-point", "dnn_basic", "-P", "a=1"], "dnn_basic"),
        (["mlflow", "run", ".", "--entry-point=dnn_regression"], "dnn_regression"),
        (["mlflow", "run", ".", "-e", "not_ours"], None),
        (["mlflow", "run", "."], None),
        (["mlflow", "ui"], None),
        (["python", "-m", "pipelines", "cnn_mnist"], None),
    ],
)
def test_experiment_plugin_reads_the_entry_point_from_mlflow_run(argv, expected):
    assert entry_point_from_argv(argv) == expected


def test_experiment_name_option_and_variable_win(lesson_env, tracking, tmp_path: Path):
    result = mlflow_run(
        "dnn_basic",
        TINY | {"epochs": 1},
        lesson_env,
        tmp_path,
        "--experiment-name",
        "mine",
        "--run-name",
        "first-try",
    )
    run = finished_run(result, tracking, "mine")
    assert run.data.tags["pipeline"] == "dnn_basic"
    assert run.info.run_name == "first-try"  # the user's name is kept
    description = tracking.get_experiment_by_name("mine").tags["mlflow.note.content"]
    assert description == f"Lessons 01-04: {ENTRY_POINTS['dnn_basic'].summary}."

    env = lesson_env | {"MLFLOW_EXPERIMENT_NAME": "from-env"}
    direct = in_process("dnn_basic", TINY | {"epochs": 1}, env, tmp_path)
    assert finished_run(direct, tracking, "from-env").info.run_name == "dnn_basic · linear"
    assert tracking.get_experiment_by_name("dnn_basic") is None


def test_a_run_goes_to_its_experiment_whatever_the_process_set_before(
    lesson_env, tracking, tmp_path
):
    """MLflow's start_run prefers the experiment last set in the process to
    MLFLOW_EXPERIMENT_NAME: the pipeline sets its own, so an earlier set_experiment (another
    pipeline's, in the same process) cannot take its run."""
    import mlflow

    mlflow.set_experiment("set-before")
    env = lesson_env | {"MLFLOW_EXPERIMENT_NAME": "named"}
    result = in_process("dnn_basic", TINY | {"epochs": 1}, env, tmp_path)
    assert finished_run(result, tracking, "named").data.tags["pipeline"] == "dnn_basic"
    before = tracking.get_experiment_by_name("set-before").experiment_id
    assert tracking.search_runs([before]) == []
