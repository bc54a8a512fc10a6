"""Check step (`steps.data.checks`): each rule on tiny arrays, with its exact message.

Every refusal is one line: where, what, how many, and the first row it occurs in.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from steps.data import catalog, checks
from steps.data.dataset import Dataset
from steps.errors import UserError

TWO = ("a", "b")


def table(x, y, **kwargs) -> Dataset:
    task = kwargs.pop("task", "regression")
    return Dataset("t", task, np.asarray(x), np.asarray(y), **kwargs)


def classes(x, y, names=TWO, **kwargs) -> Dataset:
    return table(x, y, task="classification", class_names=names, **kwargs)


def refused(dataset: Dataset, message: str, *, text: bool = False) -> None:
    with pytest.raises(UserError, match=f"^{re.escape(message)}$"):
        checks.check_dataset(dataset, "data.csv", text=text)


# ------------------------------------------------------------------ values


def test_nan_in_a_named_column_gives_its_name_count_and_first_row():
    x = np.ones((20, 3))
    x[[17, 18, 19], 0] = np.nan
    dataset = table(x, np.arange(20.0), feature_names=("radius", "area", "texture"))
    refused(
        dataset,
        "data.csv: 3 values are NaN in column 'radius' (first at row 17); fill or drop them",
    )


def test_nan_in_several_columns_counts_each():
    x = np.ones((6, 3))
    x[2, 1] = x[4, 2] = x[5, 2] = np.nan
    refused(
        table(x, np.arange(6.0), feature_names=("rooms", "area", "age")),
        "data.csv: 3 values are NaN in columns 'area' (1), 'age' (2) (first at row 2); "
        "fill or drop them",
    )


def test_columns_without_names_are_numbered_and_long_lists_cut():
    x = np.full((3, 6), np.inf)
    refused(
        table(x, np.arange(3.0)),
        "data.csv: 18 values are infinite in columns 0 (3), 1 (3), 2 (3) and 3 more "
        "(first at row 0); fill or drop them",
    )


def test_infinite_labels_of_a_test_split_name_the_array():
    dataset = table(
        np.ones((4, 2)), np.ones(4), x_test=np.ones((2, 2)), y_test=np.array([1.0, -np.inf])
    )
    refused(dataset, "data.csv: 1 value is infinite in y_test (first at row 1); fill or drop them")


def test_nan_in_an_image_names_its_position():
    x = np.zeros((5, 4, 4, 3), np.float32)
    x[3, 1, 2, 0] = np.nan
    refused(
        classes(x, [0, 1, 0, 1, 0], pixel_max=255.0),
        "data.csv: 1 value is NaN in position (1, 2, 0) (first at row 3); fill or drop them",
    )


def test_values_beyond_float32_are_refused_whatever_the_scaler():
    refused(
        table([[1.0], [-1e39]], [1.0, 2.0]),
        "data.csv: 1 value is beyond float32's range (±3.4e38) in column 0 (first at row 1); "
        "rescale them",
    )


# ------------------------------------------------------------------ shapes


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        (
            {"x": np.array(3.0), "y": np.ones(3)},
            "x is a single value, not an array with one row per sample",
        ),
        ({"x": np.ones((5, 2)), "y": np.ones(4)}, "x has 5 rows but y has 4"),
        (
            {
                "x_train": np.ones((4, 3)),
                "y_train": np.ones(4),
                "x_test": np.ones((2, 3, 1)),
                "y_test": np.ones(2),
            },
            "x_train rows have shape (3,) but x_test rows (3, 1); they must match",
        ),
        (
            {
                "x_train": np.ones((4, 3)),
                "y_train": np.ones((4, 2)),
                "x_test": np.ones((2, 3)),
                "y_test": np.ones(2),
            },
            "y_train rows have shape (2,) but y_test rows (); they must match",
        ),
    ],
)
def test_shapes_as_stored(arrays, message):
    assert next(p for p in checks.stored_problems(arrays) if p) == message


# ------------------------------------------------------------------ kinds


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (
            np.ones((4, 2)) + 1j,
            "x holds complex numbers (complex128); features must be real numbers "
            "(int, uint, float or bool)",
        ),
        (
            np.arange(8).reshape(4, 2).astype("datetime64[D]"),
            "x holds dates (datetime64[D]); features must be real numbers "
            "(int, uint, float or bool)",
        ),
        (
            np.array([1, "two", 3.0, None], dtype=object),
            "x holds Python objects (object); features must be real numbers "
            "(int, uint, float or bool)",
        ),
        (
            np.array(["so much fun", "no fun", "truly fun", "not good"]),
            "x holds text (<U11); this lesson trains on numbers "
            "(nlp_tokenize reads text, one per row)",
        ),
    ],
)
def test_feature_kinds(x, message):
    refused(table(x, np.arange(4.0)), f"data.csv: {message}")


def test_true_false_features_are_numbers_in_a_table_but_not_pixels():
    checks.check_dataset(classes(np.ones((4, 2), bool), [0, 1, 0, 1]), "t")
    refused(
        classes(np.ones((4, 2, 2), bool), [0, 1, 0, 1], pixel_max=1.0),
        "data.csv: x holds true/false values (bool); images are numbers (uint8 or float)",
    )


def test_text_only_where_the_lesson_reads_it():
    texts = ["so much fun", "no fun", "truly fun", "not good"]
    for x in (np.array(texts), np.array(texts, dtype=object)):
        checks.check_dataset(classes(x, [1, 0, 1, 0]), "t", text=True)
    refused(
        classes(np.array([["a", "b"]] * 4), [1, 0, 1, 0]),
        "data.csv: x holds text (<U1); features must be real numbers (int, uint, float or bool)",
        text=True,
    )


# ------------------------------------------------------------------ labels


def test_one_hot_rows_where_a_label_is_expected():
    refused(
        classes(np.ones((4, 2)), np.eye(3)[[0, 1, 2, 1]], names=("a", "b", "c")),
        "data.csv: y has rows of shape (3,); a classifier takes one class label per row "
        "(one-hot rows: save y.argmax(axis=1))",
    )


def test_class_labels_are_integers():
    refused(
        classes(np.ones((4, 2)), [0.0, 1.0, 0.0, 1.0]),
        "data.csv: y holds real numbers (float64); class labels are integers after encoding",
    )


def test_labels_index_a_class_name():
    refused(
        classes(np.ones((4, 2)), [0, 1, 2, 1]),
        "data.csv: 1 label in y is not a class index 0..1 (first at row 2: 2)",
    )


def test_a_single_class_is_refused_before_training():
    refused(
        classes(np.ones((4, 2)), [1, 1, 1, 1], names=("no", "yes")),
        "data.csv: every row has the same class, 'yes' (4 rows); a classifier needs two or more",
    )


def test_keras_style_label_columns_pass():
    x_train, x_test = np.zeros((4, 3, 3, 1), np.uint8), np.zeros((2, 3, 3, 1), np.uint8)
    y_train, y_test = np.array([[0], [1], [0], [1]]), np.array([[1], [0]])
    dataset = classes(x_train, y_train, x_test=x_test, y_test=y_test, pixel_max=255.0)
    checks.check_dataset(dataset, "t")


# ------------------------------------------------------------------ after the split


def test_classes_only_in_the_test_rows_are_named_with_their_counts():
    held_out = {"validation": np.array([0, 1]), "test": np.array([2, 3, 3, 1])}
    assert checks.split_problem(np.array([0, 0, 1, 1]), held_out, ("a", "b", "c", "d")) == (
        "2 classes only in the test rows, none in training: 'c' (1 row), 'd' (2 rows); "
        "add training rows of each, or drop those rows"
    )


def test_a_class_only_in_the_validation_rows():
    held_out = {"validation": np.array([2]), "test": np.array([0])}
    assert checks.split_problem(np.array([0, 1]), held_out, ("a", "b", "c")).startswith(
        "1 class only in the validation rows, none in training: 'c' (1 row)"
    )


def test_one_class_in_the_training_rows():
    held_out = {"validation": np.array([], dtype=int), "test": np.array([0])}
    assert checks.split_problem(np.array([0, 0]), held_out, TWO) == (
        "the training rows hold one class only; a classifier needs two or more"
    )


# ------------------------------------------------------------------ scale


def test_unscaled_classifier_inputs_past_the_square_root_of_float32_max():
    assert checks.scale_problem(1.0e19, None, scaled=False) == ""
    assert checks.scale_problem(2.0e19, None, scaled=False) == (
        "unscaled features reach 2e+19, past 1.8e+19 where float32 training overflows: "
        "use -P scaler=standard (or minmax)"
    )


def test_regression_inputs_count_with_the_targets_spread():
    assert checks.scale_problem(1.0e7, 77.0, scaled=False) == ""
    assert checks.scale_problem(1.0e8, 77.0, scaled=False) == (
        "unscaled features reach 1e+08; with the target's spread (std 77) that passes 4.3e+09 "
        "where float32 training overflows: use -P scaler=standard (or minmax)"
    )
    assert checks.scale_problem(4.0, 1.0e10, scaled=True) == (
        "scaled features reach 4; with the target's spread (std 1e+10) that passes 4.3e+09 "
        "where float32 training overflows: give the target in larger units "
        "(divide it by a power of ten)"
    )


# ------------------------------------------------------------------ clean sets


@pytest.fixture(scope="module")
def every_upstream_file(tmp_path_factory) -> Path:
    from helpers import upstream_files

    folder = tmp_path_factory.mktemp("mirror")
    upstream_files.write_mnist_npz(folder, n_train=30, n_test=10)
    upstream_files.write_fashion_mnist_gz(folder, n_train=30, n_test=10)
    upstream_files.write_cifar10_tar(folder, n_per_batch=4, n_test=6)
    upstream_files.write_cifar100_tar(folder, n_train=10, n_test=5)
    upstream_files.write_boston_housing_npz(folder)
    upstream_files.write_reuters_npz(folder)
    upstream_files.write_imdb_npz(folder)
    upstream_files.write_cats_and_dogs_zip(folder, n_train=3, n_validation=2)
    return folder


@pytest.mark.parametrize("name", sorted(catalog.NAMED))
def test_every_registered_data_set_passes(name, every_upstream_file, monkeypatch):
    """Bundled, generated and (tiny upstream-format copies of) Keras's sets are clean."""
    monkeypatch.setenv("KERAS_LESSONS_DATA_ORIGIN", str(every_upstream_file))
    dataset = catalog.resolve(name).load()
    checks.check_dataset(dataset, name, text=catalog.NAMED[name].kind == "text")
