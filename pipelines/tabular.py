"""Lessons 43-46 and 61: tables (Boston housing, diabetes, iris, breast cancer, wine) with
any model family.

43-46 the same table learnt by a DNN, a CNN or an LSTM: a row of features becomes a flat
vector (dnn), a one-channel column image (cnn) or a sequence of one feature per step
(lstm, conv1d); 61 the tables again with Conv1D. Regression sets are scored by RMSE, MAE
and R2, classification sets by accuracy.

    mlflow run . -e tabular --env-manager local -P dataset=breast_cancer -P model=conv1d
"""

from pipelines.params import Params
from steps import workflow
from steps.data import catalog
from steps.errors import UserError
from steps.track.tracker import Tracker


def run(params: Params, tracker: Tracker) -> None:
    dataset = workflow.load_dataset(
        tracker, params.dataset, target=params.target, table=params.table_options()
    )
    if dataset.is_image:
        raise UserError(
            f"{params.dataset} is a set of images; use image_classify for images, or a table "
            f"here ({', '.join(catalog.names(kind='table'))}, csv:PATH)"
        )
    workflow.fit_dataset(tracker, dataset, params.recipe())
