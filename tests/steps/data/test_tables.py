"""Table step (`steps.data.tables`) and the CSV reader's rules in `steps.data.sources`
(lessons 58-59)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from steps.data import tables
from steps.data.dataset import Dataset
from steps.data.prepare import prepare
from steps.data.sources import csv_file, sklearn_sets
from steps.data.table_read import TEXT_DISTINCT_FLOOR
from steps.errors import UserError

from helpers.options import prepare_options


def iris() -> Dataset:
    return sklearn_sets.source("iris").load()


def test_dataset_frame_has_named_features_and_class_names_as_target():
    frame = tables.dataset_frame(iris(), "species")
    assert frame.shape == (150, 5)
    assert list(frame.columns[:2]) == ["sepal length (cm)", "sepal width (cm)"]
    assert frame.columns[-1] == "species"
    assert sorted(frame["species"].unique()) == ["setosa", "versicolor", "virginica"]
    np.testing.assert_array_equal(frame.iloc[:, :4].to_numpy(), iris().x_train)


def test_dataset_frame_flattens_images_and_keeps_the_own_test_split():
    images = Dataset(
        name="tiny",
        task="classification",
        x_train=np.arange(2 * 4).reshape(2, 2, 2),
        y_train=np.array([0, 1]),
        x_test=np.arange(4).reshape(1, 2, 2),
        y_test=np.array([1]),
        class_names=("a", "b"),
        pixel_max=255.0,
    )
    frame = tables.dataset_frame(images, "label")
    assert list(frame.columns) == ["x0", "x1", "x2", "x3", "label"]
    assert frame["label"].tolist() == ["a", "b", "b"]
    assert frame.iloc[1, :4].tolist() == [4, 5, 6, 7]


def test_dataset_frame_refuses_a_target_name_that_is_a_feature():
    with pytest.raises(UserError, match="'petal width \\(cm\\)' is already a feature of iris"):
        tables.dataset_frame(iris(), "petal width (cm)")


def test_profile_counts_missing_and_distinct_values_per_column():
    table = pd.DataFrame({"a": [1.0, None, 3.0, 3.0], "b": ["x", "y", None, None]})
    columns, text = tables.profile(table)
    assert columns.to_dict("list") == {
        "column": ["a", "b"],
        "dtype": ["float64", str(table["b"].dtype)],
        "missing": [1, 2],
        "distinct": [2, 2],
    }
    assert text.startswith("shape: 4 rows x 2 columns\n")
    assert "mean" in text and "unique" in text  # describe() of both kinds of column


@pytest.mark.parametrize("name", ["iris", "diabetes"])
def test_test_rows_are_the_rows_prepare_puts_in_the_test_set(name):
    dataset = sklearn_sets.source(name).load()
    options = prepare_options(val_fraction=0.25, test_fraction=0.2, seed=7)
    index = tables.test_rows(dataset, options)
    prepared = prepare(dataset, options)
    np.testing.assert_array_equal(prepared.data.x_test, dataset.x_train[index].astype(np.float32))
    assert len(set(index.tolist())) == len(index) == {"iris": 30, "diabetes": 89}[name]


def test_with_predictions_puts_truth_and_prediction_beside_the_original_rows():
    dataset = iris()
    rows = tables.dataset_frame(dataset, "species")
    options = prepare_options(seed=1)
    index = tables.test_rows(dataset, options)
    probabilities = np.eye(3)[np.zeros(len(index), dtype=int)]  # always "setosa"
    out = tables.with_predictions(rows, dataset, options, probabilities)
    assert list(out.columns) == [*rows.columns, "true", "predicted"]
    assert out["true"].tolist() == out["species"].tolist()
    assert out["species"].tolist() == rows["species"].iloc[index].tolist()
    assert set(out["predicted"]) == {"setosa"}


def test_with_predictions_of_a_regression_are_numbers():
    dataset = sklearn_sets.source("diabetes").load()
    rows = tables.dataset_frame(dataset, "progression")
    options = prepare_options()
    guesses = np.full((len(tables.test_rows(dataset, options)), 1), 150.0, dtype=np.float32)
    out = tables.with_predictions(rows, dataset, options, guesses)
    np.testing.assert_allclose(out["true"], out["progression"])
    assert out["predicted"].tolist() == [150.0] * len(out)


# ------------------------------------------------------------------ the CSV reader's rules


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "data.csv"
    path.write_text(text)
    return path


def test_an_empty_file_is_named_as_empty(tmp_path):
    path = write(tmp_path, "")
    with pytest.raises(UserError, match=r"data\.csv is empty; a CSV needs a header row and data"):
        csv_file.source(path, target="y").load()


def test_a_header_without_rows_has_no_labelled_rows(tmp_path):
    path = write(tmp_path, "a,y\n")
    with pytest.raises(UserError, match="has no rows with a value in 'y'"):
        csv_file.source(path, target="y").load()


def test_a_missing_target_column_lists_the_columns(tmp_path):
    path = write(tmp_path, "a,b\n1,2\n")
    with pytest.raises(UserError, match=r"target column 'y' is not in .*; its columns are a, b"):
        csv_file.source(path, target="y").load()


def test_labelled_rows_drop_rows_without_a_target_and_renumber():
    table = pd.DataFrame({"a": [1, 2, 3], "y": [1.0, None, 3.0]})
    rows = csv_file.labelled_rows(table, Path("t.csv"), "y")
    assert rows.index.tolist() == [0, 1] and rows["a"].tolist() == [1, 3]


def id_table(rows: int) -> str:
    lines = ["name,colour,size,y"]
    lines += [f"row{i},{'red' if i % 2 else 'blue'},{i},{i % 2}" for i in range(rows)]
    return "\n".join(lines) + "\n"


def test_a_text_column_with_a_value_per_row_is_left_out_by_name(tmp_path):
    from steps.data.table_front import Front

    path = write(tmp_path, id_table(40))
    dataset = csv_file.source(path, target="y").load()
    assert not any(name.startswith("name") for name in dataset.feature_names)
    assert Front.from_array(dataset.front).report["left_out"] == {
        "name": "text with 40 distinct values in 40 rows (an id, a name or free text, not a "
        "category; keep_columns keeps it)"
    }


def test_few_categories_are_one_hot_encoded(tmp_path):
    path = write(tmp_path, "\n".join(line.split(",", 1)[1] for line in id_table(40).splitlines()))
    dataset = csv_file.source(path, target="y").load()
    assert dataset.feature_names == (
        "size",
        "colour_blue",
        "colour_red",
        "colour_infrequent_sklearn",
    )
    assert dataset.task == "classification" and dataset.x_train.shape == (40, 4)


def test_a_small_file_keeps_its_names_as_categories(tmp_path):
    """Up to TEXT_DISTINCT_FLOOR distinct values are always a category, even one per row;
    each seen once in training, they share the slot of rare categories."""
    path = write(tmp_path, id_table(TEXT_DISTINCT_FLOOR))
    dataset = csv_file.source(path, target="y").load()
    assert dataset.x_train.shape == (20, 1 + 3 + 1)
    assert "name_infrequent_sklearn" in dataset.feature_names
