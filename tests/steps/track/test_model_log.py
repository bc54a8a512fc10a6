"""A logged model's name (`steps.track.model_log`): what the model pages show."""

from __future__ import annotations

import pytest
from mlflow.utils.validation import _validate_logged_model_name

from steps.track.model_log import model_name


@pytest.mark.parametrize(
    ("run_names", "name"),
    [
        (["cnn · cifar10"], "cnn-cifar10"),
        (["tune dnn · iris", "best"], "tune-dnn-iris-best"),
        (["csv · wine.csv"], "csv-wine-csv"),
        (["tabular dnn · iris", "layers=4"], "tabular-dnn-iris-layers=4"),
        (["a/b:c%d\"e'f"], "a-b-c-d-e-f"),
        (["·"], "model"),
    ],
)
def test_a_model_is_named_after_its_run_in_a_name_mlflow_accepts(run_names, name):
    assert model_name(run_names) == name
    _validate_logged_model_name(name)  # raises on what MLflow refuses
