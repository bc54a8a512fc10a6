"""Lessons from Python (`pipelines.run`), as a notebook calls them: any number of runs in one
process, each in its own experiment with its own parameters, nothing left from one to the
next, the same one-line errors as the command line, and the run handed back."""

from __future__ import annotations

import ast
import logging
import os
import subprocess
import sys

import mlflow
import numpy as np
import pytest

import pipelines
from pipelines import LessonError, cli
from steps.train.search import rss_mb

from helpers.runs import TINY, only_run, parents_and_children

# Resident memory each run may add, counted from the end of the first (which loads TensorFlow,
# MLflow and their kernels). Measured on this stack (TF 2.21, 2 CPUs) over the runs below:
# 14-15 MB per run (each lesson also loads code and kernels of its own the first time, and
# leaves the graphs TensorFlow traced for its models' train steps, which clear_session does
# not return: a plain `model.fit` in a loop shows that too); without a fresh Keras session
# per run, 25 MB (each run's models, optimizers and compiled functions stayed). 20 MB sits
# between the two. Repeating one small lesson adds about 5 MB a run (docs/notebooks.md).
MB_PER_RUN = 20

# Five lessons, one after another, and a sweep: (entry point, its parameters).
LESSONS = [
    ("dnn_basic", {"seed": 1}),
    ("tabular", {"dataset": "iris", "seed": 2, "folds": 0}),
    ("functional_dnn", {"dataset": "diabetes", "seed": 3}),
    ("image_classify", {"dataset": "digits", "model": "dnn", "seed": 4}),
    ("checkpoint", {"dataset": "diabetes", "seed": 5}),
]
SWEEP = ("dnn_regression", {"dataset": "diabetes", "layers": [1, 2], "seed": 6})


def tiny(entry_point: str, params: dict) -> dict:
    """TINY, one epoch: TensorFlow's count of traced train steps reaches its warning sooner
    (5 of the last 10 calls) with fewer calls per model."""
    from helpers.runs import tiny as tiny_for

    return tiny_for(entry_point) | {"epochs": 1} | params


@pytest.fixture
def tensorflow_log():
    """What TensorFlow's Python logger says at WARNING and above while the test runs."""
    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logger = logging.getLogger("tensorflow")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


@pytest.mark.slow
def test_five_lessons_and_a_sweep_in_one_process_each_in_its_own_experiment(
    tracking, capfd, tensorflow_log
):
    # The first run pays for loading TensorFlow, MLflow and their kernels: memory is counted
    # from the second.
    results, rss = [], []
    for entry_point, params in [*LESSONS, SWEEP]:
        results.append(pipelines.run(entry_point, **tiny(entry_point, params)))
        rss.append(rss_mb())
    output = capfd.readouterr()

    for (entry_point, params), result in zip([*LESSONS, SWEEP], results, strict=True):
        run = only_run(tracking, entry_point) if entry_point != SWEEP[0] else None
        assert result.experiment == entry_point, result
        if run is not None:  # a lesson: the run handed back is the experiment's only run
            assert run.info.run_id == result.run_id
            assert run.data.params["seed"] == str(params["seed"])
            assert run.data.params["epochs"] == "1"
            assert run.info.status == "FINISHED"
    assert "MLFLOW_EXPERIMENT_ID" not in os.environ and "MLFLOW_RUN_ID" not in os.environ

    # The sweep: one parent, a child per value, each with its own depth, handed back.
    sweep = results[-1]
    parents, children = parents_and_children(tracking, SWEEP[0])
    assert [p.info.run_id for p in parents] == [sweep.run_id]
    assert sorted(c.data.params["layers"] for c in children[sweep.run_id]) == ["1", "2"]
    assert [c.params["layers"] for c in sweep.children] == ["1", "2"]
    assert all(c.test_metrics and c.model_uri for c in sweep.children)

    # Nothing from TensorFlow's logger, and no line of it on either stream.
    assert [r.getMessage()[:200] for r in tensorflow_log] == []
    printed = (output.out + output.err).splitlines()
    assert [line[:200] for line in printed if "WARNING:tensorflow" in line] == []
    assert [line[:200] for line in printed if "retracing" in line] == []

    per_run = (rss[-1] - rss[0]) / (len(rss) - 1)
    assert per_run < MB_PER_RUN, f"resident memory after each run (MB): {[round(m) for m in rss]}"

    # What a notebook reads off a lesson's result.
    tabular = results[1]
    assert set(tabular.test_metrics) == {"test_accuracy", "test_loss"}
    assert "baseline_linear_accuracy" in tabular.baselines
    assert tabular.best_epoch == 1
    assert list(tabular.history.index) == [1]
    assert {"loss", "val_loss", "accuracy", "learning_rate"} <= set(tabular.history.columns)
    assert tabular.history["loss"].tolist() == [
        m.value for m in tracking.get_metric_history(tabular.run_id, "loss")
    ]
    assert tabular.plots["history"].is_file()
    predicted = tabular.load_model().predict(np.ones((2, 4), dtype="float32"))
    assert np.asarray(predicted).shape == (2, 3)
    page = f"http://127.0.0.1:5000/#/experiments/{tabular.experiment_id}/runs/{tabular.run_id}"
    assert tabular.url.startswith(page)
    assert f'<a href="{page}' in tabular._repr_html_()
    assert repr(tabular).startswith("Result('tabular dnn · iris' in 'tabular', FINISHED, ")
    assert len(repr(tabular)) < 200
    assert "2 child runs" in sweep._repr_html_()
    table = pipelines.table(sweep.children)
    assert list(table["layers"]) == ["1", "2"]


