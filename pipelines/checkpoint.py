"""Lessons 48-53: ModelCheckpoint, weights-only saving, and best epoch vs last epoch.

48-49 `ModelCheckpoint(save_best_only=True)` writes the model of the best epoch (lowest
val_loss) to `best.keras`; 50 a model saved after fit and loaded back predicts exactly the
same without fitting (`model_reload_max_abs_diff`); 51 weights alone (`.weights.h5`) load into
a freshly built model of the same architecture, same predictions again
(`weights_reload_max_abs_diff`); 52 the best epoch's model differs from the last epoch's: both
are scored on the test set (`best_epoch_test_*` vs `last_epoch_test_*`) and logged under
`checkpoints/`; 53 any of the eight example data sets: `-P dataset=...`.

Best vs last, thought through: with `-P patience=N` (N > 0) EarlyStopping runs with
`restore_best_weights=True`, which puts the best epoch's weights back when training ends
(even when it never stopped early), so the model `fit` returns, and the one logged as the
run's model, IS the best epoch's. The last epoch's weights would be lost; a small callback
keeps a copy at the end of every epoch, so "last" really is the last epoch trained. With
`-P patience=0` there is no EarlyStopping and the run's model is the last epoch's. Epochs
count from 1: `checkpoint_epoch` is the one in best.keras, `last_epoch` the last trained, and
the run's `best_epoch` the one whose weights its model kept.

    mlflow run . -e checkpoint --env-manager local [-P dataset=iris -P patience=10]
"""

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.params import Params
from steps import saving, workflow
from steps.data.prepare import prepare
from steps.errors import UserError
from steps.model import build
from steps.track.tracker import Tracker
from steps.train import evaluate, fit


def run(params: Params, tracker: Tracker) -> None:
    dataset = workflow.load_dataset(tracker, params.dataset, target=params.target)
    recipe = params.recipe()
    fit.seed_everything(recipe.fit.seed, recipe.fit.deterministic)
    prepared = prepare(dataset, recipe.prepare)
    model = build.build(recipe.family, prepared, recipe.model)

    # 48-49 and 52: the best epoch goes to best.keras, the last epoch's weights are kept.
    folder = Path(tempfile.mkdtemp(prefix="checkpoint-"))
    monitor = "val_loss" if len(prepared.data.x_val) else "loss"
    best_path, last = folder / "best.keras", saving.last_epoch_keeper()
    trained = workflow.train_and_log(
        tracker, model, prepared, recipe.fit, checkpoint=best_path, callbacks=[last]
    )
    if not best_path.is_file():
        raise UserError(
            f"ModelCheckpoint saved no epoch: {monitor} was never a number (nan?); "
            "try a lower -P learning_rate"
        )
    x_test = prepared.data.x_test

    # 50: the whole model saved after fit, loaded back: same predictions, no fit needed.
    reloaded = saving.load_model(saving.save_model(trained.model, folder / "final.keras"))
    # 51: weights only, into a freshly built model of the same architecture.
    weights = saving.save_weights(trained.model, folder / "final.weights.h5")
    fresh = saving.load_weights(build.build(recipe.family, prepared, recipe.model), weights)
    tracker.log_metrics(
        {
            "model_reload_max_abs_diff": saving.max_abs_difference(
                trained.predictions, evaluate.predict(reloaded, x_test)
            ),
            "weights_reload_max_abs_diff": saving.max_abs_difference(
                trained.predictions, evaluate.predict(fresh, x_test)
            ),
        }
    )

    # 52: the best epoch's model and the last epoch's, each scored on the test set.
    best = saving.load_model(best_path)
    last_model = build.build(recipe.family, prepared, recipe.model)
    last_model.set_weights(last.weights)
    fit.compile_model(last_model, build.head_for(prepared), recipe.fit)
    last_model.optimizer.build(last_model.trainable_variables)  # saved with its slots
    last_path = saving.save_model(last_model, folder / "last.keras")
    rows = []
    saved = checkpoint_epoch(trained.fit, monitor)
    for label, candidate, epoch in (
        ("best_epoch", best, saved),
        ("last_epoch", last_model, last.epoch),
    ):
        scores = evaluate.test_metrics(candidate, prepared, evaluate.predict(candidate, x_test))
        tracker.log_metrics({f"{label}_{name}": value for name, value in scores.items()})
        rows.append({"model": label, "epoch": epoch} | scores)
    tracker.log_metrics({"checkpoint_epoch": saved, "last_epoch": last.epoch})
    table = pd.DataFrame(rows)
    tracker.log_table(table, "comparison/best_vs_last.csv")
    for path in (last_path, weights):  # best.keras is logged with the fit
        tracker.log_artifact(path, "checkpoints")
    print(table.to_string(index=False))


def checkpoint_epoch(result: fit.FitResult, monitor: str) -> int:
    """The epoch, from 1, that ModelCheckpoint(save_best_only) saved last: this fit's
    lowest `monitor` (its first, as later equal values are no improvement)."""
    values = np.asarray(result.history[monitor], dtype=float)
    first = result.epochs_run - len(values) + 1  # a resumed fit holds only its own epochs
    return first + int(np.nanargmin(values))
