"""Registry step: a run's model becomes a new version of a registered model (`-P register=`),
and the alias `champion` moves to it only when it beats the champion on the same rows: both
models, loaded as MLflow serves them, predict this version's test rows and are scored by the
task's metric (accuracy up; RMSE down). Models that cannot be scored on the same rows (another
data set, task or signature) are registered, and the champion stays, saying why.

    mlflow run . -e dnn_regression --env-manager local -P register=diabetes -P seed=1
    make serve MODEL=models:/diabetes@champion
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from steps.errors import UserError

CHAMPION = "champion"
TEST_ROWS = "test_rows"  # the version tag holding its test rows' digest
SPLIT = ("seed", "val_fraction", "test_fraction")  # the parameters that choose a run's rows
SCORED = ("test_accuracy", "test_rmse")  # the metrics scored again on the same rows


@dataclass(frozen=True)
class TestRows:
    """The held-out rows a model was tested on, as its logged model takes them (an array, or
    one per named input), with their truth (encoded labels, or targets in their units)."""

    x: object
    y: object

    def __len__(self) -> int:
        return len(next(iter(self.x.values())) if isinstance(self.x, dict) else self.x)

    def digest(self) -> str:
        """The rows' identity: equal digests, equal rows (inputs and truth, in order)."""
        from steps.track.digests import rows_digest

        return rows_digest("", self.x, self.y)

    def first(self, count: int):
        """The first rows of the input(s): the logged model's input example."""
        x = self.x
        return (
            {name: part[:count] for name, part in x.items()} if isinstance(x, dict) else x[:count]
        )


# A logged model's URI -> the rows it was tested on, kept in the process that trained it for
# registering it (`keep`): the rows are not logged, only their digests.
KEPT: dict[str, TestRows] = {}


def keep(model_uri: str, rows: TestRows) -> None:
    KEPT[model_uri] = rows


@dataclass(frozen=True)
class Comparison:
    """Both models scored on the same rows: `rows` says which."""

    rows: str
    ours: float
    theirs: float


@dataclass(frozen=True)
class Verdict:
    name: str
    version: str
    metric: str
    value: float  # the run's own test metric
    champion: str | None  # the champion's version before this one, if any
    compared: Comparison | None  # None: the first champion, or refused
    refused: str = ""  # why the two were not compared
    promoted: bool = False

    def decision(self) -> str:
        """`champion moved to it from version 1: on the 114 test rows of breast_cancer (seed 2,
        test_fraction 0.2) test_accuracy 0.9825 against 0.9561, 0.02632 higher`, or why not."""
        if self.champion is None:
            return "it is the first champion"
        if self.compared is None:
            return f"{CHAMPION} stays on version {self.champion}: {self.refused}"
        ours, theirs = self.compared.ours, self.compared.theirs
        way = "higher" if ours > theirs else "lower" if ours < theirs else ""
        by = f"{abs(ours - theirs):.4g} {way}" if way else "equal, not better"
        moved = "moved to it from" if self.promoted else "stays on"
        return (
            f"{CHAMPION} {moved} version {self.champion}: on {self.compared.rows} {self.metric} "
            f"{ours:.4g} against {theirs:.4g}, {by}"
        )

    def line(self) -> str:
        head = f"registered {self.name} version {self.version} ({self.metric} {self.value:.4g})"
        return f"{head}; {self.decision()}"

    def tags(self) -> dict[str, str]:
        """What the new version records of the decision."""
        tags = {"decision": self.decision()}
        if self.compared is not None:
            tags |= {
                "compared_on": self.compared.rows,
                "compared_with": f"version {self.champion}",
                f"compared_{self.metric}": f"{self.compared.ours:.6g}",
                f"compared_{CHAMPION}_{self.metric}": f"{self.compared.theirs:.6g}",
            }
        return tags


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


def split_tags(run) -> dict[str, str]:
    """The data set and the parameters that chose its rows, as the run recorded them."""
    params = run.data.params
    found = {name: params[name] for name in SPLIT if name in params}
    return {"dataset": run.data.tags.get("dataset", params.get("dataset", "")), **found}


