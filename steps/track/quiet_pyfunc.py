"""The logged model's python_function flavour: MLflow's own Keras flavours, predicting without
Keras's progress bar or a traced graph.

MLflow's pyfunc wrappers call `model.predict(x)`, whose default `verbose="auto"` prints a
`1/1 ━━━━ 0s 30ms/step` line on every call: one per request under `mlflow models serve`, one
per batch for `mlflow.pyfunc.load_model(...).predict`. Here the same wrapper predicts with
`verbose=0`. The model is saved exactly as `mlflow.tensorflow` (or `mlflow.keras`) saves it,
so `mlflow.tensorflow.load_model` still returns the Keras model; only the pyfunc loader
differs.

`predict_in_batches` calls the model on one batch at a time, as Keras advises for inputs of
a few batches, instead of `model.predict`: that traces a `tf.function` for each new model
and each new number of rows, and TensorFlow warns about retracing once a process has traced
five of them (a sweep's children, a model and its reload, the input example).
The project's own predictions go through it too (`steps/train/evaluate.py`).

This file travels inside every logged model (its `code/` folder, put on `sys.path` by
MLflow when the model is loaded) and is the loader module MLflow imports there, as
`quiet_pyfunc`: it imports nothing from this project. A table's model (a CSV's) also carries
its fitted front in `front/` and `steps/data/raw_rows.py` beside this file, imported there as
`raw_rows`: its pyfunc takes the file's raw rows, a DataFrame with the columns by name.

    mlflow.models.Model.log(name="model", flavor=quiet_pyfunc, model=keras_model,
                            keras_flavor="mlflow.tensorflow", input_example=..., ...)
"""

from __future__ import annotations

import importlib
import os
import shutil

LOADER = "quiet_pyfunc"
FRONT = "front"  # a table model's front: spec.json and transformer.joblib
KERAS_FLAVORS = {"tensorflow": "mlflow.tensorflow", "keras": "mlflow.keras"}


def save_model(
    path,
    mlflow_model,
    *,
    model,
    keras_flavor: str,
    front=None,
    table_signature=None,
    table_example=None,
    **kwargs,
) -> None:
    """`keras_flavor`'s save_model (`mlflow.tensorflow` or `mlflow.keras`), then this file
    as the model's pyfunc loader. Called by `mlflow.models.Model.log(flavor=<this module>)`.
    `front`: a table model's (spec, fitted transformer), kept in `front/` with the code that
    applies them (`raw_rows.py`), so the model takes the raw rows: `table_signature` (their
    columns by name and type) and `table_example` (a few of them) replace the network's
    own signature and example, which the Keras flavour needs as tensors."""
    import json

    from mlflow.models.model import MLMODEL_FILE_NAME
    from mlflow.pyfunc import CODE, FLAVOR_NAME, MAIN

    importlib.import_module(keras_flavor).save_model(
        model, path=path, mlflow_model=mlflow_model, **kwargs
    )
    code = mlflow_model.flavors[FLAVOR_NAME].get(CODE) or "code"
    os.makedirs(os.path.join(path, code), exist_ok=True)
    shutil.copyfile(__file__, os.path.join(path, code, f"{LOADER}.py"))
    if front is not None:
        import joblib

        spec, transformer = front
        os.makedirs(os.path.join(path, FRONT), exist_ok=True)
        with open(os.path.join(path, FRONT, "spec.json"), "w") as handle:
            json.dump(spec, handle, indent=1)
        joblib.dump(transformer, os.path.join(path, FRONT, "transformer.joblib"))
        rows_code = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "raw_rows.py")
        shutil.copyfile(rows_code, os.path.join(path, code, "raw_rows.py"))
        from mlflow.models import ModelSignature
        from mlflow.models.utils import _save_example

        outputs = mlflow_model.signature.outputs if mlflow_model.signature else None
        mlflow_model.signature = ModelSignature(table_signature, outputs)
        _save_example(mlflow_model, table_example, path)
    mlflow_model.flavors[FLAVOR_NAME].update({MAIN: LOADER, CODE: code})
    mlflow_model.save(os.path.join(path, MLMODEL_FILE_NAME))


def predict_in_batches(model, x, batch_size: int = 256):
    """What `model.predict(x)` returns (an array, or a dict or list of them), computed by
    calling the model on `batch_size` rows at a time: no graph to trace, so no retracing."""
    import keras
    import numpy as np

    def predicted(start: int):
        rows = keras.tree.map_structure(lambda a: a[start : start + batch_size], x)
        return keras.tree.map_structure(keras.ops.convert_to_numpy, model(rows, training=False))

    count = len(keras.tree.flatten(x)[0])
    parts = [predicted(start) for start in range(0, max(count, 1), batch_size)]
    return keras.tree.map_structure(lambda *chunks: np.concatenate(chunks), *parts)


def _load_pyfunc(path: str) -> QuietKeras:
    """What `mlflow.pyfunc.load_model` calls: the Keras flavour's own loader, wrapped."""
    from mlflow.models import Model
    from mlflow.models.model import MLMODEL_FILE_NAME

    folder = (
        path if os.path.isfile(os.path.join(path, MLMODEL_FILE_NAME)) else os.path.dirname(path)
    )
    flavors = Model.load(os.path.join(folder, MLMODEL_FILE_NAME)).flavors
    flavor = next(module for name, module in KERAS_FLAVORS.items() if name in flavors)
    return QuietKeras(importlib.import_module(flavor)._load_pyfunc(path), load_front(folder))


def load_front(folder: str):
    """A table model's (spec, fitted transformer), or None for a model of arrays."""
    import json

    if not os.path.isdir(os.path.join(folder, FRONT)):
        return None
    import joblib

    with open(os.path.join(folder, FRONT, "spec.json")) as handle:
        spec = json.load(handle)
    return spec, joblib.load(os.path.join(folder, FRONT, "transformer.joblib"))


class QuietKeras:
    """MLflow's Keras pyfunc wrapper, predicting without a progress bar or a traced graph;
    a table model's raw rows go through its front first (`raw_rows.py`, beside this file)."""

    def __init__(self, wrapped, front=None):
        self.wrapped = wrapped
        self.keras_model = wrapped.get_raw_model()
        self.front = front

    def get_raw_model(self):
        return self.keras_model

    def predict(self, data, params=None):
        import pandas as pd

        if self.front is not None:
            import raw_rows

            spec, transformer = self.front
            rows = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
            x = raw_rows.matrix(spec, transformer, rows)
            return pd.DataFrame(predict_in_batches(self.keras_model, x), index=rows.index)
        if isinstance(data, pd.DataFrame):  # no signature to turn it into arrays
            return pd.DataFrame(predict_in_batches(self.keras_model, data.values), index=data.index)
        return predict_in_batches(self.keras_model, data)
