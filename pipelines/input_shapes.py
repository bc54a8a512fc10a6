"""Lesson 13: input_dim vs input_shape.

The lesson's Keras 2 code told the first layer its input width with `Dense(units,
input_dim=N)` or `Dense(units, input_shape=(N,))`. Keras 3 prefers an `Input(shape)` object
as the first layer of a Sequential model; 3.15 still accepts both old arguments, with a
warning. The run builds the same network (Dense(units, relu), Dense(1)) on the data set's
width in the three styles, records what Keras said for each (`parameters/input_shapes.csv`:
style, code, warning, parameters), logs the parameter count of each (`parameters_<style>`),
and shows the three are one network: given the same weights, they predict the same values
for the first rows (`max_prediction_difference`). Nothing is trained.

    mlflow run . -e input_shapes --env-manager local [-P dataset=breast_cancer -P units=32]
"""

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

from pipelines.params import Params
from steps import workflow
from steps.errors import UserError
from steps.track.tracker import Tracker
from steps.train import evaluate


def styles(width: int, units: int) -> dict[str, tuple[str, Callable[[], list]]]:
    """Each way of giving the input width: its code, and the layers it builds."""
    import keras

    def dense(**where):
        return keras.layers.Dense(units, activation="relu", **where)

    return {
        "input_dim": (
            f"Dense({units}, input_dim={width})",
            lambda: [dense(input_dim=width)],
        ),
        "input_shape": (
            f"Dense({units}, input_shape=({width},))",
            lambda: [dense(input_shape=(width,))],
        ),
        "keras_input": (
            f"keras.Input(shape=({width},)), Dense({units})",
            lambda: [keras.Input(shape=(width,)), dense()],
        ),
    }


def build_recording_warnings(first: Callable[[], list]) -> tuple[object, str]:
    """The Sequential model whose first layers `first` makes, and what Keras warned."""
    import keras

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = keras.Sequential([*first(), keras.layers.Dense(1)])
    return model, " | ".join(str(w.message) for w in caught) or "none"


def run(params: Params, tracker: Tracker) -> None:
    import keras

    dataset = workflow.load_dataset(tracker, params.dataset, target=params.target)
    x = dataset.x_train
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.number):
        raise UserError(f"input_shapes takes numeric samples; {params.dataset} has other inputs")
    width = int(np.prod(x.shape[1:]))  # input_dim takes a vector's width
    samples = np.asarray(x[:8], np.float32).reshape(-1, width)
    tracker.log_params({"input_width": width, "keras_version": keras.__version__})

    # 13: the same network, its input width given three ways
    rows, models = [], {}
    for style, (code, first) in styles(width, params.units).items():
        keras.utils.set_random_seed(params.seed)
        models[style], warning = build_recording_warnings(first)
        count = models[style].count_params()
        rows.append({"style": style, "code": code, "warning": warning, "parameters": count})
    table = pd.DataFrame(rows)
    tracker.log_table(table, "parameters/input_shapes.csv")
    tracker.log_metrics({f"parameters_{row['style']}": row["parameters"] for row in rows})
    print(table.to_string(index=False))

    # one network: the weights of one fit the others, and they predict alike
    reference = models["keras_input"]
    predictions = []
    for model in models.values():
        model.set_weights(reference.get_weights())
        predictions.append(np.asarray(evaluate.predict(model, samples)))
    difference = max(float(np.abs(p - predictions[0]).max()) for p in predictions)
    tracker.log_metrics({"max_prediction_difference": difference})
    print(f"same weights, largest difference between their predictions: {difference}")
