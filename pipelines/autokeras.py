"""Lesson 65: AutoKeras searches the model for you.

AutoKeras tries `-P max_trials=N` architectures (each trained up to `-P epochs`), keeps the
best one on the validation rows, and the run logs the trials, the best model's test scores
and the model itself. Images get `ImageClassifier`/`ImageRegressor`, tables the
`StructuredData` ones.

AutoKeras is an optional extra: `pip install '.[automl]'`. AutoKeras 3.0.0 (the release
current when this was written) installs beside Keras 3.15 but its search fails: its heads
pass numpy integers as `Dense(units=...)`, which Keras 3.15 refuses. The run then fails
with a message saying so rather than a traceback.

    mlflow run . -e autokeras --env-manager local [-P dataset=digits -P max_trials=3]
"""

from pathlib import Path
from tempfile import TemporaryDirectory

import pandas as pd

from pipelines.params import Params
from steps import fit, prepare, workflow
from steps.errors import UserError
from steps.tracking import Tracker

MISSING = "AutoKeras is not installed: `pip install '.[automl]'` (or `pip install autokeras`)"
INCOMPATIBLE = (
    "AutoKeras {ak} cannot build models with Keras {keras}: {error} "
    "(AutoKeras passes numpy integers as Dense units); see README, lesson 65"
)


def import_autokeras():
    try:
        import autokeras
    except ImportError:
        raise UserError(MISSING) from None
    return autokeras


def searcher(ak, dataset, max_trials: int, seed: int, folder: Path):
    kind = "Image" if dataset.is_image else "StructuredData"
    task = "Classifier" if dataset.task == "classification" else "Regressor"
    return getattr(ak, f"{kind}{task}")(
        max_trials=max_trials, directory=str(folder), overwrite=True, seed=seed
    )


def trials_table(tuner) -> pd.DataFrame:
    trials = tuner.oracle.get_best_trials(len(tuner.oracle.trials))
    return pd.DataFrame(
        [{"trial": t.trial_id, "score": t.score} | t.hyperparameters.values for t in trials]
    )


def run(params: Params, tracker: Tracker) -> None:
    import keras

    ak = import_autokeras()
    dataset = workflow.load_dataset(tracker, params.dataset, target=params.target)
    fit.seed_everything(params.seed)
    data = prepare.split(
        dataset,
        val_fraction=params.val_fraction,
        test_fraction=params.test_fraction,
        seed=params.seed,
    )
    with TemporaryDirectory() as folder:
        search = searcher(ak, dataset, params.max_trials, params.seed, Path(folder))
        try:
            search.fit(
                data.x_train,
                data.y_train,
                validation_data=(data.x_val, data.y_val),
                epochs=params.epochs,
                batch_size=params.batch_size,
                verbose=params.verbose,
                callbacks=[
                    keras.callbacks.EarlyStopping(patience=params.patience or params.epochs)
                ],
            )
        except ValueError as exc:
            if "invalid value for `units`" not in str(exc):
                raise
            message = INCOMPATIBLE.format(ak=ak.__version__, keras=keras.__version__, error=exc)
            raise UserError(message) from None
        tracker.log_table(trials_table(search.tuner), "search/trials.csv")
        model = search.export_model()
    scores = model.evaluate(data.x_test, data.y_test, verbose=0, return_dict=True)
    tracker.log_metrics(
        {f"test_{k}": v for k, v in scores.items()} | {"parameters": model.count_params()}
    )
    tracker.log_model(model, data.x_test[:5])
    print(f"best of {params.max_trials} trials: {scores}")
