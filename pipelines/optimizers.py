"""Lessons 68-70: optimizers and the learning rate, the step size they take.

68 Adam, Adadelta, Adamax, Adagrad, RMSprop, SGD and Nadam train the same model on the same
split; 69-70 each at every learning rate in `-P learning_rates=`. Each pair is a child run
(per-epoch loss, test score, model); the parent logs the comparison table and the loss
curves of all of them in one chart, so a too-small step (Adadelta at 0.001) and a too-large
one are plain to see. The verdict names the pair that won, the one that lost, and each
optimizer's best rate.

    mlflow run . -e optimizers --env-manager local -P optimizers=adam,sgd -P learning_rates=0.01,1
"""

from pipelines.params import Params
from steps import workflow
from steps.data.prepare import prepare
from steps.track import compare, outcomes
from steps.track.tracker import Tracker


def run(params: Params, tracker: Tracker) -> None:
    grid = [(name, rate) for name in params.optimizers for rate in params.learning_rates]
    dataset = workflow.load_dataset(tracker, params.dataset, target=params.target)
    # Every variant trains on the same split: its baselines are computed once.
    to_beat = workflow.log_baselines(tracker, prepare(dataset, params.prepare_options()))
    rows, histories = [], {}
    for optimizer, rate in grid:
        variant = f"{optimizer} lr={rate:g}"
        variant_params = params.but(optimizer=optimizer, learning_rate=rate)
        with tracker.child_run(variant, {"optimizer": optimizer, "learning_rate": rate}) as child:
            trained = workflow.fit_dataset(
                child, dataset, variant_params.recipe(), scores_to_beat=to_beat
            )
        rows.append(compare.trained_row(variant, trained, optimizer=optimizer, learning_rate=rate))
        histories[variant] = trained.fit.history

    frame = compare.log_comparison(tracker, rows, histories, "optimizers", params.dataset)
    outcomes.log_verdict(tracker, outcomes.optimizers_verdict(frame))
