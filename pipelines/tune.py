"""Lessons 66-67: hyperparameter search with Optuna, every trial tracked in MLflow.

66 tuning a DNN, CNN or RNN: `-P model=dnn|cnn|lstm|...` picks the model family and its
search space (units, layers, dropout, learning rate, optimizer, batch size, activation; each
family's `space` in `steps/model/families.py`, narrowed with `-P space=units=16:128,optimizer=sgd`).
Each trial is a child run logged like any training run (parameters, per-epoch metrics, the
history plot, TensorBoard traces) plus its objective `value`; trials a median (or Hyperband)
pruner stops early are kept, tagged `state=PRUNED`, with `pruned_at_epoch`. The parent run
logs the best parameters (`best_*`) and `best_value`, the optimization history and the
parameter importances, the trials table; a child run `best` retrains the best configuration,
with its real parameters, and logs it like any other lesson's model (the parent keeps its
test metrics and `model_uri`). Trials and the retrained best fit as `tabular` does: on a
small table the k-fold fit (`-P folds=5`, steps/train/folds.py), a trial then scored by its
cross-validation (the metric's mean over the held-out folds, e.g. `cv_accuracy`) and never
pruned; `-P folds=0` for one fit per trial, pruned by epoch. `-P space=folds=0|5` or
`fold_mode=ensemble|refit` searches them too.

The study lives in `-P storage=` (else in the OPTUNA_STORAGE variable's URL, else
`sqlite:///optuna.db` in the folder `mlflow run` runs in; a password goes in PGPASSWORD or
~/.pgpass, never in the URL): `-P resume=true` continues it up to `n_trials` trials in all,
several workers can share it (`make tune-workers N=2`), and `make optuna-dashboard` shows it.

    mlflow run . -e tune --env-manager local -P model=dnn -P dataset=breast_cancer -P n_trials=20
"""

from pipelines.params import Params
from steps import workflow
from steps.data.prepare import prepare
from steps.model import build
from steps.model.space import describe, suggest
from steps.secrets import redacted
from steps.track.tracker import Tracker
from steps.train import distribute, fit, folds, search


def run(params: Params, tracker: Tracker) -> None:
    space = search.parse_space(params.model, params.space)
    dataset = workflow.load_dataset(tracker, params.dataset, target=params.target)
    prepared = prepare(dataset, params.prepare_options())
    to_beat = workflow.log_baselines(tracker, prepared)
    head = build.head_for(prepared)

    # A wrong metric name stops here, before the first trial, naming the ones there are.
    validation = "val_" if params.val_fraction > 0 else ""
    probe = build.build(params.model, prepared, params.model_options())
    with distribute.single_device():  # one row, which does not split over devices
        reported = search.reported_metrics(probe, head, prepared.data, params.fit_options())
    measured = "accuracy" in fit.metric_names(params.metrics, head)  # -P metrics= may drop it
    default = "accuracy" if prepared.task == "classification" and measured else "loss"
    metric = params.metric or f"{validation}{default}"
    search.check_metric(metric, reported)
    direction = params.direction or search.default_direction(metric)

    storage = search.storage_url(params.storage)
    name = params.study_name or f"tune-{params.model}-{params.dataset}"
    study = search.open_study(
        storage,
        name,
        metric,
        direction,
        resume=params.resume,
        pruner=params.pruner,
        sampler_seed=params.seed + params.worker,
    )
    tracker.set_tags(study=name, storage=redacted(storage), metric=metric, direction=direction)
    search.link_to_run(study, tracker.experiment_id, tracker.run_id, params.worker)
    tracker.log_text(describe(space) + "\n", "search/space.txt")
    print(
        f"study {name!r} in {redacted(storage)}: {direction} {metric} over",
        describe(space),
    )

    def objective(trial) -> float:
        chosen = suggest(trial, space)
        # A trial says its outcome in one line; the best configuration is retrained after.
        config = params.but(**chosen, verbose=0)

        def train(child: Tracker, callbacks: list):
            fit.seed_everything(params.seed, params.deterministic)
            recipe = config.recipe()
            if folds.applies(
                recipe.fit, prepared.data, distribute.device_count()
            ):  # fitted and scored as tabular's
                _, result = workflow.folds_and_log(child, prepared, recipe, refuse_divergence=False)
                return result.every_epoch(), folds.trial_value(result, metric, direction)
            model = build.build(params.model, prepared, config.model_options())
            # Logged like any run; a diverged trial is one result, the search goes on.
            return workflow.fit_and_log(
                child,
                model,
                head,
                prepared.data,
                config.fit_options(),
                callbacks=callbacks,
                refuse_divergence=False,
            ).history

        return search.run_trial(trial, tracker, chosen, train, metric=metric, direction=direction)

    import optuna

    remaining = params.n_trials - len(study.trials)
    if remaining > 0:
        with search.frozen_heap():
            study.optimize(
                objective,
                n_trials=remaining,
                timeout=params.timeout or None,
                callbacks=[optuna.study.MaxTrialsCallback(params.n_trials, states=None)],
            )
    best = search.summarize(study, tracker)
    if params.retrain:  # the best configuration, trained again in a child run of its own
        search.fresh_session()
        config = params.but(**best.params)
        with tracker.child_run("best", best.params) as child:
            fit.seed_everything(params.seed, params.deterministic)
            trained = workflow.train_recipe_and_log(
                child,
                prepared,
                config.recipe(),
                scores_to_beat=to_beat,
                name=f"best_{params.model}",
            )
        tracker.set_tags(model_uri=trained.model_uri, retrained_run_id=child.run_id)
        tracker.log_metrics(trained.metrics)
