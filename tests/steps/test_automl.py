"""The AutoKeras step (lesson 65): the Keras 3.15 incompatibility it works around, pinned so
that it shows when upstream fixes it, and how the exported model's outputs are read."""

from __future__ import annotations

import numpy as np
import pytest

from steps import automl
from steps.data.dataset import Dataset
from steps.errors import UserError

FIXED_UPSTREAM = (
    "AutoKeras {version} no longer hands its heads NumPy integers that Keras refuses as "
    "units: remove steps/automl.integer_shapes (and this test), and the autokeras entry point's "
    "`shows` in pipelines/entry_points.py that tells of it"
)


def head_with_shapes_from_data(ak, set_io_shapes):
    """A classification head whose shapes AutoKeras's graph set from 4 rows of 3 features
    and 10 one-hot classes, as its tuner does before each trial builds."""
    from autokeras.utils import data_utils

    node = ak.Input()
    output = ak.ClassificationHead()(node)[0]
    graph = ak.graph.Graph(inputs=[node], outputs=[output])
    set_io_shapes(graph, data_utils.dataset_shape((np.zeros((4, 3)), np.zeros((4, 10)))))
    return node, output.in_blocks[0]


def test_autokeras_still_builds_dense_units_that_keras_refuses():
    ak = pytest.importorskip("autokeras")
    import keras
    import keras_tuner

    graph = ak.graph.Graph
    original = getattr(graph.set_io_shapes, "__wrapped__", graph.set_io_shapes)
    _, head = head_with_shapes_from_data(ak, original)
    try:
        head.build(keras_tuner.HyperParameters(), keras.Input((3,)))
    except ValueError as exc:
        assert "invalid value for `units`" in str(exc)
    else:
        pytest.fail(FIXED_UPSTREAM.format(version=ak.__version__))
    assert automl.passes_numpy_units(ak)


def test_with_the_step_the_head_builds_from_python_ints():
    ak = pytest.importorskip("autokeras")
    import keras
    import keras_tuner

    assert automl.import_autokeras() is ak
    node, head = head_with_shapes_from_data(ak, ak.graph.Graph.set_io_shapes)
    assert node.shape == (3,) and head.shape == (10,)
    assert all(type(d) is int for d in (*node.shape, *head.shape))
    output = head.build(keras_tuner.HyperParameters(), keras.Input((3,)))
    assert tuple(output.shape) == (None, 10)
    assert automl.integer_shapes(ak)  # applied once: a second call changes nothing
    assert not hasattr(ak.graph.Graph.set_io_shapes.__wrapped__, "__wrapped__")


def model_over(classes: int, loss: str):
    """A real, untrained Keras model with `classes` softmax (or one sigmoid) outputs."""
    import keras

    activation = "sigmoid" if classes == 1 else "softmax"
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(classes, activation)])
    model.compile(loss=loss, metrics=["accuracy"])
    return model


def prepared_split(y_train, y_test, *, task="classification", classes=("a", "b", "c")):
    x_train, x_test = np.ones((len(y_train), 2)), np.ones((len(y_test), 2))
    dataset = Dataset(
        "toy",
        task,
        np.concatenate([x_train, x_train]),
        np.concatenate([y_train, y_train]),
        x_test,
        np.asarray(y_test),
        class_names=classes if task == "classification" else (),
    )
    return automl.prepared(dataset, val_fraction=0.5, test_fraction=0.2, seed=0)


def test_output_columns_are_the_classes_seen_in_training():
    prepared = prepared_split(np.array([0, 2, 0, 2]), [2, 0, 2])  # class 1 never seen
    model = model_over(2, "categorical_crossentropy")
    outputs = np.array([[0.2, 0.8], [0.9, 0.1], [0.4, 0.6]], dtype=np.float32)
    metrics, said = automl.test_scores(model, prepared, outputs)
    assert list(said) == [2, 0, 2] and metrics["test_accuracy"] == 1.0
    assert metrics["test_loss"] > 0


def test_one_sigmoid_column_reads_as_the_second_class():
    prepared = prepared_split(np.array([0, 1, 0, 1]), [1, 0, 0], classes=("no", "yes"))
    model = model_over(1, "binary_crossentropy")
    outputs = np.array([[0.7], [0.2], [0.6]], dtype=np.float32)
    metrics, said = automl.test_scores(model, prepared, outputs)
    assert list(said) == [1, 0, 1] and metrics["test_accuracy"] == pytest.approx(2 / 3)


def test_regression_is_scored_in_the_targets_units():
    prepared = prepared_split(np.array([1.0, 2.0, 3.0, 4.0]), [1.0, 3.0], task="regression")
    model = model_over(1, "mse")
    metrics, _ = automl.test_scores(model, prepared, np.array([[2.0], [3.0]]))
    assert metrics["test_mae"] == pytest.approx(0.5)
    assert {"test_loss", "test_rmse", "test_r2"} <= metrics.keys()


def test_autokeras_needs_validation_rows():
    dataset = Dataset("toy", "regression", np.ones((8, 2)), np.arange(8.0))
    with pytest.raises(UserError, match=r"^AutoKeras ranks its trials on validation rows"):
        automl.prepared(dataset, val_fraction=0, test_fraction=0.2, seed=0)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("digits", "ImageClassifier"),
        ("iris", "StructuredDataClassifier"),
        ("diabetes", "StructuredDataRegressor"),
    ],
)
def test_each_kind_of_data_gets_its_own_autokeras_task(name, expected, tmp_path):
    ak = pytest.importorskip("autokeras")
    from steps.data import catalog

    found = automl.searcher(ak, catalog.resolve(name).load(), 1, 0, tmp_path)
    assert type(found).__name__ == expected


def test_images_with_a_number_to_predict_get_the_image_regressor(tmp_path):
    ak = pytest.importorskip("autokeras")
    images = Dataset("toy", "regression", np.zeros((8, 4, 4, 1)), np.arange(8.0), pixel_max=1.0)
    assert images.is_image
    assert type(automl.searcher(ak, images, 1, 0, tmp_path)).__name__ == "ImageRegressor"
