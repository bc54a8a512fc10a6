"""Lessons 10-11: train / validation / test, and the two ways to get validation rows.

10 the validation rows steer training (early stopping watches val_loss) while the test rows
stay unseen until the end; 11 cut them before fit with scikit-learn's train_test_split
(`-P val_mode=split`, shuffled) or let fit() cut them with `validation_split`
(`-P val_mode=fraction`): Keras then keeps the LAST `val_fraction` of the training rows,
in their order, before any shuffling, so data sorted by target or time would validate on
its tail (here the rows were already shuffled when the test rows were drawn). Both modes log
val_loss per epoch and the row counts each part got (params n_train, n_val, n_test).

    mlflow run . -e validation --env-manager local -P val_mode=fraction [-P val_fraction=0.2]
"""

import math
from dataclasses import replace

from pipelines.params import Params
from steps import workflow
from steps.data.prepare import prepare
from steps.errors import UserError
from steps.model import build, multi_io
from steps.track.tracker import Tracker
from steps.train import fit


def validation_split_rows(rows: int, fraction: float) -> tuple[int, int]:
    """(train, validation) rows of fit(validation_split=fraction): the last rows validate."""
    n_train = math.floor(rows * (1.0 - fraction))
    return n_train, rows - n_train


def run(params: Params, tracker: Tracker) -> None:
    dataset = workflow.load_dataset(tracker, params.dataset, target=params.target)
    multi_io.require_one_target(dataset)
    options, config = params.prepare_options(), params.fit_options()
    validation_split = 0.0
    if params.val_mode == "fraction":  # fit() cuts validation from the training rows
        options = replace(options, val_fraction=0.0)
        validation_split = params.val_fraction
    fit.seed_everything(config.seed, config.deterministic)
    prepared = prepare(dataset, options)

    n_train, n_val = len(prepared.data.x_train), len(prepared.data.x_val)
    if params.val_mode == "fraction":
        n_train, n_val = validation_split_rows(n_train, validation_split)
        if min(n_train, n_val) == 0:
            raise UserError(
                f"{params.dataset} leaves {n_train + n_val} training rows: too few for "
                f"validation_split={params.val_fraction}; use more data or another val_fraction"
            )
    how = {
        "split": "cut by train_test_split before fit",
        "fraction": "the last training rows, cut by fit(validation_split=...)",
    }[params.val_mode]
    tracker.log_params({"n_train": n_train, "n_val": n_val, "n_test": len(prepared.data.x_test)})
    tracker.set_tags(validation=f"{params.val_mode}: {n_val} validation rows, {how}")
    print(f"rows: {n_train} train, {n_val} validation ({how}), {len(prepared.data.x_test)} test")

    model = build.build(params.model, prepared, params.model_options())
    workflow.train_and_log(tracker, model, prepared, config, validation_split=validation_split)
