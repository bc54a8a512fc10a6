"""Lesson 65: AutoKeras searches the model for you.

AutoKeras tries `-P max_trials=N` architectures (each trained up to `-P epochs`, stopped
early after `-P patience` epochs without a better validation loss) and keeps the one with
the best validation loss. Images get `ImageClassifier`/`ImageRegressor`, tables the
`StructuredData` ones; the split is the one every lesson cuts, unscaled (AutoKeras learns
its own normalization inside the model). The run logs each trial's score and choices
(`search/trials.csv`), the trials' TensorBoard traces, the best model's test metrics beside
the baselines, its confusion matrix (or predicted-vs-true plot), and the model itself,
which `mlflow.pyfunc.load_model` reloads (AutoKeras must be installed where it is loaded).

AutoKeras is an optional extra: `pip install '.[automl]'`. AutoKeras 3.0.0, the newest
release, passes NumPy integers as `Dense(units=...)`, which Keras 3.15 refuses;
`steps/automl.py` turns them into Python ints while that is so (see its docstring).

    mlflow run . -e autokeras --env-manager local [-P dataset=digits -P max_trials=3]
    mlflow run . -e autokeras --env-manager local -P dataset=iris -P max_trials=2
"""

import time
from pathlib import Path
from tempfile import TemporaryDirectory

from pipelines.params import Params
from steps import automl, workflow
from steps.track import plots
from steps.track.registry import TestRows
from steps.track.tracker import Tracker
from steps.train import baselines, evaluate, fit


def run(params: Params, tracker: Tracker) -> None:
    ak = automl.import_autokeras()
    dataset = workflow.load_dataset(tracker, params.dataset, target=params.target)
    fit.seed_everything(params.seed, params.deterministic)
    prepared = automl.prepared(
        dataset,
        val_fraction=params.val_fraction,
        test_fraction=params.test_fraction,
        seed=params.seed,
    )
    tracker.log_inputs(prepared.data)
    with automl.known_warnings_silenced():
        model, trials, seconds = search(ak, dataset, prepared.data, params, tracker)
        tracker.log_table(trials, "search/trials.csv")
        if params.verbose:
            model.summary(print_fn=lambda line, *_: print(line))
        log_best(tracker, model, prepared, ak.__version__, len(trials), seconds)


def search(ak, dataset, data, params: Params, tracker: Tracker):
    """AutoKeras's search on the training rows, ranked on the validation rows: (the best
    model, the trials table, the seconds it took)."""
    import keras

    callbacks = [
        keras.callbacks.EarlyStopping(patience=params.patience or params.epochs),
        keras.callbacks.TensorBoard(log_dir=str(tracker.tensorboard_dir)),  # a folder a trial
    ]
    with TemporaryDirectory() as folder:
        searcher = automl.searcher(ak, dataset, params.max_trials, params.seed, Path(folder))
        started = time.perf_counter()
        searcher.fit(
            data.x_train,
            data.y_train,
            validation_data=(data.x_val, data.y_val),
            epochs=params.epochs,
            batch_size=params.batch_size,
            verbose=params.verbose,
            callbacks=callbacks,
        )
        seconds = time.perf_counter() - started
        model = automl.without_optimizer_mismatch(searcher.export_model())
        return model, automl.trials_table(searcher.tuner), seconds


def log_best(tracker: Tracker, model, prepared, version: str, trials: int, seconds: float):
    """The best model's test metrics beside the baselines, its plot, and the model."""
    data = prepared.data
    outputs = evaluate.predict(model, data.x_test)
    metrics, said = automl.test_scores(model, prepared, outputs)
    scores_to_beat = baselines.baseline_metrics(prepared)
    about = {"trials": trials, "search_seconds": seconds, "parameters": model.count_params()}
    tracker.log_metrics(scores_to_beat | about)
    if prepared.task == "classification":
        figure = plots.confusion_figure(data.y_test, said, prepared.class_names)
        tracker.log_figure(figure, "plots/confusion_matrix.png")
    else:
        figure = plots.predicted_vs_true(data.y_test.ravel(), said.ravel())
        tracker.log_figure(figure, "plots/predicted_vs_true.png")
    tracker.log_model(
        model,
        TestRows(data.x_test, data.y_test),
        requirements=[f"autokeras=={version}"],
        test_metrics=metrics,
    )
    summary = ", ".join(
        f"{k}={v:.4f}{workflow.against(k, scores_to_beat)}" for k, v in metrics.items()
    )
    print(f"best of {trials} AutoKeras trials ({seconds:.0f} s): {summary}")