@pytest.mark.slow
def test_the_command_line_entry_called_twice_files_each_run_under_its_own_experiment(tracking):
    """`main` as a notebook cell calls it: the second run is not filed under the first's."""
    for argv in (["dnn_basic", "--epochs", "1"], ["tabular", "--dataset", "iris", "--epochs", "1"]):
        assert cli.main([*argv, "--verbose", "0", "--units", "8"]) == 0
    assert only_run(tracking, "dnn_basic").info.run_name == "dnn_basic · linear"
    assert only_run(tracking, "tabular").info.run_name == "tabular dnn · iris"
    with mlflow.start_run() as own:  # the caller's own run: where it would go without them
        pass
    assert own.info.experiment_id == "0"  # MLflow's Default experiment


def test_an_experiment_chosen_by_the_caller_holds_every_run_and_stays_chosen(tracking, monkeypatch):
    chosen = tracking.create_experiment("mine")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", chosen)
    pipelines.run("dnn_basic", epochs=1, units=8, verbose=0)
    assert os.environ["MLFLOW_EXPERIMENT_ID"] == chosen
    assert only_run(tracking, "mine").info.run_name == "dnn_basic · linear"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"epochs": 0}, "bad value 0 for epochs: use 1 or more"),
        ({"learning_rate": -1}, "bad value -1 for learning_rate: use a number above 0"),
        (
            {"epoch": 3},
            "tabular takes no parameter 'epoch' (see `python -m pipelines tabular --help`)",
        ),
        ({"backend": "jax"}, "Keras is already loaded with the tensorflow backend in this process"),
    ],
)
def test_bad_parameters_raise_the_command_lines_one_line(tracking, params, message):
    import keras  # a process where a lesson ran before

    assert keras.backend.backend() == "tensorflow"
    with pytest.raises(LessonError) as error:
        pipelines.run("tabular", **params)
    assert message in str(error.value)
    assert "\n" not in str(error.value)
    assert tracking.get_experiment_by_name("tabular") is None  # refused before any run


def test_data_that_cannot_be_used_raises_and_the_run_ends_failed(tracking, tmp_path):
    with pytest.raises(LessonError, match="npz file not found") as error:
        pipelines.run("tabular", dataset=f"npz:{tmp_path / 'none.npz'}", **TINY)
    run = only_run(tracking, "tabular")
    assert run.info.status == "FAILED"
    assert run.data.tags["error"] == str(error.value)
    assert not error.value.download


def test_an_unknown_entry_point_lists_the_known_ones():
    with pytest.raises(
        LessonError, match="unknown entry point 'tabluar'; choose one of: dnn_basic"
    ):
        pipelines.run("tabluar")


def test_importing_the_package_loads_neither_keras_nor_mlflow():
    code = "import sys, pipelines; print(sorted(m for m in sys.modules if '.' not in m))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    loaded = set(ast.literal_eval(result.stdout))
    assert not loaded & {"keras", "tensorflow", "mlflow", "pandas", "numpy", "pydantic"}


def test_a_run_handed_over_in_mlflow_run_id_is_used_once(tracking, monkeypatch):
    """As `mlflow run` hands its run over: the first lesson trains in it, the next in a run
    of its own, not in the finished one. The first's dtype policy stays with it."""
    experiment = tracking.create_experiment("dnn_basic")
    launched = tracking.create_run(experiment).info.run_id
    monkeypatch.setenv("MLFLOW_RUN_ID", launched)
    first = pipelines.run(
        "dnn_basic", epochs=1, units=8, verbose=0, mixed_precision="mixed_bfloat16"
    )
    assert first.run_id == launched and first.status == "FINISHED"
    assert "MLFLOW_RUN_ID" not in os.environ
    import keras  # the caller's own models: in full precision, as before the run

    assert keras.mixed_precision.global_policy().name == "float32"
    assert first.params["mixed_precision"] == "mixed_bfloat16"
    second = pipelines.run("dnn_basic", epochs=1, units=8, verbose=0, seed=7)
    assert second.run_id != launched
    assert tracking.get_run(launched).data.params["seed"] == "42"


@pytest.mark.slow  # twenty runs, about a minute on 2 CPUs; `make test-slow` runs it
def test_memory_stays_flat_over_twenty_runs_of_one_lesson(tracking):
    """The same small lesson twenty times in one process: under 8 MB more resident memory per
    run, counted from the 2nd to the 20th. Measured: about 5 MB (TensorFlow's traced graphs,
    see MB_PER_RUN); without a fresh Keras session per run, about 9.5 MB."""
    rss = []
    for seed in range(20):
        pipelines.run("dnn_basic", epochs=2, batch_size=16, units=8, verbose=0, seed=seed)
        rss.append(rss_mb())
    per_run = (rss[-1] - rss[1]) / (len(rss) - 2)
    assert per_run < 8, f"resident memory after each run (MB): {[round(m) for m in rss]}"
