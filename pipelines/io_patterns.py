"""Lesson 12: input:output can be N:1, 1:N or N:N (N:1 is the usual one).

The same toy data, three aligned series x1, x2, x3 and three targets linear in them (the
`sequences` data set), fed as `-P pattern=`: n_to_1 all feature columns in, the first target
out; 1_to_n the first feature column in, every target out; n_to_n all in, all out. Only the
widths of the model's Input and last Dense layer change. Test RMSE, MAE and R2 average over
the target columns; each target's own scores are logged as test_y1_rmse, test_y2_rmse...

    mlflow run . -e io_patterns --env-manager local -P pattern=1_to_n [-P dataset=npz:PATH]
"""

from dataclasses import replace

import numpy as np

from pipelines.params import Params
from steps import workflow
from steps.data.dataset import Dataset
from steps.data.prepare import prepare
from steps.errors import UserError
from steps.model import build, families, layers, multi_io
from steps.track.tracker import Tracker
from steps.train import evaluate, fit


def select(dataset: Dataset, pattern: str) -> Dataset:
    """Keep the columns the pattern feeds: N = all of them, 1 = the first."""
    if dataset.task != "regression" or dataset.x_train.ndim != 2:
        raise UserError(
            f"{dataset.name} is not a table with a numeric target; io_patterns needs one "
            "(sequences, diabetes, or an npz: file with 2-D x and y)"
        )
    n_in, n_out = pattern.split("_to_")
    if n_out == "n" and multi_io.n_targets(dataset) < 2:
        raise UserError(
            f"pattern {pattern} needs several target columns and {dataset.name} has one; "
            "use -P dataset=sequences (or an npz: file whose y has several columns)"
        )
    if n_in == "n" and dataset.x_train.shape[1] < 2:
        raise UserError(f"pattern {pattern} needs several feature columns; {dataset.name} has 1")

    def x(array: np.ndarray) -> np.ndarray:
        return array if n_in == "n" else array[:, :1]

    def y(array: np.ndarray) -> np.ndarray:
        table = array.reshape(len(array), -1)
        return table if n_out == "n" else table[:, 0]

    test = {}
    if dataset.x_test is not None:
        test = {"x_test": x(dataset.x_test), "y_test": y(dataset.y_test)}
    names = dataset.feature_names if n_in == "n" else dataset.feature_names[:1]
    return replace(
        dataset, x_train=x(dataset.x_train), y_train=y(dataset.y_train), feature_names=names, **test
    )


def run(params: Params, tracker: Tracker) -> None:
    import keras

    dataset = workflow.load_dataset(tracker, params.dataset, target=params.target)
    dataset = select(dataset, params.pattern)
    fit.seed_everything(params.seed, params.deterministic)
    prepared = prepare(dataset, params.prepare_options())
    n_in, n_out = prepared.data.x_train.shape[1], prepared.data.y_train.shape[1]
    tracker.log_params({"n_inputs": n_in, "n_outputs": n_out})
    print(f"{params.pattern}: {n_in} input column(s) -> {n_out} output column(s)")
    options = params.model_options()
    head = build.Head(n_out, "linear", "mse", ("mae",))
    build.check_fits_in_memory(build.estimate(families.get("dnn"), (n_in,), head, options))

    # The whole lesson: the Input is n_in columns wide, the last Dense n_out.
    pre = prepared.preprocessing
    inputs, x = multi_io.scaled_input("x", n_in, pre.x_scaling)
    x = layers.dense_stack(x, options, params.layers)
    outputs = multi_io.regression_output(x, "y", n_out, pre.y_scaling)
    model = keras.Model(inputs, outputs, name=params.pattern)

    trained = workflow.train_and_log(tracker, model, prepared, params.fit_options())
    if n_out > 1:  # each target on its own: test_y1_rmse, test_y2_rmse...
        for i in range(n_out):
            truth, guess = prepared.data.y_test[:, i], trained.predictions[:, i]
            tracker.log_metrics(evaluate.regression_scores(truth, guess, prefix=f"test_y{i + 1}_"))
