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


def test_requirements_are_still_checked_without_mapping_every_installed_module(caplog):
    """`modules_unmapped`: MLflow still warns about a pin the environment does not satisfy
    and not about exact pins of what is installed; afterwards it maps the modules itself
    when asked to (to infer another model's requirements)."""
    from importlib.metadata import version

    from mlflow.utils import requirements_utils

    from steps.track.model_log import modules_unmapped

    installed = f"keras=={version('keras')}"
    with caplog.at_level("WARNING", logger="mlflow"), modules_unmapped():
        requirements_utils.warn_dependency_requirement_mismatches([installed, "keras==0.0.1"])
    assert "keras (current: " in caplog.text and "required: keras==0.0.1" in caplog.text
    assert f"required: {installed}" not in caplog.text
    requirements_utils._init_modules_to_packages_map()
    assert "keras" in requirements_utils._MODULES_TO_PACKAGES["keras"]
