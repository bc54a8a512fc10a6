"""Lessons 67, 71-72: activation functions and what a gradient means.

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
from steps import compare, dynamics, workflow
from steps.prepare import prepare
from steps.tracking import Tracker


def run(params: Params, tracker: Tracker) -> None:
    # Every Keras activation and its autodiff derivative on [-5, 5].
    table = dynamics.activation_table(dynamics.ACTIVATIONS, np.linspace(-5, 5, 201))
    tracker.log_table(table, "activations/values.csv")
    tracker.log_figure(
        dynamics.activation_figure(table, dynamics.ACTIVATIONS), "plots/activations.png"
    )
    tracker.log_text(
        "".join(f"{n}: {why}\n" for n, why in dynamics.NOT_PLOTTED.items()),
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

    comparison = compare.table(rows)
    score = "test_accuracy" if dataset.task == "classification" else "test_r2"
    tracker.log_table(comparison, "comparison/activations.csv")
    tracker.log_figure(compare.curves_figure(histories, ("loss",)), "plots/loss_curves.png")
    tracker.log_figure(
        compare.bar_chart(comparison, [score, "fit_seconds"]), "plots/comparison.png"
    )
    print(comparison.to_string(index=False))
