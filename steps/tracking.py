"""Tracking step: one MLflow run around a whole pipeline.

`tracked_run` opens the run (the one `mlflow run` created, or a new one in an experiment
named after the entry point), and closes it FINISHED, FAILED with the reason kept on the
run, or KILLED on Ctrl-C. Steps never import MLflow; pipelines hand results to the Tracker.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

from steps.baselines import beside, of_score, shared_score
from steps.errors import DownloadError, StorageError, UserError, storage_problem
from steps.prepare import Split
from steps.secrets import redacted

RESUME_HINT = "rerun with -P resume=true to continue from the last finished epoch"
# Where `make ui` serves a local store when PORT is not set (see the Makefile).
UI_PORT = "5000"


def param_text(value: object) -> str:
    """A parameter's value as the command line, MLproject and the run spell it: true/false,
    comma lists, numbers without trailing zeros."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return ",".join(param_text(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}" if value == float(f"{value:g}") else repr(value)
    return str(value)


@dataclass
class Tracker:
    """What a pipeline may record on its run."""

    run_id: str
    experiment_id: str
    tensorboard_dir: Path
    backup_dir: Path | None = None  # per-epoch backups for `-P resume=true`
    params: dict[str, str] = field(default_factory=dict)  # what the run was started with
    # The data set's `-P dataset=` name and its npy cache content key, once loaded.
    dataset: tuple[str, str] | None = None

    def describe(self, text: str) -> None:
        """The run's one-line description (MLflow's note), in place of its test metrics."""
        self.set_tags(**{"mlflow.note.content": text})

    def rename(self, name: str) -> None:
        import mlflow

        mlflow.MlflowClient().set_tag(self.run_id, "mlflow.runName", name)

    def log_inputs(self, data: Split) -> None:
        """The rows each part of the fit saw, as MLflow datasets (the runs table's Dataset
        column): named after the data set, one digest per part, its context the part's name."""
        import mlflow

        from steps.fit import rows

        if self.dataset is None:
            return
        name, key = self.dataset
        parts = {
            "train": (data.x_train, data.y_train),
            "validation": (data.x_val, data.y_val),
            "test": (data.x_test, data.y_test),
        }
        for context, (x, y) in parts.items():
            if x is None or rows(x) == 0:
                continue
            digest = f"{key[:16]}-{context}"  # MLflow keeps one input per digest and run
            features = dict(x) if isinstance(x, dict) else x
            targets = dict(y) if isinstance(y, dict) else y
            dataset = mlflow.data.from_numpy(features, targets=targets, name=name, digest=digest)
            log_input(dataset, context)

    def set_tags(self, **tags: object) -> None:
        import mlflow

        mlflow.set_tags({k: redacted(str(v)) for k, v in tags.items()})

    def log_params(self, params: dict[str, object], *, as_launched: bool = False) -> None:
        """Params not already on the run (`mlflow run` logs the declared ones itself).
        `as_launched`: parameters a user gives, spelled as `mlflow run` spells them:
        shell-quoted, so an empty value reads ''."""
        import mlflow

        spell = shlex.quote if as_launched else str
        present = mlflow.get_run(self.run_id).data.params
        fresh = {k: spell(redacted(param_text(v))) for k, v in params.items() if k not in present}
        if fresh:
            mlflow.log_params(fresh)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        import mlflow

        mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, step=step)

    def log_series(self, series: dict[str, list[float]]) -> None:
        """Each name's values at steps 0, 1, 2, ... in one write (a path, not epochs)."""
        import time

        import mlflow
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [
            Metric(name, float(value), now, step)
            for name, values in series.items()
            for step, value in enumerate(values)
        ]
        mlflow.MlflowClient().log_batch(self.run_id, metrics=metrics)

    def log_figure(self, figure, path: str) -> None:
        import matplotlib.pyplot as plt
        import mlflow

        mlflow.log_figure(figure, path)
        plt.close(figure)

    def log_table(self, table, path: str) -> None:
        """A pandas DataFrame as a CSV artifact."""
        import mlflow

        with tempfile.TemporaryDirectory() as folder:
            local = Path(folder) / Path(path).name
            table.to_csv(local, index=False)
            mlflow.log_artifact(str(local), str(Path(path).parent))

    def log_artifact(self, local: Path, folder: str = "") -> None:
        """A file as it is on disk (a saved model, a checkpoint) under `folder/`."""
        import mlflow

        mlflow.log_artifact(str(local), folder or None)

    def log_text(self, text: str, path: str) -> None:
        import mlflow

        mlflow.log_text(text, path)

    @contextlib.contextmanager
    def child_run(self, name: str, changes: dict[str, object] | None = None) -> Iterator[Tracker]:
        """A nested run (one variant of a comparison) with its own metrics, traces and model;
        its parameters are the parent's with the variant's `changes`."""
        import keras
        import mlflow

        parent = mlflow.get_run(self.run_id).data.tags
        with mlflow.start_run(run_name=name, nested=True, experiment_id=self.experiment_id) as run:
            backup = self.backup_dir / name if self.backup_dir else None
            params = self.params | {k: param_text(v) for k, v in (changes or {}).items()}
            child = Tracker(
                run.info.run_id,
                self.experiment_id,
                Path(tempfile.mkdtemp()),
                backup,
                params,
                self.dataset,
            )
            inherited = ("lesson", "pipeline", "dataset", "cache")
            child.set_tags(**{k: parent[k] for k in inherited if k in parent}, variant=name)
            child.log_params({"backend": keras.backend.backend(), **params}, as_launched=True)
            try:
                yield child
                if "mlflow.note.content" not in mlflow.get_run(child.run_id).data.tags:
                    describe_result(child.run_id)
            finally:
                upload_tensorboard(child)

    def full_history(self, history: dict[str, list[float]]) -> dict[str, list[float]]:
        """The whole per-epoch history from the run: a resumed fit only holds its own epochs."""
        import mlflow

        mlflow.flush_async_logging()
        return metric_histories(self.run_id, tuple(history))

    def keras_callbacks(self) -> list:
        """Per-epoch metrics under Keras's names, learning rate included."""
        return [epoch_logger()]

    def log_model(self, model, example, requirements: list[str] | None = None) -> str:
        """A model `mlflow.pyfunc.load_model` reloads, with signature and input example;
        `requirements`: what reloading it needs besides Keras and its backend."""
        import keras
        import mlflow

        backend = keras.backend.backend()
        requirements = [
            f"keras=={keras.__version__}",
            backend_requirement(backend),
            *(requirements or []),
        ]
        with quiet_keras():  # MLflow predicts on the example with Keras's progress bar on
            info = log_keras_model(model, example, backend, requirements)
        mlflow.set_tag("model_uri", info.model_uri)
        return info.model_uri


