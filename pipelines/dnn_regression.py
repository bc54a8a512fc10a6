"""Lessons 05-09: train/test split and how to score a regression.

05-06 split the data into train and test; 07-08 accuracy means nothing for regression, so
the run logs RMSE, MAE and R2 (scikit-learn's); 09 a needlessly deep DNN scores worse:
`-P layers=1,4,8` trains one child per depth (pipelines/sweep.py) and the parent's verdict
names the best depth and how far the deepest falls below it; add `-P seed=1,2,3` for each
depth's mean and spread over seeds (on diabetes, 8 layers were best at one seed of three).

    mlflow run . -e dnn_regression --env-manager local [-P dataset=diabetes -P layers=2]
    mlflow run . -e dnn_regression --env-manager local -P layers=1,4,8 -P seed=1,2,3
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