def rows_text(count: int, split: dict[str, str]) -> str:
    """`the 114 test rows of breast_cancer (seed 2, test_fraction 0.2)`."""
    chosen = ", ".join(f"{k} {split[k]}" for k in ("seed", "test_fraction") if k in split)
    return f"the {count} test rows of {split['dataset']}" + (f" ({chosen})" if chosen else "")


def why_not_comparable(champion, uri: str, metric: str, split: dict[str, str]) -> str:
    """Why the champion and the model at `uri` cannot be scored on rows neither trained on,
    or ''. Only rows the champion held out too are fair to it: its own test rows, when they
    are this version's (the same data set and split, or a set with its own test part)."""
    theirs = champion.tags.get("dataset", "an unrecorded data set")
    signatures = signature_text(f"models:/{champion.name}/{champion.version}"), signature_text(uri)
    judged = next((m for m in SCORED if m in champion.tags), "another metric")
    why = ""
    if theirs != split["dataset"]:
        why = f"it was trained on {theirs}, this version on {split['dataset']}"
    elif signatures[0] != signatures[1]:
        why = f"it maps {signatures[0]}, this version {signatures[1]}"
    elif metric not in champion.tags:
        why = f"it is judged by {judged}, this version by {metric}"
    elif metric not in SCORED:
        why = f"{metric} is a training loss, not a score of the predictions"
    elif uri not in KEPT:
        why = "this version's test rows were not kept by the process that trained it"
    elif champion.tags.get(TEST_ROWS) != KEPT[uri].digest():
        split_then = ", ".join(f"{k} {champion.tags[k]}" for k in SPLIT if k in champion.tags)
        why = (
            f"it was tested on other rows ({split_then}): some of this version's test rows may "
            "have trained it (the same -P seed and fractions give the same rows)"
        )
    return why and f"{why}; compare them on the same rows by hand or register under another name"


def score(uri: str, rows: TestRows, metric: str) -> float:
    """The model at `uri`, loaded as MLflow serves it, scored on `rows` by `metric`."""
    import mlflow
    import numpy as np

    from steps.train.evaluate import class_indices, regression_scores

    guess = mlflow.pyfunc.load_model(uri).predict(rows.x)
    truth = rows.y
    if isinstance(truth, dict):  # several outputs: every target column together
        truth = np.concatenate([np.asarray(truth[n]) for n in truth], axis=1)
        guess = np.concatenate([np.asarray(guess[n]) for n in rows.y], axis=1)
    if metric == "test_accuracy":
        return float(np.mean(class_indices(truth) == class_indices(np.asarray(guess))))
    return regression_scores(truth, np.asarray(guess))["rmse"]


def register(run_id: str, name: str, tags: dict[str, str]) -> Verdict:
    """Register the model of `run_id` (or of its best child) as a new version of `name`,
    tagged with `tags`, its data set and split, its test metric and how it compared with the
    champion on its test rows; move `champion` to it if it scored better there."""
    import mlflow

    client = mlflow.MlflowClient()
    run = model_run(run_id)
    uri = run.data.tags["model_uri"]
    metric, higher = task_metric(run.data.metrics)
    value = run.data.metrics[metric]
    split = split_tags(run)
    champion = champion_of(client, name)
    compared, refused = None, ""
    if champion is not None:
        refused = why_not_comparable(champion, uri, metric, split)
    if champion is not None and not refused:
        rows = KEPT[uri]
        theirs = score(f"models:/{name}/{champion.version}", rows, metric)
        compared = Comparison(rows_text(len(rows), split), score(uri, rows, metric), theirs)
    better = champion is None or (
        compared is not None
        and (compared.ours > compared.theirs if higher else compared.ours < compared.theirs)
    )
    before = None if champion is None else str(champion.version)
    verdict = Verdict(name, "", metric, value, before, compared, refused, better)
    held_out = {TEST_ROWS: KEPT[uri].digest()} if uri in KEPT else {}
    labels = {**tags, **split, **held_out, metric: f"{value:.6g}", **verdict.tags()}
    version = mlflow.register_model(uri, name, tags=labels)
    if better:
        client.set_registered_model_alias(name, CHAMPION, version.version)
    return replace(verdict, version=str(version.version))