def metric_histories(run_id: str, names: tuple[str, ...]) -> dict[str, list[float]]:
    """Each metric's values as the tracking store holds them for the run, in step order."""
    import mlflow

    client = mlflow.MlflowClient()
    return {
        name: [
            m.value
            for m in sorted(
                client.get_metric_history(run_id, name), key=lambda m: (m.step, m.timestamp)
            )
        ]
        for name in names
    }


# What the stores say when a dataset (experiment, name, digest) is already there: PostgreSQL
# (its key's name), sqlite, MySQL.
DUPLICATE_DATASET = ("dataset_pk", "UNIQUE constraint failed: datasets.", "for key 'datasets.")


def log_input(dataset, context: str) -> None:
    """`mlflow.log_input`, once more when another process stored the same dataset between
    MLflow's look-up and its insert: parallel workers (tune) log the same rows at once, and
    the store refuses the second insert. The second time the dataset is found and linked."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        mlflow.log_input(dataset, context=context)
    except MlflowException as exc:
        if not any(marker in str(exc) for marker in DUPLICATE_DATASET):
            raise
        mlflow.log_input(dataset, context=context)


@contextlib.contextmanager
def quiet_keras() -> Iterator[None]:
    import keras

    was_on = keras.config.is_interactive_logging_enabled()
    keras.config.disable_interactive_logging()
    try:
        yield
    finally:
        if was_on:
            keras.config.enable_interactive_logging()


def log_keras_model(model, example, backend: str, requirements: list[str]):
    """MLflow's TensorFlow flavour (the Keras flavour on JAX and PyTorch), with a pyfunc that
    predicts without Keras's progress bar (`steps/quiet_pyfunc.py`): `mlflow models serve`
    would print one per request."""
    from mlflow.models import Model

    from steps import quiet_pyfunc

    if backend == "tensorflow":
        flavour = {"keras_flavor": "mlflow.tensorflow", "input_example": example}
    else:  # the keras flavour crashes on input_example (upstream bug): signature only
        from mlflow.models import infer_signature

        signature = infer_signature(example, model.predict(example, verbose=0))
        flavour = {"keras_flavor": "mlflow.keras", "signature": signature}
    return Model.log(
        artifact_path=None,  # deprecated for name=, yet still required
        name="model",
        flavor=quiet_pyfunc,
        model=model,
        pip_requirements=requirements,
        **flavour,
    )


def backend_requirement(backend: str) -> str:
    from importlib.metadata import version

    package = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend]
    return f"{package}=={version(package)}"


def epoch_logger():
    """The model summary as `model_summary.txt` when training starts, then each epoch's
    logs (fit adds the learning rate) at MLflow step = epoch number, counted from 1. The
    epochs are held and written together by `write_out` (see `steps.resume.saving_every`):
    one write a few seconds, not one an epoch."""
    import keras
    import mlflow
    from mlflow.entities import Metric

    class EpochLogger(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.held: list[Metric] = []

        def on_train_begin(self, logs=None):
            lines: list[str] = []
            self.model.summary(print_fn=lambda line, *_: lines.append(line))
            mlflow.log_text("\n".join(lines), "model_summary.txt")
            self.run_id = mlflow.active_run().info.run_id
            self.held = []

        def on_epoch_end(self, epoch, logs=None):
            now = int(time.time() * 1000)
            self.held += [
                Metric(name, float(value), now, epoch + 1) for name, value in (logs or {}).items()
            ]

        def write_out(self, epoch: int) -> None:
            if self.held:
                mlflow.MlflowClient().log_batch(self.run_id, metrics=self.held)
                self.held = []

        def on_train_end(self, logs=None):
            self.write_out(-1)

    return EpochLogger()


def open_run(entry_point: str, resume_run_id: str | None = None, name: str | None = None):
    """The interrupted run being resumed, the run `mlflow run` made for us, or a new one
    in the entry point's experiment (or the one MLFLOW_EXPERIMENT_NAME / _ID names), called
    `name` unless it has a name of its own (`mlflow run --run-name`, or a resumed run's).

    The experiment is always set here: MLflow's start_run prefers the experiment last set
    in the process to the environment, so one set earlier (by a previous pipeline in the
    same process, or by the caller) would otherwise take the run."""
    import mlflow

    from steps.tracking_store import open_store

    open_store()
    launched = os.environ.get("MLFLOW_RUN_ID")
    if launched and name and generated_name(mlflow.get_run(launched).info.run_name):
        mlflow.MlflowClient().set_tag(launched, "mlflow.runName", name)
    if resume_run_id and resumable(resume_run_id):
        if launched and launched != resume_run_id:
            note = f"resumed the interrupted run {resume_run_id}: its metrics continue there"
            mlflow.MlflowClient().set_tag(launched, "mlflow.note.content", note)
            mlflow.MlflowClient().set_tag(launched, "resumed_run", resume_run_id)
        set_experiment_of(resume_run_id)
        run = mlflow.start_run(run_id=resume_run_id)
    else:
        experiment = os.environ.get("MLFLOW_EXPERIMENT_NAME")
        given_id = os.environ.get("MLFLOW_EXPERIMENT_ID")
        if launched:
            set_experiment_of(launched)
        elif given_id and not experiment:
            mlflow.set_experiment(experiment_id=given_id)
        else:
            mlflow.set_experiment(experiment or entry_point)
        run = mlflow.start_run(run_name=None if launched else name)
    open_on_runs_table(run.info.experiment_id)
    return run


def generated_name(name: str | None) -> bool:
    """Whether `name` is one MLflow made up (`adjective-animal-123`), not one a user gave."""
    from mlflow.utils import name_utils

    words = (name or "").split("-")
    return (
        len(words) == 3
        and words[0] in name_utils._GENERATOR_PREDICATES
        and words[1] in name_utils._GENERATOR_NOUNS
        and words[2].isdigit()
    )


def describe_experiment(experiment_id: str, description: str) -> None:
    """The experiment's description in MLflow's UI, unless it has one."""
    import mlflow

    client = mlflow.MlflowClient()
    if "mlflow.note.content" not in client.get_experiment(experiment_id).tags:
        client.set_experiment_tag(experiment_id, "mlflow.note.content", description)


def describe_result(run_id: str) -> None:
    import mlflow

    mlflow.MlflowClient().set_tag(run_id, "mlflow.note.content", result_line(run_id))


def result_line(run_id: str) -> str:
    """A run's result in one line: its test metrics, the baselines beside the main one, and
    its kept epoch; for a parent, its best child run's score beside the parent's baselines."""
    import mlflow

    client = mlflow.MlflowClient()
    run = client.get_run(run_id)
    metrics = run.data.metrics
    tests = {k: v for k, v in metrics.items() if k.startswith("test_")}
    children = client.search_runs([run.info.experiment_id], f"tags.mlflow.parentRunId = '{run_id}'")
    if tests and not children:
        line = ", ".join(f"{k} {v:.4g}{yardstick(k, metrics)}" for k, v in tests.items())
        line += unplaced_baselines(list(tests), metrics)
        if "best_epoch" in metrics and "epochs_run" in metrics:
            line += f"; kept epoch {metrics['best_epoch']:.0f} of {metrics['epochs_run']:.0f}"
        return line
    found = best_scored(children)
    if found is None:
        return f"{len(children)} child runs" if children else "finished"
    best, key = found
    to_beat = metrics if beside(key, metrics) else best.data.metrics  # a sweep's are its own
    score = f"{key} {best.data.metrics[key]:.4g}{yardstick(key, to_beat)}"
    failed = sum(c.info.status == "FAILED" for c in children)
    line = f"{len(children)} child runs{f' ({failed} failed)' if failed else ''}; "
    return line + f"best {best.info.run_name}: {score}" + unplaced_baselines([key], to_beat)


# The test metric runs are ranked by: the first of these they logged.
RANKED_BY = ("test_accuracy", "test_rmse", "test_loss")


def best_scored(runs: list) -> tuple[object, str] | None:
    """The run with the best test metric, and its name: accuracy (higher is better), else
    RMSE, else the loss, else the first test metric; None when no run has one."""
    from steps.search import default_direction

    scored = [r for r in runs if any(k.startswith("test_") for k in r.data.metrics)]
    if not scored:
        return None
    keys = sorted(k for k in scored[0].data.metrics if k.startswith("test_"))
    key = next((k for k in RANKED_BY if k in keys), keys[0])
    scored = [r for r in scored if key in r.data.metrics]
    pick = max if default_direction(key) == "maximize" else min
    return pick(scored, key=lambda r: r.data.metrics[key]), key


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


def open_on_runs_table(experiment_id: str) -> None:
    """Tag the experiment so that MLflow's UI opens it on its runs table, not on its GenAI
    view. Parallel workers tag the same experiment at once: the store then refuses all but
    the first insert, which is as good as done."""
    import mlflow

    client = mlflow.MlflowClient()
    key, value = "mlflow.experimentKind", "custom_model_development"
    if client.get_experiment(experiment_id).tags.get(key) == value:
        return
    try:
        client.set_experiment_tag(experiment_id, key, value)
    except mlflow.exceptions.MlflowException:
        if client.get_experiment(experiment_id).tags.get(key) != value:
            raise


def set_experiment_of(run_id: str) -> None:
    """The run's own experiment: start_run refuses a run of another experiment than the set one."""
    import mlflow

    mlflow.set_experiment(experiment_id=mlflow.MlflowClient().get_run(run_id).info.experiment_id)


def resumable(run_id: str) -> bool:
    import mlflow

    try:
        return mlflow.MlflowClient().get_run(run_id).info.lifecycle_stage == "active"
    except mlflow.exceptions.MlflowException:
        return False


def record_failure(message: str, status: str, kind: str = "") -> None:
    """The reason on the run (`error`, and `error_kind` when it is `download`), then its end."""
    import mlflow

    mlflow.set_tags(failure_tags(message, status, kind))
    mlflow.end_run(status)


def failure_tags(message: str, status: str, kind: str = "") -> dict[str, str]:
    """What a run that did not finish says: `error`, its description, and `error_kind`."""
    message = redacted(message)
    tags = {"error": message, "mlflow.note.content": f"**{status}**: {message}"}
    return tags | ({"error_kind": kind} if kind else {})


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM once the run was open: it was marked KILLED and can be resumed."""


def finished(run_id: str, resumed: bool) -> None:
    """End the run FINISHED, its result as its description. A resumed run's interruption is
    history, no longer its outcome."""
    import mlflow

    line = result_line(run_id)
    if resumed:
        mlflow.delete_tag("error")
        line += " (interrupted, then resumed with -P resume=true from its last finished epoch)"
    mlflow.set_tag("mlflow.note.content", line)
    mlflow.end_run("FINISHED")


def storage_failure(exc: OSError, experiment_id: str) -> str | None:
    """One line for a full, read-only or unwritable place met by the run, naming it and what
    to do; None when `exc` is not such a place."""
    import mlflow

    from steps.cache import cache_root

    if (problem := storage_problem(exc)) is None:
        return None
    happened, remedy = problem
    store = mlflow.MlflowClient().get_experiment(experiment_id).artifact_location
    temporary = Path(tempfile.gettempdir())
    path = exc.filename2 or exc.filename  # a copy's destination, not its source
    path = os.fsdecode(path) if isinstance(path, str | bytes) else None
    if path is None:  # a write to an open file, anywhere the run writes
        places = f"artifact store {store}, cache {cache_root()}, temporary files {temporary}"
        return f"cannot write one of the run's files: {happened}; {remedy} ({places})"
    if within(path, local_folder(store)):  # MLflow's staging file names mean nothing to users
        return (
            f"cannot write the run's artifacts to {store}: {happened}; {remedy}, or point the "
            "experiment's artifact location (or MLFLOW_TRACKING_URI) elsewhere"
        )
    for place, variable in ((cache_root(), "KERAS_LESSONS_CACHE"), (temporary, "TMPDIR")):
        if within(path, place):
            return f"cannot write {path}: {happened}; {remedy}, or point {variable} elsewhere"
    return f"cannot use {path}: {happened}; {remedy}"


def within(path: str, folder: Path | None) -> bool:
    return folder is not None and Path(path).absolute().is_relative_to(folder.absolute())


def local_folder(location: str) -> Path | None:
    """The folder an artifact location names, when it is on this machine."""
    parsed = urlparse(location)
    return Path(url2pathname(parsed.path)) if parsed.scheme in ("", "file") else None


@contextlib.contextmanager
def tracked_run(
    entry_point: str,
    lessons: str,
    params: dict[str, object],
    *,
    resume_run_id: str | None = None,
    name: str | None = None,
    experiment_description: str = "",
) -> Iterator[Tracker]:
    """Open the run (called `name`), tag and log params, and always close it with the right
    status; a finished run's description is its result."""
    import mlflow

    run = open_run(entry_point, resume_run_id, name)
    if experiment_description:
        describe_experiment(run.info.experiment_id, experiment_description)
    folder = Path(tempfile.mkdtemp(prefix="tensorboard-"))
    texts = {k: param_text(v) for k, v in params.items()}
    tracker = Tracker(run.info.run_id, run.info.experiment_id, folder, params=texts)
    try:
        tracker.set_tags(
            lesson=lessons, pipeline=entry_point, pid=os.getpid(), host=socket.gethostname()
        )
        tracker.log_params(texts, as_launched=True)
        yield tracker
    except UserError as exc:
        record_failure(str(exc), "FAILED", "download" if isinstance(exc, DownloadError) else "")
        raise
    except KeyboardInterrupt:
        # `mlflow run` follows Ctrl-C with SIGTERM: let neither cut this bookkeeping short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        record_failure(f"interrupted (Ctrl-C or SIGTERM); {RESUME_HINT}", "KILLED")
        raise RunInterrupted from None
    except OSError as exc:
        if (message := storage_failure(exc, tracker.experiment_id)) is None:
            record_failure(f"{type(exc).__name__}: {exc}", "FAILED")
            raise
        record_failure(message, "FAILED")
        raise StorageError(message) from None
    except Exception as exc:
        record_failure(f"{type(exc).__name__}: {exc}", "FAILED")
        raise
    else:
        resumed = run.info.run_id == resume_run_id and "error" in run.data.tags
        finished(tracker.run_id, resumed)
        uri, port = mlflow.get_tracking_uri(), os.environ.get("PORT", "")
        print(run_link(uri, tracker.experiment_id, tracker.run_id, port))
    finally:
        upload_tensorboard(tracker)


def run_link(tracking_uri: str, experiment_id: str, run_id: str, port: str = "") -> str:
    """The line pointing at the run's page: on the tracking server itself for an http(s)
    URI, else where `make ui` serves the local store (its PORT), with how to start it."""
    page = f"#/experiments/{experiment_id}/runs/{run_id}?workflowType=machine_learning"
    if urlparse(tracking_uri).scheme in ("http", "https"):
        return f"MLflow run: {redacted(tracking_uri.rstrip('/'))}/{page}"
    port = port or UI_PORT
    command = "make ui" if port == UI_PORT else f"make ui PORT={port}"
    return f"MLflow run: http://127.0.0.1:{port}/{page} (start the UI with `{command}`)"


def upload_tensorboard(tracker: Tracker) -> None:
    """Event files go up even when the fit failed half-way: they show how far it got."""
    import mlflow

    try:
        if any(tracker.tensorboard_dir.rglob("*")):
            mlflow.MlflowClient().log_artifacts(
                tracker.run_id, str(tracker.tensorboard_dir), "tensorboard"
            )
    except OSError as exc:  # the run's own error says more; don't hide it behind this one
        print(f"warning: TensorBoard traces not uploaded: {exc}", file=sys.stderr)
    finally:
        shutil.rmtree(tracker.tensorboard_dir, ignore_errors=True)


def fail_launched_run(message: str, status: str = "FAILED") -> bool:
    """Stopped before the pipeline opened its run: keep the reason on the run `mlflow run`
    made, if it made one (then True)."""
    run_id = os.environ.get("MLFLOW_RUN_ID")
    if not run_id:
        return False
    import mlflow

    client = mlflow.MlflowClient()
    message = redacted(message)
    client.set_tag(run_id, "error", message)
    client.set_tag(run_id, "mlflow.note.content", f"**{status}**: {message}")
    client.set_terminated(run_id, status)
    return True
