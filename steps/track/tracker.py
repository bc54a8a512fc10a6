"""The Tracker: what a pipeline may record on its run (tags, parameters, metrics per epoch,
figures, tables, the data it saw, child runs, the model)."""

from __future__ import annotations

import contextlib
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from steps.data.prepare import Split
from steps.secrets import redacted
from steps.track.model_log import (
    backend_requirement,
    log_keras_model,
    quiet_keras,
    run_model_name,
)
from steps.track.param_text import param_text
from steps.track.registry import TestRows, keep
from steps.track.summary import describe_result


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
    # The MLflow dataset of each part logged by `log_inputs`, by context (train, test, ...).
    inputs: dict[str, object] = field(default_factory=dict)

    def describe(self, text: str) -> None:
        """The run's one-line description (MLflow's note), in place of its test metrics."""
        self.set_tags(**{"mlflow.note.content": text})

    def rename(self, name: str) -> None:
        import mlflow

        mlflow.MlflowClient().set_tag(self.run_id, "mlflow.runName", name)

    def log_inputs(self, data: Split) -> None:
        """The rows each part of the fit saw, as MLflow datasets (the runs table's Dataset
        column): named after the data set, its digest the hash of the part's rows
        (`steps.track.digests`), its context the part's name."""
        import mlflow

        from steps.track.digests import rows_digest
        from steps.train.fit import rows

        if self.dataset is None:
            return
        name, key = self.dataset
        parts = {
            "train": (data.x_train, data.y_train),
            "validation": (data.x_val, data.y_val),
            "test": (data.x_test, data.y_test),
        }
        logged = {}
        for context, (x, y) in parts.items():
            if x is None or rows(x) == 0:
                continue
            features = dict(x) if isinstance(x, dict) else x
            targets = dict(y) if isinstance(y, dict) else y
            digest = rows_digest(key, features, targets)
            logged[context] = mlflow.data.from_numpy(
                features, targets=targets, name=name, digest=digest
            )
        log_inputs(logged)
        self.inputs.update(logged)

    def set_tags(self, **tags: object) -> None:
        import mlflow

        mlflow.set_tags({k: redacted(str(v)) for k, v in tags.items()})

    def log_params(
        self,
        params: dict[str, object],
        *,
        as_launched: bool = False,
        tags: dict[str, object] | None = None,
    ) -> None:
        """Params not already on the run (`mlflow run` logs the declared ones itself), and
        `tags`, in one write. `as_launched`: parameters a user gives, spelled as `mlflow run`
        spells them: shell-quoted, so an empty value reads ''."""
        import mlflow
        from mlflow.entities import Param, RunTag

        spell = shlex.quote if as_launched else str
        present = mlflow.get_run(self.run_id).data.params
        fresh = {k: spell(redacted(param_text(v))) for k, v in params.items() if k not in present}
        written = [RunTag(k, redacted(str(v))) for k, v in (tags or {}).items()]
        if fresh or written:
            mlflow.MlflowClient().log_batch(
                self.run_id, params=[Param(k, v) for k, v in fresh.items()], tags=written
            )

    def log_launch(self, params: dict[str, str], tags: dict[str, object]) -> None:
        """What a run starts with, in one write: its parameters (`log_params`, as launched),
        `tags`, and `ignored_params`: the build options among `params` that the run's model
        does not read (a dnn's filters; `embedding_dim` without an Embedding): `mlflow run`
        logs every declared parameter before the pipeline starts, so the run says which did
        not apply."""
        from steps.model.families import FAMILIES

        family = FAMILIES.get(params.get("model", ""))
        ignored = [name for name in family.unread() if name in params] if family else []
        if params.get("word_input", "embedding") != "embedding" and "embedding_dim" in params:
            ignored.append("embedding_dim")  # words reach the model one-hot or as indices
        if ignored:
            tags = {**tags, "ignored_params": ",".join(ignored)}
        self.log_params(params, as_launched=True, tags=tags)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """Test scores (`test_*`, per class and per output too) carry the test rows' dataset,
        so the model page they reach says what they were computed on."""
        import mlflow

        values = {k: float(v) for k, v in metrics.items()}
        tests = {k: v for k, v in values.items() if k.startswith("test_")}
        if tests and "test" in self.inputs:
            mlflow.log_metrics(tests, step=step, dataset=self.inputs["test"])
            values = {k: v for k, v in values.items() if k not in tests}
        if values:
            mlflow.log_metrics(values, step=step)

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
            child.log_launch(
                {"backend": keras.backend.backend(), **params},
                {**{k: parent[k] for k in inherited if k in parent}, "variant": name},
            )
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

    def keras_callbacks(self, prefix: str = "") -> list:
        """Per-epoch metrics under Keras's names, learning rate included; `prefix`: before
        each name (one fold of a k-fold fit, `fold2_val_loss`)."""
        return [epoch_logger(prefix)]

    def log_model(
        self,
        model,
        tested_on: TestRows,
        requirements: list[str] | None = None,
        *,
        test_metrics: dict[str, float] | None = None,
        front=None,
    ) -> str:
        """A model `mlflow.pyfunc.load_model` reloads, named after the run (`model_name`), with
        signature and input example (the first of the rows it was `tested_on`, kept for
        `-P register=` to score the champion on);
        `requirements`: what reloading it needs besides Keras and its backend.
        `test_metrics`: its scores on the test rows, logged on the run and on the model with
        the test part's dataset, so the model page says what they were computed on (MLflow
        copies metrics logged before the model onto it without their dataset).
        `front`: a table's fitted front; `tested_on.x` then holds the raw test rows."""
        import keras
        import mlflow

        backend = keras.backend.backend()
        requirements = [
            f"keras=={keras.__version__}",
            backend_requirement(backend),
            *(requirements or []),
        ]
        with quiet_keras():  # MLflow predicts on the example with Keras's progress bar on
            info = log_keras_model(
                model,
                tested_on.first(5),
                backend,
                requirements,
                run_model_name(self.run_id),
                front=front,
            )
        mlflow.set_tag("model_uri", info.model_uri)
        if test_metrics:
            scores = {k: float(v) for k, v in test_metrics.items()}
            test = self.inputs.get("test")
            mlflow.log_metrics(scores, run_id=self.run_id, model_id=info.model_id, dataset=test)
        if self.params.get("register"):
            keep(info.model_uri, tested_on)
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


