"""The command line: fast help, generated MLproject, experiment naming."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipelines import mlproject
from pipelines.entry_points import ENTRY_POINTS
from pipelines.experiment import entry_point_from_argv
from steps import native_logs
from steps.model import families
from steps.track.param_text import param_text
from steps.track.run import run_link

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
    assert (
        "--model TEXT the model family (steps/model/families.py): choose one of "
        + ", ".join(families.names())
        in text
    )
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
    assert set(project["entry_points"]) == {*ENTRY_POINTS, "predict"}  # predict: no lesson
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
        (["mlflow", "run", ".", "-e", "predict"], "predict"),
        (["mlflow", "run", ".", "-e", "not_ours"], None),
        (["mlflow", "run", "."], None),
        (["mlflow", "ui"], None),
        (["python", "-m", "pipelines", "cnn_mnist"], None),
    ],
)
def test_experiment_plugin_reads_the_entry_point_from_mlflow_run(argv, expected):
    assert entry_point_from_argv(argv) == expected


@pytest.mark.slow
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

    env = lesson_env | {"MLFLOW_EXPERIMENT_NAME": "from-env", "PORT": "8123"}
    direct = in_process("dnn_basic", TINY | {"epochs": 1}, env, tmp_path)
    run = finished_run(direct, tracking, "from-env")
    assert run.info.run_name == "dnn_basic · linear"
    assert tracking.get_experiment_by_name("dnn_basic") is None
    # The link goes where `make ui PORT=8123` serves this store.
    page = f"#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}"
    assert direct.stdout.splitlines()[-1] == (
        f"MLflow run: http://127.0.0.1:8123/{page}?workflowType=machine_learning "
        "(start the UI with `make ui PORT=8123`)"
    )


PAGE = "#/experiments/3/runs/abc?workflowType=machine_learning"


@pytest.mark.parametrize(
    ("uri", "port", "line"),
    [
        ("http://10.0.0.5:5000", "", f"http://10.0.0.5:5000/{PAGE}"),
        ("https://example.org/mlflow/", "8123", f"https://example.org/mlflow/{PAGE}"),
        ("https://me:secret@example.org", "", f"https://me:***@example.org/{PAGE}"),
        ("sqlite:///mlflow.db", "", f"http://127.0.0.1:5000/{PAGE} (start the UI with `make ui`)"),
        (
            "postgresql://me@db/mlflow",
            "8123",
            f"http://127.0.0.1:8123/{PAGE} (start the UI with `make ui PORT=8123`)",
        ),
    ],
)
def test_the_run_link_points_at_the_tracking_server_or_at_make_ui(uri, port, line):
    """A tracking server serves its own UI; a local store is served by `make ui` (its PORT)."""
    assert run_link(uri, "3", "abc", port) == f"MLflow run: {line}"


def test_tensorflow_is_quiet_unless_the_user_set_its_log_level():
    chosen = {"TF_CPP_MIN_LOG_LEVEL": "0"}
    assert not native_logs.quiet_unless_set(chosen) and chosen == {"TF_CPP_MIN_LOG_LEVEL": "0"}
    unset: dict[str, str] = {}
    assert native_logs.quiet_unless_set(unset) and unset == {"TF_CPP_MIN_LOG_LEVEL": "3"}


def test_native_log_lines_are_dropped_from_stderr_and_the_rest_kept():
    """What C++ writes to file descriptor 2 (as TensorFlow's libraries do while loading)."""
    code = """if True:
        import os, sys
        from steps import native_logs
        with native_logs.native_lines_dropped():
            os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are "
                        b"written to STDERR\\n")
            os.write(2, b"I0000 00:00:1795989700.450031   31948 port.cc:153] oneDNN on\\n")
            os.write(2, b"E0000 00:00:1795989710.312334   31948 cuda_platform.cc:52] cuInit\\n")
            print("a warning of Python's", file=sys.stderr)
            os.write(2, b"F0000 00:00:1795989710.312334   31948 a.cc:1] fatal stays\\n")
        print("after", file=sys.stderr)
    """
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert done.stderr.splitlines() == [
        "a warning of Python's",
        "F0000 00:00:1795989710.312334   31948 a.cc:1] fatal stays",
        "after",
    ]


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


def option_helps(parser) -> dict[str, str]:
    return {a.option_strings[0]: a.help for a in parser._actions if a.option_strings[0] != "-h"}


def test_every_option_of_every_entry_point_shows_one_default():
    """A declaration that says what its empty default stands for (`--metric`: val_accuracy or
    val_loss) shows that once, not beside `(default: '')`."""
    from pipelines.cli import parser_for
    from pipelines.predict import parser as predict_parser

    parsers = [parser_for(entry) for entry in ENTRY_POINTS.values()] + [predict_parser()]
    for parser in parsers:
        for option, text in option_helps(parser).items():
            count = text.count("(default: ") + text.count("(required)")
            assert count == 1, f"{parser.prog} {option}: {text}"
    tune = option_helps(parser_for(ENTRY_POINTS["tune"]))
    assert tune["--metric"].endswith("(default: val_accuracy or val_loss)")
    assert "(default: float32)" in tune["--mixed_precision"]
    assert tune["--epochs"].endswith("(default: 30)")
