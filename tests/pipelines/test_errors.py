"""Expected failures: one line on stderr, exit code 2, a FAILED run with the reason.

Most cases run the CLI in this process (`in_process`); the ones whose point is the process
(`mlflow run` failing the run it made before parsing, a download with no network) launch
the real `mlflow run`."""

from __future__ import annotations

import tempfile

import numpy as np
import pytest

from helpers.runs import TINY, assert_clean_failure, error_lines, in_process, mlflow_run


@pytest.mark.parametrize(
    ("entry_point", "params", "message"),
    [
        (
            "dnn_regression",
            {"dataset": "nope"},
            "unknown data set 'nope'; choose one of boston_housing, breast_cancer, cats_vs_dogs, "
            "cifar10",
        ),
        ("dnn_regression", {"dataset": "npz:/no/such.npz"}, "npz file not found: /no/such.npz"),
        ("dnn_regression", {"dataset": "iris"}, "iris is a classification data set"),
        ("image_classify", {"dataset": "diabetes"}, "diabetes is not a set of labelled images"),
        ("dnn_basic", {"units": 2_000_000_000}, "model too large: "),
        ("dnn_regression", {"dataset": "csv:/no/such.csv"}, "csv file not found"),
        (
            "dnn_regression",
            {"metrics": "mae,maee"},
            "bad value 'maee' for metrics: Keras knows no metric of that name; give names "
            "from keras.metrics such as mae, mse, accuracy, auc",
        ),
    ],
)
def test_bad_input_fails_cleanly(entry_point, params, message, lesson_env, tracking, tmp_path):
    result = in_process(entry_point, TINY | params, lesson_env, tmp_path)
    assert_clean_failure(result, tracking, entry_point, message)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"epochs": 0}, "bad value 0 for epochs: use 1 or more"),
        ({"scaler": "robust"}, "bad value 'robust' for scaler: choose one of"),
        ({"epochs": "ten"}, "bad value 'ten' for epochs: use 1 or more"),
        ({"seed": -5}, "bad value -5 for seed: use 0 to 4294967295"),
        ({"activation": "nonsense"}, "bad value 'nonsense' for activation: choose one of sigmoid"),
        ({"initializer": "nonsense"}, "bad value 'nonsense' for initializer: choose one of"),
        ({"l1": "inf"}, "bad value inf for l1: use 0 (off) to 1"),
        ({"layers": 1000}, "bad value 1000 for layers: use 0 to 64"),
        ({"learning_rate": "inf"}, "bad value inf for learning_rate: use a number above 0"),
        ({"test_fraction": 0}, "bad value 0 for test_fraction: use a number above 0 and below 1"),
        ({"metrics": "mae,mae"}, "bad value 'mae,mae' for metrics: give Keras metric names"),
    ],
)
def test_bad_parameter_is_refused_before_a_run(params, message, lesson_env, tracking, tmp_path):
    result = in_process("dnn_regression", TINY | params, lesson_env, tmp_path)
    assert_clean_failure(result, tracking, "dnn_regression", message, parameter_error=True)


def test_bad_parameter_fails_the_run_mlflow_run_made(lesson_env, tracking, tmp_path):
    """`mlflow run` creates the run before the pipeline parses: it must end FAILED with the
    reason, not stay RUNNING."""
    result = mlflow_run("dnn_regression", TINY | {"epochs": "ten"}, lesson_env, tmp_path)
    assert_clean_failure(
        result,
        tracking,
        "dnn_regression",
        "bad value 'ten' for epochs: use 1 or more",
        parameter_error=True,
    )


def test_malformed_npz_names_the_keys_it_found(lesson_env, tracking, tmp_path):
    path = tmp_path / "wrong.npz"
    np.savez(path, features=np.zeros((4, 2)), labels=np.zeros(4))
    result = in_process("dnn_regression", TINY | {"dataset": f"npz:{path}"}, lesson_env, tmp_path)
    assert_clean_failure(
        result, tracking, "dnn_regression", "has keys ['features', 'labels']; expected x_train"
    )


def test_csv_without_target_says_which_parameter_to_add(lesson_env, tracking, tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    result = in_process("dnn_regression", TINY | {"dataset": f"csv:{path}"}, lesson_env, tmp_path)
    assert_clean_failure(result, tracking, "dnn_regression", "add -P target=COLUMN")


@pytest.mark.slow
def test_offline_download_names_the_file_keras_looks_for(lesson_env, tracking, tmp_path):
    """No mirror, no network, no local copy: say where the file goes and what works offline."""
    lesson_env = {k: v for k, v in lesson_env.items() if k != "KERAS_LESSONS_DATA_ORIGIN"}
    lesson_env.update(http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9")
    result = mlflow_run("cnn_mnist", TINY, lesson_env, tmp_path)
    expected = f"Keras looks for {lesson_env['KERAS_HOME']}/datasets/mnist.npz"
    assert_clean_failure(result, tracking, "cnn_mnist", expected)
    line = error_lines(result.stderr)[0]
    assert line.startswith("error: cannot download mnist from https://")
    assert "-P dataset=digits" in line


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x": np.zeros((0, 4)), "y": np.zeros(0)}, "x has no rows; a data set needs samples"),
        (
            {
                "x_train": np.zeros((0, 4)),
                "y_train": np.zeros(0),
                "x_test": np.ones((3, 4)),
                "y_test": np.ones(3),
            },
            "x_train has no rows",
        ),
    ],
)
def test_npz_without_rows_fails_in_one_line(lesson_env, tracking, tmp_path, arrays, message):
    path = tmp_path / "empty.npz"
    np.savez(path, **arrays)
    result = in_process("tabular", TINY | {"dataset": f"npz:{path}"}, lesson_env, tmp_path)
    assert_clean_failure(result, tracking, "tabular", message)


def test_the_file_system_root_as_image_folder_is_refused_at_once(lesson_env, tracking, tmp_path):
    result = in_process("image_folder", TINY | {"dataset": "dir:/"}, lesson_env, tmp_path)
    assert_clean_failure(
        result, tracking, "image_folder", "/ is the file system's root, not a folder of class"
    )


def test_a_run_that_fails_while_opening_ends_failed_not_running(
    lesson_env, tracking, tmp_path, monkeypatch
):
    """The run's TensorBoard folder cannot be made (a file stands where the temporary folder
    should be): the run just opened ends FAILED with the reason, and the user reads one line."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setattr(tempfile, "tempdir", str(blocker))
    result = in_process("tabular", TINY | {"dataset": "iris"}, lesson_env, tmp_path)
    assert_clean_failure(result, tracking, "tabular", "a file stands where a folder is needed")
    assert "point TMPDIR elsewhere" in result.stderr