def log_inputs(datasets: dict[str, object]) -> None:
    """`mlflow.log_inputs` of datasets by context, in one write; once more when another
    process stored the same dataset between MLflow's look-up and its insert: parallel
    workers (tune) log the same rows at once, and the store refuses the second insert. The
    second time the dataset is found and linked."""
    import mlflow
    from mlflow.exceptions import MlflowException

    if not datasets:
        return
    batch = {"contexts": list(datasets), "tags_list": [None] * len(datasets)}
    try:
        mlflow.log_inputs(list(datasets.values()), **batch)
    except MlflowException as exc:
        if not any(marker in str(exc) for marker in DUPLICATE_DATASET):
            raise
        mlflow.log_inputs(list(datasets.values()), **batch)


def epoch_logger(prefix: str = ""):
    """The model summary as `model_summary.txt` when training starts (unless the names have
    a `prefix`: a part of a larger model), then each epoch's logs (fit adds the learning
    rate), `prefix` before each name, at MLflow step = epoch number, counted from 1. The
    epochs are held and written together by `write_out` (see `steps.train.resume.saving_every`):
    one write a few seconds, not one an epoch."""
    import keras
    import mlflow
    from mlflow.entities import Metric

    class EpochLogger(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.held: list[Metric] = []

        def on_train_begin(self, logs=None):
            if not prefix:
                lines: list[str] = []
                self.model.summary(print_fn=lambda line, *_: lines.append(line))
                mlflow.log_text("\n".join(lines), "model_summary.txt")
            self.run_id = mlflow.active_run().info.run_id
            self.held = []

        def on_epoch_end(self, epoch, logs=None):
            now = int(time.time() * 1000)
            self.held += [
                Metric(prefix + name, float(value), now, epoch + 1)
                for name, value in (logs or {}).items()
            ]

        def write_out(self, epoch: int) -> None:
            if self.held:
                mlflow.MlflowClient().log_batch(self.run_id, metrics=self.held)
                self.held = []

        def on_train_end(self, logs=None):
            self.write_out(-1)

    return EpochLogger()


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
