"""Lessons 05-09: train/test split and how to score a regression.

05-06 split the data into train and test; 07-08 accuracy means nothing for regression, so
the run logs RMSE, MAE and R2 (scikit-learn's); 09 a needlessly deep DNN scores worse:
compare runs with `-P layers=1` and `-P layers=8`.

    mlflow run . -e dnn_regression --env-manager local [-P dataset=diabetes -P layers=2]
"""

from pipelines.params import Params
from steps import workflow
from steps.data import catalog
from steps.errors import UserError
from steps.track.tracker import Tracker


def run(params: Params, tracker: Tracker) -> None:
    dataset = workflow.load_dataset(tracker, params.dataset, target=params.target)
    if dataset.task != "regression":
        raise UserError(
            f"{params.dataset} is a classification data set; dnn_regression needs a numeric "
            f"target ({', '.join(catalog.names(kind='table', task='regression'))}, or "
            "csv:PATH with -P target=COLUMN)"
        )
    workflow.fit_dataset(tracker, dataset, params.recipe())
