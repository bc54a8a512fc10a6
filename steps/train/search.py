"""Search step: Optuna studies over the build and fit options (lessons 66-67).

The search space of each model family is on its record in `steps.model.families`;
`-P space=units=16:128,dropout=0:0.5,optimizer=adam|sgd` narrows it per run (`parse_space`).
A trial is one child run, logged like any other training run (per-epoch metrics, history
plot, TensorBoard traces): `run_trial` trains one suggested configuration with EarlyStopping
and a pruning callback that reports each epoch, and raises `optuna.TrialPruned` only after the
child run has its metrics, its `state=PRUNED` tag and `pruned_at_epoch` (the Keras callbacks
of optuna-integration raise inside `fit()`, which skips that logging). A pruned trial's run
ends FINISHED like the others: pruning is the search's decision, neither a failure (FAILED)
nor a Ctrl-C (KILLED); its `state` tag and its description say it was pruned.
Each trial starts from `keras.backend.clear_session()` (which runs the garbage collector),
and logs the process's resident memory so growth across trials shows in the parent's `trial_rss_mb`.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import resource
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from steps.errors import UserError
from steps.model import families
from steps.model.space import Space, narrowed
from steps.secrets import redacted
from steps.train.fit import n_epochs


def parse_space(family: str, text: str) -> Space:
    """The family's search space (its record in `steps.model.families`) narrowed by `-P space=`."""
    return narrowed(families.get(family).space, text, family)


# ---------------------------------------------------------------- study


def default_direction(metric: str) -> str:
    return (
        "maximize"
        if metric.endswith(("accuracy", "auc", "precision", "recall", "r2"))
        else "minimize"
    )


# Where the study lives when -P storage= is empty: OPTUNA_STORAGE keeps a database URL, and
# any password in it, off the command line.
STORAGE_ENV, DEFAULT_STORAGE = "OPTUNA_STORAGE", "sqlite:///optuna.db"


def storage_url(text: str) -> str:
    """`-P storage=`, else OPTUNA_STORAGE, else sqlite:///optuna.db; sqlite paths made
    absolute (relative ones are relative to the current folder)."""
    text = text or os.environ.get(STORAGE_ENV) or DEFAULT_STORAGE
    prefix = "sqlite:///"
    if text.startswith(prefix) and not text.startswith(prefix + "/"):
        return prefix + str(Path(text.removeprefix(prefix)).resolve())
    return text


def make_pruner(kind: str):
    import optuna

    if kind == "median":  # prune below the median of earlier trials at the same epoch
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, reduction_factor=3)
    return optuna.pruners.NopPruner()


