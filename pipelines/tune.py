"""Lessons 66-67: hyperparameter search with Optuna, every trial tracked in MLflow.

66 tuning a DNN, CNN or RNN: `-P family=dnn|cnn|rnn` picks the model and its search space
(units, layers, dropout, learning rate, optimizer, batch size, activation; the table is
`steps/search.py`'s SPACES, narrowed with `-P space=units=16:128,optimizer=adam|sgd`). Each
trial is a child run with its parameters, per-epoch metrics and objective `value`; trials a
median (or Hyperband) pruner stops early are kept and tagged `state=PRUNED`. The parent run
logs the best parameters (`best_*`) and `best_value`, the optimization history and the
parameter importances, the trials table, and then the best configuration retrained and
logged like any other lesson's model.

The study lives in `-P storage=` (default `sqlite:///optuna.db` in the folder `mlflow run`
runs in): `-P resume=true` continues it up to `n_trials` trials in all, several workers can
share it (`make tune-workers N=2`), and `make optuna-dashboard` shows it.

    mlflow run . -e tune --env-manager local -P family=dnn -P dataset=breast_cancer -P n_trials=20
"""

from dataclasses import replace

from pipelines.params import Tune
from steps import build, fit, search, workflow
from steps.prepare import prepare
from steps.tracking import Tracker


def run(params: Tune, tracker: Tracker) -> None:
    family = search.FAMILIES[params.family]
    space = search.parse_space(params.family, params.space)
    dataset = workflow.load_dataset(tracker, params.dataset, target=params.target)
    prepared = prepare(dataset, family, params.prepare_options())
    head = build.head_for(prepared)

    # A wrong metric name stops here, before the first trial, naming the ones there are.
    validation = "val_" if params.val_fraction > 0 else ""
    default = "accuracy" if prepared.task == "classification" else "loss"
    metric = params.metric or f"{validation}{default}"
    probe = build.build(family, prepared, params.model_options())
    search.check_metric(
        metric, search.reported_metrics(probe, head, prepared.data, params.fit_config())
    )
    direction = params.direction or search.default_direction(metric)

    storage = search.storage_url(params.storage)
    name = params.study_name or f"tune-{params.family}-{params.dataset}"
    study = search.open_study(
        storage,
        name,
        direction,
        resume=params.resume,
        pruner=params.pruner,
        sampler_seed=params.seed + params.worker,
    )
    tracker.set_tags(
        study=name, storage=search.redacted(storage), metric=metric, direction=direction
    )
    tracker.log_text(search.describe(space) + "\n", "search/space.txt")
    print(
        f"study {name!r} in {search.redacted(storage)}: {direction} {metric} over",
        search.describe(space),
    )

    def objective(trial) -> float:
        chosen = search.suggest(trial, space)
        config = replace(params, **chosen)

        def train(callbacks: list) -> dict[str, list[float]]:
            fit.seed_everything(params.seed)
            model = build.build(family, prepared, config.model_options())
            return fit.fit(
                model, head, prepared.data, config.fit_config(), extra_callbacks=callbacks
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
    if params.retrain:  # the best configuration, trained again and logged as the run's model
        search.fresh_session()
        config = replace(params, **best.params)
        fit.seed_everything(params.seed)
        model = build.build(family, prepared, config.model_options(), name=f"best_{params.family}")
        workflow.train_and_log(tracker, model, prepared, config.fit_config())
