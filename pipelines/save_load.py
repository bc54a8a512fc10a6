"""Lessons 28-31: save a trained model, load it back, and feed it the right shape.

28 save the model as one `.keras` file (paths are built with `pathlib`, joined with `/`:
never write backslashes into a path, they only work on Windows); 29 load it with
`keras.saving.load_model` (safe mode on) and check it predicts exactly what the trained
model did (`reload_max_abs_diff`, 0.0 on the CPU); 30-31 a loaded model fed samples of
another shape: the run feeds a deliberately wrong batch (one feature too many) to Keras
itself and records what Keras says (Keras 3.15 raises `ValueError: Input 0 with name
'sample' of layer 'dnn' is incompatible with the layer: expected shape=(None, 10),
found shape=(2, 11)`, where Keras 2 only warned; tag `keras_shape_check`), then to
`checked_predict`, which says in one line which shape the model expects, which it got and
what to do (tag `shape_check`); both are in `shape_check.txt`, and the run succeeds. Your
own samples (`-P predict_npz=PATH`, array `x`) of the wrong shape fail the run with the
project's message.

    mlflow run . -e save_load --env-manager local [-P dataset=diabetes -P predict_npz=x.npz]
"""

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.params import Params
from steps import saving, workflow
from steps.errors import UserError
from steps.track.tracker import Tracker
from steps.train import evaluate


def run(params: Params, tracker: Tracker) -> None:
    dataset = workflow.load_dataset(tracker, params.dataset, target=params.target)
    sample_shape = dataset.x_train.shape[1:]
    own = None
    if params.predict_npz:  # refuse a wrong shape before training, not after
        own = saving.load_samples(Path(params.predict_npz))
        saving.check_sample_shape(sample_shape, own.shape[1:])
    trained = workflow.fit_dataset(tracker, dataset, params.recipe())

    # 28-29: save, reload, and the same inputs give the very same outputs.
    folder = Path(tempfile.mkdtemp(prefix="save_load-"))
    path = saving.save_model(trained.model, folder / "model.keras")
    reloaded = saving.load_model(path)
    samples = probe_samples(dataset)
    difference = saving.max_abs_difference(
        evaluate.predict(trained.model, samples), saving.checked_predict(reloaded, samples)
    )
    tracker.log_metrics({"reload_max_abs_diff": difference, "saved_bytes": path.stat().st_size})
    tracker.log_artifact(path, "saved")
    print(f"saved {path.name} ({path.stat().st_size} bytes), reloaded: max |diff| = {difference}")

    # 30-31: a batch of the wrong shape, first fed to Keras itself, then to checked_predict.
    wrong = np.zeros((2, *wrong_shape(sample_shape)), dtype=np.float32)
    said = saving.keras_says(reloaded, wrong)
    tracker.set_tags(keras_shape_check=said.splitlines()[-1])
    print(f"Keras itself, model.predict on a batch of shape {wrong.shape}: {said}")
    try:
        saving.checked_predict(reloaded, wrong)
    except UserError as expected:
        message = str(expected)
    else:  # pragma: no cover - checked_predict always refuses another shape
        raise AssertionError("a wrongly shaped batch was accepted")
    tracker.set_tags(shape_check=message)
    tracker.log_text(
        f"batch of shape {wrong.shape}, the model expects {saving.shape_text(sample_shape)} "
        f"per sample\nKeras itself (model.predict): {said}\nthis project (checked_predict): "
        f"{message}\n",
        "shape_check.txt",
    )
    print(f"shape check (demonstration): {message}")

    if own is not None:
        predicted = saving.checked_predict(reloaded, own)
        table = pd.DataFrame(
            {
                "row": range(len(own)),
                "prediction": [" ".join(f"{v:.6g}" for v in row.ravel()) for row in predicted],
            }
        )
        tracker.log_table(table, "predictions/predict_npz.csv")
        print(table.to_string(index=False))


def probe_samples(dataset) -> np.ndarray:
    """Test rows when the data set has its own test split, else the first training rows."""
    source = dataset.x_test if dataset.x_test is not None else dataset.x_train
    return np.asarray(source[:64], dtype=np.float32)


def wrong_shape(shape: tuple) -> tuple:
    """The sample shape with one feature too many in its last axis."""
    return (*shape[:-1], shape[-1] + 1) if shape else (2,)
