"""Lesson 15: the functional API.

The same Dense network written both ways: Sequential stacks layers in a list; the functional
API calls each layer on the previous tensor, from `keras.Input` to the outputs, then
`keras.Model(inputs, outputs)`: the form that later allows several inputs and outputs
(lesson 16, `ensemble`). Both models have the same layers and the same parameter count (params
sequential_parameters and functional_parameters; their summaries are under models/); the
functional one is trained and logged. Classification and regression data sets both work.

    mlflow run . -e functional_dnn --env-manager local [-P dataset=breast_cancer -P layers=3]
"""

from pipelines.params import Params
from steps import workflow
from steps.data.prepare import prepare
from steps.model import build, families, layers, multi_io
from steps.track.tracker import Tracker
from steps.train import fit


def summary(model) -> str:
    lines: list[str] = []
    model.summary(print_fn=lambda line, *_: lines.append(line))
    return "\n".join(lines)


def run(params: Params, tracker: Tracker) -> None:
    import keras

    dataset = workflow.load_dataset(tracker, params.dataset, target=params.target)
    multi_io.require_one_target(dataset)
    fit.seed_everything(params.seed, params.deterministic)
    prepared = prepare(dataset, params.prepare_options())
    pre, head, options = prepared.preprocessing, build.head_for(prepared), params.model_options()
    dnn = families.get("dnn")
    shape = dnn.input_shape(pre.sample_shape)
    build.check_fits_in_memory(build.estimate(dnn, shape, head, options))

    def scale_out() -> list:  # regression: standardized predictions back to target units
        return [] if pre.y_scaling.is_identity else [build.target_units_layer(pre.y_scaling)]

    # Sequential: one list of layers, each fed the previous one's output.
    sequential = keras.Sequential(
        [
            keras.Input(shape=pre.sample_shape),
            build.scaling_layer(pre.x_scaling),  # the fitted scaling: raw samples go in
            keras.layers.Flatten(),
            *layers.dense_layers(options, options.layers),
            build.head_layer(head, name=None),  # Keras names it, as before
            *scale_out(),
        ],
        name="sequential",
    )

    # Functional: call each layer on the previous tensor, then join inputs to outputs.
    inputs = keras.Input(shape=pre.sample_shape, name="features")
    x = build.scaling_layer(pre.x_scaling)(inputs)
    x = keras.layers.Flatten()(x)
    for layer in layers.dense_layers(options, options.layers):
        x = layer(x)
    outputs = build.head_layer(head)(x)
    for layer in scale_out():
        outputs = layer(outputs)
    functional = keras.Model(inputs=inputs, outputs=outputs, name="functional")

    for model in (sequential, functional):
        tracker.log_params({f"{model.name}_parameters": model.count_params()})
        tracker.log_text(summary(model), f"models/{model.name}_summary.txt")
    workflow.train_and_log(tracker, functional, prepared, params.fit_options())
