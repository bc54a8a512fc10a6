"""Lessons 38, 43-46, 60-61: one data set, several model families, side by side.

60 Conv1D reaches about the LSTM's score in much less time: every family in `-P models=`
trains as a child run on the same split, and the parent run logs the comparison table
(test score, parameter count, fit seconds, seconds per epoch), a bar chart of it, and the
validation curves of all families in one figure, so the claim can be checked on any data set.
With both `lstm` and `conv1d`, its verdict says whether the claim held: the Conv1D's score
over the LSTM's within 0.9-1.1, in less fit time (`conv1d_claim_holds`).

    mlflow run . -e compare_models --env-manager local -P models=lstm,conv1d
    mlflow run . -e compare_models --env-manager local -P dataset=breast_cancer
"""

from dataclasses import replace

from pipelines.params import Params
from steps import workflow
from steps.data.prepare import prepare
from steps.track import compare, outcomes
from steps.track.tracker import Tracker


def run(params: Params, tracker: Tracker) -> None:
    dataset = workflow.load_dataset(tracker, params.dataset, target=params.target)
    # Every family trains on the same split: its baselines are computed once.
    to_beat = workflow.log_baselines(tracker, prepare(dataset, params.prepare_options()))
    rows, histories = [], {}
    for family in params.models:
        with tracker.child_run(family, {"model": family}) as child:
            recipe = replace(params.recipe(), family=family)
            trained = workflow.fit_dataset(child, dataset, recipe, scores_to_beat=to_beat)
        rows.append(compare.trained_row(family, trained))
        histories[family] = trained.fit.history

    frame = compare.log_comparison(tracker, rows, histories, "models", params.dataset)
    outcomes.log_verdict(tracker, outcomes.models_verdict(frame))
