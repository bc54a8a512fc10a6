"""Bad numbers through the CLI (in this process): data a model cannot learn from, and training
that blows up. Each ends with exit code 2, one `error:` line, no traceback, the run FAILED
with the reason."""

from __future__ import annotations

import numpy as np

from helpers.runs import TINY, assert_clean_failure, in_process, only_run


def test_a_csv_with_a_nan_refused(lesson_env, tracking, tmp_path):
    """`-P missing=refuse`: a missing value stops the run as it did before imputing."""
    path = tmp_path / "houses.csv"
    path.write_text("rooms,area,price\n3,70,100\n2,50,90\n4,,120\n" + "3,60,95\n" * 10)
    params = TINY | {"dataset": f"csv:{path}", "target": "price", "missing": "refuse"}
    result = in_process("tabular", params, lesson_env, tmp_path)
    message = f"{path}: 1 value is NaN in column 'area' (first at row 2); fill or drop them"
    assert_clean_failure(result, tracking, "tabular", message)


def test_an_npz_with_infinite_labels(lesson_env, tracking, tmp_path):
    y = np.linspace(0.0, 1.0, 40)
    y[5] = np.inf
    path = tmp_path / "table.npz"
    np.savez(path, x=np.random.default_rng(0).normal(size=(40, 3)), y=y)
    result = in_process("tabular", TINY | {"dataset": f"npz:{path}"}, lesson_env, tmp_path)
    message = f"{path}: 1 value is infinite in y (first at row 5); fill or drop them"
    assert_clean_failure(result, tracking, "tabular", message)


def test_a_single_class_csv_is_refused_before_training(lesson_env, tracking, tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text("a,b,label\n" + "".join(f"{i},{2 * i},yes\n" for i in range(30)))
    params = TINY | {"dataset": f"csv:{path}", "target": "label"}
    result = in_process("tabular", params, lesson_env, tmp_path)
    message = (
        f"{path}: every row has the same class, 'yes' (30 rows); a classifier needs two or more"
    )
    assert_clean_failure(result, tracking, "tabular", message)
    assert "epochs_run" not in only_run(tracking, "tabular").data.metrics


def test_a_class_only_in_the_test_rows(lesson_env, tracking, tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "given.npz"
    np.savez(
        path,
        x_train=rng.normal(size=(40, 3)),
        y_train=np.array([0, 1] * 20),
        x_test=rng.normal(size=(10, 3)),
        y_test=np.array([0, 1, 2, 2, 0, 1, 0, 1, 2, 0]),
    )
    result = in_process("tabular", TINY | {"dataset": f"npz:{path}"}, lesson_env, tmp_path)
    message = (
        "given: 1 class only in the test rows, none in training: '2' (3 rows); add training rows "
        "of each, or drop those rows"
    )
    assert_clean_failure(result, tracking, "tabular", message)


def test_huge_values_without_a_scaler(lesson_env, tracking, tmp_path):
    path = tmp_path / "huge.npz"
    x = np.random.default_rng(0).uniform(-1.0, 1.0, size=(60, 3)) * 1e20
    np.savez(path, x=x, y=np.array([0, 1] * 30))
    params = TINY | {"dataset": f"npz:{path}", "scaler": "none"}
    result = in_process("tabular", params, lesson_env, tmp_path)
    assert_clean_failure(
        result, tracking, "tabular", "past 1.8e+19 where float32 training overflows: use -P scaler="
    )


def test_a_diverging_learning_rate(lesson_env, tracking, tmp_path):
    params = TINY | {"dataset": "diabetes", "optimizer": "sgd", "learning_rate": 10}
    result = in_process("tabular", params, lesson_env, tmp_path)
    assert_clean_failure(result, tracking, "tabular", "training diverged at epoch 1: loss is ")
    assert "lower -P learning_rate (now 10) or try another -P optimizer (now sgd)" in result.stderr
    run = only_run(tracking, "tabular")
    assert "test_loss" not in run.data.metrics  # neither scored nor logged


def test_a_diverged_run_is_not_resumed_from_its_nan_epoch(lesson_env, tracking, tmp_path):
    """Epochs 1-2 are backed up, epoch 3 blows up: a rerun with -P resume=true starts over
    (and blows up at epoch 3 again) instead of continuing from NaN weights."""
    params = TINY | {
        "optimizer": "sgd",
        "learning_rate": 0.001,
        "units": 4,
        "layers": 1,
        "batch_size": 32,
        "epochs": 6,
    }
    message = "training diverged at epoch 3: loss is inf"
    first = in_process("dnn_basic", params, lesson_env, tmp_path)
    assert_clean_failure(first, tracking, "dnn_basic", message)
    again = in_process("dnn_basic", params | {"resume": "true"}, lesson_env, tmp_path)
    assert "resume: no interrupted run with these parameters" in again.stdout
    assert again.returncode == 2 and message in again.stderr
