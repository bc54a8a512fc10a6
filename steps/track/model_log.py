"""Model logging: a Keras model logged with MLflow's Keras flavours and a quiet pyfunc loader."""

from __future__ import annotations

import contextlib
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


def log_keras_model(model, example, backend: str, requirements: list[str]):
    """MLflow's TensorFlow flavour (the Keras flavour on JAX and PyTorch), with a pyfunc that
    predicts without Keras's progress bar (`steps/track/quiet_pyfunc.py`): `mlflow models serve`
    would print one per request."""
    from mlflow.models import Model, infer_signature

    from steps.track import quiet_pyfunc

    # The signature from our own prediction: MLflow's would trace `model.predict` once more.
    signature = infer_signature(example, quiet_pyfunc.predict_in_batches(model, example))
    if backend == "tensorflow":
        flavour = {"keras_flavor": "mlflow.tensorflow", "input_example": example}
    else:  # the keras flavour crashes on input_example (upstream bug): signature only
        flavour = {"keras_flavor": "mlflow.keras"}
    return Model.log(
        artifact_path=None,  # deprecated for name=, yet still required
        name="model",
        flavor=quiet_pyfunc,
        model=model,
        pip_requirements=requirements,
        signature=signature,
        **flavour,
    )


def backend_requirement(backend: str) -> str:
    from importlib.metadata import version

    package = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend]
    return f"{package}=={version(package)}"
