"""Lessons 01-04: a first model.

01 build a model; set loss, batch_size and epochs; 02 change the inputs to predict() and
the predictions follow (the run logs predictions for `-P predict_inputs=`); 03 a Dense
layer with a huge number of units would exhaust memory: the build step refuses it before
allocating, with a clear message (try `-P units=2000000000`); 04 loss is reported even
with no metrics: compiled with none by default (`-P metrics=`), the run logs `loss`,
`val_loss` and `test_loss`; `-P metrics=mae,mse` has Keras measure those too.

    mlflow run . -e dnn_basic --env-manager local [-P units=16 -P predict_inputs=101,102]
"""

import numpy as np
import pandas as pd

from pipelines.params import Params
from steps import workflow
from steps.errors import UserError
from steps.track.tracker import Tracker
from steps.train import evaluate


def run(params: Params, tracker: Tracker) -> None:
    inputs = np.array(params.predict_inputs, dtype=np.float32)
    dataset = workflow.load_dataset(tracker, params.dataset, target=params.target)
    features = int(np.prod(dataset.x_train.shape[1:]))
    if len(inputs) % features:
        raise UserError(
            f"predict_inputs has {len(inputs)} numbers, not a multiple of the "
            f"{features} features of {params.dataset}"
        )
    trained = workflow.fit_dataset(tracker, dataset, params.recipe())
    samples = inputs.reshape(-1, *dataset.x_train.shape[1:])
    predicted = evaluate.predict(trained.model, samples)
    table = pd.DataFrame(
        {
            "input": [" ".join(map(str, row.ravel())) for row in samples],
            "prediction": [" ".join(f"{v:.4f}" for v in row.ravel()) for row in predicted],
        }
    )
    tracker.log_table(table, "predictions/new_inputs.csv")
    print(table.to_string(index=False))