def open_study(
    storage: str,
    name: str,
    metric: str,
    direction: str,
    *,
    resume: bool,
    pruner: str,
    sampler_seed: int,
):
    """Create the study, named after the metric it optimizes, or continue it when `resume`;
    an existing one is never reused silently, nor with another metric or direction."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        existing = optuna.study.get_all_study_names(storage)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"cannot open Optuna storage {redacted(storage)}: {reason}") from None
    if name in existing and not resume:
        done = len(optuna.load_study(study_name=name, storage=storage).trials)
        raise UserError(
            f"study {name!r} already exists in {redacted(storage)} with {done} trials; "
            "pass -P resume=true to continue it, or another -P study_name="
        )
    study = optuna.create_study(
        storage=storage,
        study_name=name,
        direction=direction,
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=sampler_seed),
        pruner=make_pruner(pruner),
    )
    if study.direction.name.lower() != direction:
        raise UserError(
            f"study {name!r} was created to {study.direction.name.lower()}, not {direction}; "
            "use the same -P direction= or another -P study_name="
        )
    if study.metric_names is None:  # Optuna's dashboard and plots show it, not "Objective 0"
        with warnings.catch_warnings():  # "experimental": nothing a user can act on
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([metric])
    elif study.metric_names != [metric]:
        raise UserError(
            f"study {name!r} optimizes {study.metric_names[0]}, not {metric}; "
            f"use -P metric={study.metric_names[0]} or another -P study_name="
        )
    return study


def link_to_run(study, experiment_id: str, run_id: str, worker: int) -> None:
    """Where the study's trials are in MLflow: its experiment and each worker's parent run."""
    study.set_user_attr("mlflow_experiment_id", experiment_id)
    study.set_user_attr(f"mlflow_parent_run_worker_{worker}", run_id)


# ---------------------------------------------------------------- metrics and memory


def reported_metrics(model, head, data, config) -> list[str]:
    """The per-epoch names fit() will log for this model, found without training."""
    from steps.train import fit

    fit.compile_model(model, head, config)
    x, y = data.x_train, data.y_train
    names = list(model.test_on_batch(x[:1], y[:1], return_dict=True))
    has_val = fit.rows(data.x_val) > 0
    return names + ([f"val_{name}" for name in names] if has_val else [])


def check_metric(metric: str, reported: list[str]) -> None:
    if metric not in reported:
        raise UserError(
            f"unknown metric {metric!r}: this model reports {', '.join(reported)}; "
            "pick one with -P metric="
        )


def rss_mb() -> float:
    """Resident memory of this process now (VmRSS), or its peak where /proc is missing."""
    status = Path(f"/proc/{os.getpid()}/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Hide what is alive now (the imported libraries) from the garbage collector while the
    trials run: each trial's clear_session then walks only newer objects (a collection took
    0.3 s without this and 0.007 s with it, after importing TensorFlow, MLflow and Optuna)."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def fresh_session() -> None:
    """What each trial starts from: Keras's global state and Python's garbage gone.

    clear_session runs gc.collect itself; a second full collection cost 0.9 s a trial. On JAX
    it leaves the compiled programs of every earlier model (each new layer size compiles
    anew): jax.clear_caches() drops them, 9.6 MB a trial of growth down to 0.35 MB.
    """
    import keras

    keras.backend.clear_session()
    if keras.backend.backend() == "jax":
        import jax

        jax.clear_caches()


def pruning_callback(trial, monitor: str):
    """Reports `monitor` each epoch; on a prune decision stops training and remembers it."""
    import keras

    class ReportAndStop(keras.callbacks.Callback):
        pruned_at: int | None = None

        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get(monitor)
            if value is None or not math.isfinite(value):
                return
            trial.report(float(value), epoch)
            if trial.should_prune():
                self.pruned_at = epoch
                self.model.stop_training = True

    return ReportAndStop()


def best_of(history: list[float], direction: str) -> float:
    values = [v for v in history if math.isfinite(v)]
    if not values:
        return math.nan
    return max(values) if direction == "maximize" else min(values)


@dataclass(frozen=True)
class TrialOutcome:
    value: float
    state: str  # COMPLETE, PRUNED or FAIL
    epochs_run: int
    seconds: float
    rss_mb: float
    pruned_at: int | None = None  # the epoch, from 1, after which the pruner stopped it


def rounded(params: dict[str, object]) -> str:
    """`name=value, ...` with numbers to 4 significant digits, as the terminal shows them."""
    return ", ".join(
        f"{name}={value:.4g}" if isinstance(value, float) else f"{name}={value}"
        for name, value in params.items()
    )


def trial_line(number: int, chosen: dict[str, object], metric: str, outcome: TrialOutcome) -> str:
    """The one line a trial prints: its number, its parameters, then its score or its fate."""
    head = f"trial {number} ({rounded(chosen)})"
    if outcome.state == "PRUNED":
        return f"{head}: pruned at epoch {outcome.pruned_at}"
    if outcome.state == "FAIL":
        return f"{head}: failed, {metric} was never a number"
    return f"{head}: {metric}={outcome.value:.4f} after {n_epochs(outcome.epochs_run)}"


def run_trial(
    trial,
    tracker,
    chosen: dict[str, object],
    train: Callable[..., dict[str, list[float]] | tuple[dict[str, list[float]], float]],
    *,
    metric: str,
    direction: str,
) -> float:
    """One child run: train with the pruning callback, log, then tell Optuna how it went.

    `train(child, callbacks)` builds the suggested model, fits it with `callbacks` added and
    logs the fit on `child` as any run logs one (`workflow.fit_and_log`: inputs, per-epoch
    metrics, `epochs_run`, the history plot, TensorBoard traces); it returns the history,
    whose best `metric` is the trial's value, or (the history, the value) where the fit
    scores itself (a k-fold fit: its cross-validation).
    """
    import optuna

    fresh_session()
    started = time.perf_counter()
    pruner = pruning_callback(trial, metric)
    with tracker.child_run(f"trial {trial.number}", chosen) as child:
        child.set_tags(trial=trial.number, study=trial.study.study_name)
        trained = train(child, [pruner])
        history, value = (
            trained
            if isinstance(trained, tuple)
            else (trained, best_of(trained.get(metric, []), direction))
        )
        state = "PRUNED" if pruner.pruned_at is not None else "COMPLETE"
        state = "FAIL" if state == "COMPLETE" and not math.isfinite(value) else state
        outcome = TrialOutcome(
            value,
            state,
            len(history.get("loss", [])),
            time.perf_counter() - started,
            rss_mb(),
            None if pruner.pruned_at is None else pruner.pruned_at + 1,
        )
        child.set_tags(state=state)
        if state != "COMPLETE":
            child.rename(f"trial {trial.number} ({state.lower()})")
        best = f"best {metric} {value:.4g} in {outcome.epochs_run} epochs"
        pruned = f"pruned at epoch {outcome.pruned_at}; "
        child.describe(f"{pruned}{best}" if state == "PRUNED" else best)
        finite = {"value": value} if math.isfinite(value) else {}
        pruned_at = {"pruned_at_epoch": outcome.pruned_at} if state == "PRUNED" else {}
        child.log_metrics(
            finite | pruned_at | {"trial_seconds": outcome.seconds, "rss_mb": outcome.rss_mb}
        )
    tracker.log_metrics({"trial_rss_mb": outcome.rss_mb}, step=trial.number)
    trial.set_user_attr("mlflow_run_id", child.run_id)
    trial.set_user_attr("rss_mb", outcome.rss_mb)
    print(trial_line(trial.number, chosen, metric, outcome), flush=True)
    # No clear here: the next trial's start, or the retrain's, frees this one's model.
    if state == "PRUNED":  # only now: the child run above is complete and FINISHED
        raise optuna.TrialPruned(f"pruned at epoch {outcome.pruned_at}")
    return value  # NaN marks the trial FAIL in Optuna too


# ---------------------------------------------------------------- study summary


def state_counts(study) -> dict[str, int]:
    counts = {"COMPLETE": 0, "PRUNED": 0, "FAIL": 0}
    for trial in study.trials:
        if trial.state.name in counts:
            counts[trial.state.name] += 1
    return counts


def optuna_plot(name: str, study, **kwargs):
    """An optuna.visualization.matplotlib plot as a figure, without its "experimental" warning."""
    import optuna
    from optuna.visualization import matplotlib as plots

    from steps.track.plots import pyplot

    pyplot()  # the Agg backend
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return getattr(plots, name)(study, **kwargs).figure


def metric_of(study) -> str:
    return (study.metric_names or ["Objective Value"])[0]


def history_figure(study):
    figure = optuna_plot("plot_optimization_history", study, target_name=metric_of(study))
    figure.set_size_inches(7, 4)
    figure.tight_layout()
    return figure


def importance_figure(study):
    """fANOVA importances; None while fewer than two completed trials vary a parameter."""
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    names = {name for t in complete for name in t.params}
    varied = sorted(n for n in names if len({repr(t.params.get(n)) for t in complete}) > 1)
    if len(complete) < 2 or not varied:
        return None
    figure = optuna_plot(
        "plot_param_importances", study, params=varied, target_name=metric_of(study)
    )
    figure.axes[0].set_title(f"Hyperparameter importances for {metric_of(study)}", loc="left")
    figure.set_size_inches(7, 4)
    figure.tight_layout()
    return figure


def summarize(study, tracker):
    """Best trial, counts, plots and the trials table on the parent run; the best trial."""
    counts = state_counts(study)
    tracker.log_metrics({f"trials_{state.lower()}": n for state, n in counts.items()})
    if counts["COMPLETE"] == 0:
        raise UserError(
            f"no trial of study {study.study_name!r} completed ({counts['PRUNED']} pruned, "
            f"{counts['FAIL']} failed); try more trials, -P pruner=none or a smaller learning rate"
        )
    best = study.best_trial
    tracker.log_params({f"best_{name}": value for name, value in best.params.items()})
    tracker.log_metrics({"best_value": best.value, "best_trial": best.number})
    tracker.set_tags(best_run_id=best.user_attrs.get("mlflow_run_id", ""))
    tracker.log_table(study.trials_dataframe(), "search/trials.csv")
    tracker.log_figure(history_figure(study), "plots/optimization_history.png")
    importance = importance_figure(study)
    if importance is not None:
        tracker.log_figure(importance, "plots/param_importances.png")
    print(
        f"best of {len(study.trials)} trials ({counts['PRUNED']} pruned): "
        f"trial {best.number}, {metric_of(study)}={best.value:.4f} ({rounded(best.params)})"
    )
    return best
