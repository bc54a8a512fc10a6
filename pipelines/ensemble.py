"""Lesson 16: an "ensemble": two inputs merged with Concatenate, and two outputs.

The feature columns are split in two named inputs (input_a: the first half, input_b: the
rest), each with its own Dense branch; Concatenate merges the branches into a shared layer,
which splits again into two heads: out1 predicts the first half of the target columns, out2
the rest. Each output has its own loss and MAE, logged per epoch under Keras's names
(out1_loss, val_out2_mae...), and test scores per output in the target's units
(test_out1_rmse, test_out2_r2...) beside all target columns together (test_rmse...). The
logged model takes a dict of arrays keyed by input name and returns one keyed by output name.
The default data set, `sequences`, is the lesson's toy: series x1, x2, x3 and targets y1-y3.

    mlflow run . -e ensemble --env-manager local [-P dataset=npz:PATH -P layers=2]
"""

from pipelines.params import Params
from steps import workflow
from steps.data.dataset import Dataset
from steps.data.prepare import prepare
from steps.errors import UserError
from steps.model import layers, multi_io
from steps.track import plots
from steps.track.registry import TestRows
from steps.track.tracker import Tracker
from steps.train import baselines, distribute, evaluate, fit


def check_columns(dataset: Dataset) -> tuple[int, int]:
    """Feature and target column counts, at least two of each (one per input and output)."""
    n_x = dataset.x_train.shape[1] if dataset.x_train.ndim == 2 else 0
    n_y = dataset.y_train.shape[1] if dataset.y_train.ndim == 2 else 1
    if dataset.task != "regression" or n_x < 2 or n_y < 2:
        raise UserError(
            f"{dataset.name} does not have two or more feature columns and two or more numeric "
            "target columns; ensemble needs them for its two inputs and two outputs: use "
            "-P dataset=sequences or an npz: file with 2-D x and y"
        )
    return n_x, n_y


def run(params: Params, tracker: Tracker) -> None:
    import keras

    dataset = workflow.load_dataset(tracker, params.dataset, target=params.target)
    n_x, n_y = check_columns(dataset)
    fit.seed_everything(params.seed, params.deterministic)
    prepared = prepare(dataset, params.prepare_options())
    pre, options = prepared.preprocessing, params.model_options()
    input_groups = multi_io.halves(n_x, "input_a", "input_b")
    output_groups = multi_io.halves(n_y, "out1", "out2")
    data = multi_io.named_columns(prepared.data, input_groups, output_groups)

    # One Dense branch per input...
    inputs, branches = {}, []
    for name, group in input_groups.items():
        scaling = multi_io.columns(pre.x_scaling, group, n_x)
        inputs[name], x = multi_io.scaled_input(name, data.x_train[name].shape[1], scaling)
        branches.append(layers.dense_stack(x, options, params.layers))
    # ...merged into one shared layer...
    merged = layers.dense_stack(keras.layers.Concatenate(name="merge")(branches), options, 1)
    # ...that splits again into one head per output, each with its own loss.
    outputs = {}
    for name, group in output_groups.items():
        scaling = multi_io.columns(pre.y_scaling, group, n_y)
        x = layers.dense_stack(merged, options, 1)
        outputs[name] = multi_io.regression_output(x, name, data.y_train[name].shape[1], scaling)
    model = keras.Model(inputs, outputs, name="ensemble")
    result = workflow.fit_and_log(
        tracker, model, multi_io.regression_head(output_groups), data, params.fit_options()
    )
    with distribute.single_device():  # scored on one device, as train_and_log scores
        metrics = multi_io.test_metrics(model, data)
        # The baselines see every column at once, as the network's inputs together do.
        tracker.log_metrics(baselines.baseline_metrics(prepared))
        predictions = evaluate.predict(model, data.x_test)
        for name, truth in data.y_test.items():
            figure = plots.predicted_vs_true(truth.ravel(), predictions[name].ravel())
            tracker.log_figure(figure, f"plots/predicted_vs_true_{name}.png")
        tracker.log_model(model, TestRows(data.x_test, data.y_test), test_metrics=metrics)
    scores = ", ".join(f"{k}={metrics[k]:.4f}" for k in ("test_rmse", "test_r2"))
    print(f"ensemble: {scores}; {fit.epochs_text(result)}")
