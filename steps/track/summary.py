"""A run's result in one line: its test metrics beside their baselines, or a parent's best child."""

from __future__ import annotations

from steps.train.baselines import beside, of_score, shared_score


def describe_result(run_id: str) -> None:
    import mlflow

    mlflow.MlflowClient().set_tag(run_id, "mlflow.note.content", result_line(run_id))


def result_line(run_id: str) -> str:
    """A run's result in one line: its test metrics, the baselines beside the main one, and
    its kept epoch; for a parent, its best child run's score beside the parent's baselines;
    then the lesson's verdict where the run logged one (`steps.track.outcomes`)."""
    import mlflow

    run = mlflow.MlflowClient().get_run(run_id)
    line = scores_line(run)
    verdict = run.data.tags.get("verdict")
    return f"{line}. {verdict}" if verdict else line


def scores_line(run) -> str:
    import mlflow

    client = mlflow.MlflowClient()
    run_id = run.info.run_id
    metrics = run.data.metrics
    tests = {k: v for k, v in metrics.items() if k.startswith("test_")}
    children = client.search_runs([run.info.experiment_id], f"tags.mlflow.parentRunId = '{run_id}'")
    if tests and not children:
        line = ", ".join(f"{k} {v:.4g}{yardstick(k, metrics)}" for k, v in tests.items())
        line += unplaced_baselines(list(tests), metrics)
        if "fold_kept_epoch" in metrics:  # a k-fold fit: its folds' epochs, as its tag says
            line += f"; {run.data.tags.get('fit', '')}"
        elif "best_epoch" in metrics and "epochs_run" in metrics:
            line += f"; kept epoch {metrics['best_epoch']:.0f} of {metrics['epochs_run']:.0f}"
        return line
    trials = [c for c in children if "trial" in c.data.tags]
    if trials:
        return search_line(run, trials, children)
    found = best_scored(children)
    if found is None:
        return f"{len(children)} child runs" if children else "finished"
    best, key = found
    to_beat = metrics if beside(key, metrics) else best.data.metrics  # a sweep's are its own
    score = f"{key} {best.data.metrics[key]:.4g}{yardstick(key, to_beat)}"
    failed = sum(c.info.status == "FAILED" for c in children)
    line = f"{len(children)} child runs{f' ({failed} failed)' if failed else ''}; "
    return line + f"best {best.info.run_name}: {score}" + unplaced_baselines([key], to_beat)


def search_line(parent, trials: list, children: list) -> str:
    """A search's result: `6 trials (1 pruned); best trial 3, retrained: test_accuracy 0.9333
    (linear 0.9)`, or without a retrained child `...; best trial 3: val_accuracy 0.95`. A
    resumed study's trials run under earlier parents too: `1 trial of 3 in the study; ...`."""
    tags, metrics = parent.data.tags, parent.data.metrics
    states = [t.data.tags.get("state", "") for t in trials]
    outcomes = ", ".join(
        f"{states.count(state)} {state.lower()}" for state in ("PRUNED", "FAIL") if state in states
    )
    line = f"{len(trials)} trial{'s' if len(trials) > 1 else ''}"
    in_study = sum(v for k, v in metrics.items() if k.startswith("trials_"))
    line += f" of {in_study:.0f} in the study" if in_study > len(trials) else ""
    line += f" ({outcomes})" if outcomes else ""
    if "best_trial" not in metrics:
        return line
    best = f"best trial {metrics['best_trial']:.0f}"
    retrained = [c for c in children if c.info.run_id == tags.get("retrained_run_id")]
    found = best_scored(retrained)
    if found is None:
        return f"{line}; {best}: {tags.get('metric', 'value')} {metrics['best_value']:.4g}"
    run, key = found
    score = f"{key} {run.data.metrics[key]:.4g}{yardstick(key, metrics)}"
    return f"{line}; {best}, retrained: {score}" + unplaced_baselines([key], metrics)


# The test metric runs are ranked by: the first of these they logged.
RANKED_BY = ("test_accuracy", "test_rmse", "test_loss")


def best_scored(runs: list) -> tuple[object, str] | None:
    """The run with the best test metric, and its name: accuracy (higher is better), else
    RMSE, else the loss, else the first test metric; None when no run has one."""
    from steps.train.search import default_direction

    scored = [r for r in runs if any(k.startswith("test_") for k in r.data.metrics)]
    if not scored:
        return None
    keys = sorted(k for k in scored[0].data.metrics if k.startswith("test_"))
    key = next((k for k in RANKED_BY if k in keys), keys[0])
    scored = [r for r in scored if key in r.data.metrics]
    pick = max if default_direction(key) == "maximize" else min
    return pick(scored, key=lambda r: r.data.metrics[key]), key


def best_line(runs: list) -> str:
    """`best: layers=4 (lowest test_rmse, 55.21)`: the run `best_scored` picks; '' for none."""
    from steps.train.search import default_direction

    found = best_scored(runs)
    if found is None:
        return ""
    best, key = found
    order = "highest" if default_direction(key) == "maximize" else "lowest"
    return f"best: {best.info.run_name} ({order} {key}, {best.data.metrics[key]:.4g})"


def yardstick(metric: str, metrics: dict[str, float]) -> str:
    """` (linear 0.9333, majority 0.3333)`: the baselines in `metrics` of a test metric."""
    found = beside(metric, metrics)
    return f" ({baselines_text(found)})" if found else ""


def unplaced_baselines(shown: list[str], metrics: dict[str, float]) -> str:
    """`; baseline accuracy: linear 0.9333, majority 0.3333` for a line whose test metrics have
    none beside them, as a comparison's per-variant `test_accuracy_dnn`: those of their score."""
    if any(beside(name, metrics) for name in shown):
        return ""
    score = shared_score(shown, metrics)
    return f"; baseline {score}: {baselines_text(of_score(score, metrics))}" if score else ""


def baselines_text(found: dict[str, float]) -> str:
    return ", ".join(f"{kind} {value:.4g}" for kind, value in found.items())
