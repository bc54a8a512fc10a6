"""Model logging: a Keras model logged with MLflow's Keras flavours and a quiet pyfunc loader."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_keras() -> Iterator[None]:
    import keras

    was_on = keras.config.is_interactive_logging_enabled()
    keras.config.disable_interactive_logging()
    try:
        yield
    finally:
        if was_on:
            keras.config.enable_interactive_logging()


# What MLflow refuses in a logged model's name (mlflow.utils.validation), and spaces.
UNFIT_IN_MODEL_NAME = re.compile(r"[\s·/:.%\"']+")


def model_name(run_names: list[str]) -> str:
    """The name a logged model shows on the model pages and in the runs table's Models column:
    the run's name after its parent's, fit for a model name, as `cnn-cifar10` (`cnn · cifar10`)
    or `tune-dnn-iris-best` (the child run `best` of `tune dnn · iris`)."""
    return UNFIT_IN_MODEL_NAME.sub("-", " ".join(run_names)).strip("-") or "model"


def run_model_name(run_id: str) -> str:
    """`model_name` of a run: its name, after its parent's when it is a child run."""
    import mlflow

    client = mlflow.MlflowClient()
    run = client.get_run(run_id)
    parent = run.data.tags.get("mlflow.parentRunId")
    names = [client.get_run(parent).info.run_name] if parent else []
    return model_name([*names, run.info.run_name])


def log_keras_model(model, example, backend: str, requirements: list[str], name: str, front=None):
    """MLflow's TensorFlow flavour (the Keras flavour on JAX and PyTorch), with a pyfunc that
    predicts without Keras's progress bar (`steps/track/quiet_pyfunc.py`): `mlflow models serve`
    would print one per request. `name`: the logged model's (`model_name`).
    `front`: a table's fitted front (`steps/data/table_front.py`): the logged model then takes
    the raw rows (`example`, a DataFrame), its signature their columns by name and type."""
    from mlflow.models import Model, infer_signature

    from steps.track import quiet_pyfunc

    extra = {}
    if front is not None:
        from steps.data import table_front

        rows = table_front.example_rows(front, example)
        example = front.encode(rows)  # the network's own signature: its numbers
        extra = {
            "front": (front.spec, front.transformer),
            "table_signature": table_front.signature(front),
            "table_example": rows,
        }
        requirements = [*requirements, *table_requirements()]
    # The signature from our own prediction: MLflow's would trace `model.predict` once more.
    signature = infer_signature(example, quiet_pyfunc.predict_in_batches(model, example))
    if backend == "tensorflow":
        flavour = {"keras_flavor": "mlflow.tensorflow", "input_example": example}
    else:  # the keras flavour crashes on input_example (upstream bug): signature only
        flavour = {"keras_flavor": "mlflow.keras"}
    if front is not None:  # the raw rows' example replaces the numbers' (quiet_pyfunc)
        flavour.pop("input_example", None)
    with modules_unmapped():
        return Model.log(
            artifact_path=None,  # deprecated for name=, yet still required
            name=name,
            flavor=quiet_pyfunc,
            model=model,
            pip_requirements=requirements,
            signature=signature,
            **flavour,
            **extra,
        )


@contextlib.contextmanager
def modules_unmapped() -> Iterator[None]:
    """MLflow checks a model's requirements against the installed packages, first mapping
    every installed module to its package: it reads every package's file list, about a
    second, once per process. The requirements here are exact pins of installed packages
    by their package names, which the check finds without the map: an empty map stands in
    while the model is logged, and MLflow builds the real one when it needs it (to infer
    another model's requirements)."""
    from mlflow.utils import requirements_utils

    if getattr(requirements_utils, "_MODULES_TO_PACKAGES", None) is not None:
        yield  # already built in this process: nothing to save
        return
    requirements_utils._MODULES_TO_PACKAGES = {}
    try:
        yield
    finally:
        requirements_utils._MODULES_TO_PACKAGES = None


def table_requirements() -> list[str]:
    """What a table model's front needs at prediction: its transformer's library and pandas."""
    from importlib.metadata import version

    return [f"scikit-learn=={version('scikit-learn')}", f"pandas=={version('pandas')}"]


def backend_requirement(backend: str) -> str:
    from importlib.metadata import version

    package = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend]
    return f"{package}=={version(package)}"
