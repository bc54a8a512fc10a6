"""Registry step: a run's model becomes a new version of a registered model (`-P register=`),
and the alias `champion` moves to it only when it beats the champion on the task's test
metric (accuracy up; RMSE, then loss, down).

    mlflow run . -e dnn_regression --env-manager local -P register=diabetes -P seed=1
    make serve MODEL=models:/diabetes@champion
"""

from __future__ import annotations

from dataclasses import dataclass

from steps.errors import UserError

CHAMPION = "champion"


@dataclass(frozen=True)
class Verdict:
    name: str
    version: str
    metric: str
    value: float
    champion: tuple[str, float] | None  # the champion before: its version and score
    promoted: bool

    def line(self) -> str:
        """`registered diabetes version 2 (test_rmse 55.1); champion moved from version 1
        (test_rmse 57.4): 2.3 lower`, or why it stays."""
        head = f"registered {self.name} version {self.version} ({self.metric} {self.value:.4g})"
        if self.champion is None:
            return f"{head}; it is the first champion"
        version, value = self.champion
        gap = abs(self.value - value)
        way = "higher" if self.value > value else "lower" if self.value < value else "equal"
        by = f"{gap:.4g} {way}" if way != "equal" else "equal, not better"
        moved = "moved to it from" if self.promoted else "stays on"
        return f"{head}; {CHAMPION} {moved} version {version} ({self.metric} {value:.4g}): {by}"


def task_metric(metrics: dict[str, float]) -> tuple[str, bool]:
    """The test metric a run is judged by (accuracy, else RMSE, else the loss) and whether
    higher is better."""
    from steps.track.summary import RANKED_BY
    from steps.train.search import default_direction

    name = next((name for name in RANKED_BY if name in metrics), None)
    if name is None:
        raise UserError("the run logged no test metric to compare a registered model by")
    return name, default_direction(name) == "maximize"


def model_run(run_id: str):
    """The run whose model registers: this run if it logged one, else (a comparison, a
    sweep, a search) its child with the best test metric among those that logged one."""
    import mlflow

    from steps.track.summary import best_scored

    client = mlflow.MlflowClient()
    run = client.get_run(run_id)
    if "model_uri" in run.data.tags:
        return run
    children = client.search_runs(
        [run.info.experiment_id],
        f"tags.mlflow.parentRunId = '{run_id}' and attributes.status = 'FINISHED'",
    )
    found = best_scored([c for c in children if "model_uri" in c.data.tags])
    if found is None:
        raise UserError("the run logged no model to register")
    return found[0]


def signature_text(uri: str) -> str:
    from mlflow.models import get_model_info

    signature = get_model_info(uri).signature
    return "none" if signature is None else f"{signature.inputs} -> {signature.outputs}"


def champion_of(client, name: str):
    """The version the alias names, or None (no such model yet, or no champion)."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None


def champion_score(client, version, metric: str) -> float:
    if metric in version.tags:
        return float(version.tags[metric])
    metrics = client.get_run(version.run_id).data.metrics if version.run_id else {}
    if metric not in metrics:
        raise UserError(
            f"{version.name}@{CHAMPION} (version {version.version}) has no {metric} to compare "
            f"with: register this model under another name"
        )
    return metrics[metric]


def register(run_id: str, name: str, tags: dict[str, str]) -> Verdict:
    """Register the model of `run_id` (or of its best child) as a new version of `name`,
    tagged with `tags` and its test metric; move `champion` to it if it is better."""
    import mlflow

    client = mlflow.MlflowClient()
    run = model_run(run_id)
    uri = run.data.tags["model_uri"]
    metric, higher = task_metric(run.data.metrics)
    value = run.data.metrics[metric]
    champion = champion_of(client, name)
    before = None
    if champion is not None:
        ours, theirs = signature_text(uri), signature_text(f"models:/{name}@{CHAMPION}")
        if ours != theirs:
            raise UserError(
                f"the model's signature ({ours}) differs from {name}@{CHAMPION}'s ({theirs}): "
                "register it under another name"
            )
        before = (champion.version, champion_score(client, champion, metric))
    version = mlflow.register_model(uri, name, tags={**tags, metric: f"{value:.6g}"})
    better = before is None or (value > before[1] if higher else value < before[1])
    if better:
        client.set_registered_model_alias(name, CHAMPION, version.version)
    return Verdict(name, str(version.version), metric, value, before, better)
