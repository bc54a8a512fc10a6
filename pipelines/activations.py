"""Lessons 67, 71-72: activation functions and what a gradient means.

67 a gradient is the slope that says which way is downhill: gradient descent on the lesson's
one-variable function, written as a `lambda` (f(x) = x^2 - 4x + 6, lowest at x = 2), from
x = 0 at two learning rates: 0.1 creeps down one side, 0.9 jumps across the minimum each
step and still lands on it (`plots/gradient_descent.png`, the steps in
`gradient_descent/lr_<rate>.csv`, `descent_x_lr_<rate>` per step).
67/71 the shapes of sigmoid, tanh, relu, softmax and every other Keras activation, each with
its derivative, computed by the backend's automatic differentiation (`tf.GradientTape`,
`jax.grad`, `torch.autograd`) on Keras's own functions, as backpropagation computes it
(`plots/activations.png`, numbers in `activations/values.csv`): sigmoid's gradient never
exceeds 0.25, relu's is 0 or 1.
72 the same model trained once per activation in `-P activations=` (child runs); the parent
logs the comparison table and all the loss curves in one chart.

    mlflow run . -e activations --env-manager local [-P activations=sigmoid,relu -P dataset=digits]
"""

import numpy as np

from pipelines.params import Params
from steps import activations, workflow
from steps.data.prepare import prepare
from steps.track import compare
from steps.track.tracker import Tracker

# Lesson 67's descent: (learning rate, steps) on f from x = 0.
DESCENTS = {0.1: 30, 0.9: 30}


def run(params: Params, tracker: Tracker) -> None:
    f = lambda x: x**2 - 4 * x + 6  # noqa: E731  lesson 67 names its function with a lambda
    paths = {
        rate: activations.gradient_descent(f, 0.0, rate, steps) for rate, steps in DESCENTS.items()
    }
    for rate, path in paths.items():
        tracker.log_table(path, f"gradient_descent/lr_{rate:g}.csv")
    tracker.log_series({f"descent_x_lr_{rate:g}": list(path["x"]) for rate, path in paths.items()})
    tracker.log_figure(activations.descent_figure(f, paths), "plots/gradient_descent.png")

    # Every Keras activation and its autodiff derivative on [-5, 5].
    table = activations.activation_table(activations.ACTIVATIONS, np.linspace(-5, 5, 201))
    tracker.log_table(table, "activations/values.csv")
    tracker.log_figure(
        activations.activation_figure(table, activations.ACTIVATIONS), "plots/activations.png"
    )
    tracker.log_text(
        "".join(f"{n}: {why}\n" for n, why in activations.NOT_PLOTTED.items()),
        "activations/not_plotted.txt",
    )

    # The same model trained with each activation in -P activations=.
    dataset = workflow.load_dataset(tracker, params.dataset, target=params.target)
    # Every variant trains on the same split: its baselines are computed once.
    to_beat = workflow.log_baselines(tracker, prepare(dataset, params.prepare_options()))
    rows, histories = [], {}
    for name in params.activations:
        variant_params = params.but(activation=name)
        with tracker.child_run(name, {"activation": name}) as child:
            trained = workflow.fit_dataset(
                child, dataset, variant_params.recipe(), scores_to_beat=to_beat
            )
        rows.append(compare.trained_row(name, trained, activation=name))
        histories[name] = trained.fit.history

    compare.log_comparison(tracker, rows, histories, "activations", params.dataset)
