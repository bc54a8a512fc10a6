"""Tracking step: one MLflow run around a whole pipeline.

`tracked_run` opens the run (the one `mlflow run` created, or a new one in an experiment
named after the entry point), and closes it FINISHED, FAILED with the reason kept on the
run, or KILLED on Ctrl-C. Steps never import MLflow; pipelines hand results to the Tracker.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from steps.errors import UserError

UI_HINT = (
    "http://127.0.0.1:5000/#/experiments/{experiment}/runs/{run}?workflowType=machine_learning"
)


@dataclass
class Tracker:
    """What a pipeline may record on its run."""

    run_id: str
    experiment_id: str
    tensorboard_dir: Path

    def set_tags(self, **tags: object) -> None:
        import mlflow

        mlflow.set_tags({k: str(v) for k, v in tags.items()})

    def log_params(self, params: dict[str, object]) -> None:
        """Params not already on the run (`mlflow run` logs the declared ones itself)."""
        import mlflow

        present = mlflow.get_run(self.run_id).data.params
        fresh = {k: str(v) for k, v in params.items() if k not in present}
        if fresh:
            mlflow.log_params(fresh)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        import mlflow

        mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, step=step)

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

    def log_text(self, text: str, path: str) -> None:
        import mlflow

        mlflow.log_text(text, path)

    @contextlib.contextmanager
    def child_run(self, name: str, params: dict[str, object] | None = None) -> Iterator[Tracker]:
        """A nested run (one variant of a comparison) with its own metrics, traces and model."""
        import mlflow

        parent = mlflow.get_run(self.run_id).data.tags
        with mlflow.start_run(run_name=name, nested=True) as run:
            child = Tracker(run.info.run_id, self.experiment_id, Path(tempfile.mkdtemp()))
            child.set_tags(
                lesson=parent.get("lesson", ""), pipeline=parent.get("pipeline", ""), variant=name
            )
            child.log_params(params or {})
            try:
                yield child
            finally:
                upload_tensorboard(child)

    def keras_callbacks(self) -> list:
        """Per-epoch metrics under Keras's names, learning rate included."""
        return [epoch_logger()]

    def log_model(self, model, example) -> str:
        """A model `mlflow.pyfunc.load_model` reloads, with signature and input example."""
        import keras
        import mlflow

        backend = keras.backend.backend()
        requirements = [f"keras=={keras.__version__}", backend_requirement(backend)]
        with quiet_keras():  # MLflow predicts on the example with Keras's progress bar on
            info = log_keras_model(model, example, backend, requirements)
        mlflow.set_tag("model_uri", info.model_uri)
        return info.model_uri


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
    import mlflow

    if backend == "tensorflow":
        return mlflow.tensorflow.log_model(
            model, name="model", input_example=example, pip_requirements=requirements
        )
    # The keras flavour crashes on input_example (upstream bug): signature only.
    from mlflow.models import infer_signature

    signature = infer_signature(example, model.predict(example, verbose=0))
    return mlflow.keras.log_model(
        model, name="model", signature=signature, pip_requirements=requirements
    )


def backend_requirement(backend: str) -> str:
    from importlib.metadata import version

    package = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend]
    return f"{package}=={version(package)}"


def epoch_logger():
    """MLflow's Keras callback, with the learning rate added and no duplicate validation_*."""
    import keras
    import mlflow

    class EpochLogger(mlflow.keras.MlflowCallback):
        def on_epoch_end(self, epoch, logs=None):
            logs = dict(logs or {})
            if "learning_rate" not in logs:
                logs["learning_rate"] = float(
                    keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
                )
            super().on_epoch_end(epoch, logs)

        def on_test_end(self, logs=None):  # validation is already in the epoch logs
            return

    return EpochLogger()


def open_run(entry_point: str):
    """The run `mlflow run` made for us, or a new one in the entry point's experiment."""
    import mlflow

    if not os.environ.get("MLFLOW_RUN_ID") and not (
        os.environ.get("MLFLOW_EXPERIMENT_NAME") or os.environ.get("MLFLOW_EXPERIMENT_ID")
    ):
        mlflow.set_experiment(entry_point)
    run = mlflow.start_run()
    mlflow.MlflowClient().set_experiment_tag(
        run.info.experiment_id, "mlflow.experimentKind", "custom_model_development"
    )
    return run


def record_failure(message: str, status: str) -> None:
    import mlflow

    mlflow.set_tags({"error": message, "mlflow.note.content": f"**{status}**: {message}"})
    mlflow.end_run(status)


@contextlib.contextmanager
def tracked_run(entry_point: str, lessons: str, params: dict[str, object]) -> Iterator[Tracker]:
    """Open the run, tag and log params, and always close it with the right status."""
    import mlflow

    run = open_run(entry_point)
    folder = Path(tempfile.mkdtemp(prefix="tensorboard-"))
    tracker = Tracker(run.info.run_id, run.info.experiment_id, folder)
    tracker.set_tags(lesson=lessons, pipeline=entry_point)
    tracker.log_params(params)
    try:
        yield tracker
    except UserError as exc:
        record_failure(str(exc), "FAILED")
        raise
    except KeyboardInterrupt:
        record_failure("interrupted (Ctrl-C or SIGTERM)", "KILLED")
        raise
    except Exception as exc:
        record_failure(f"{type(exc).__name__}: {exc}", "FAILED")
        raise
    else:
        mlflow.end_run("FINISHED")
        print(
            "MLflow run:",
            UI_HINT.format(experiment=tracker.experiment_id, run=tracker.run_id),
            "(start the UI with `make ui`)",
        )
    finally:
        upload_tensorboard(tracker)


def upload_tensorboard(tracker: Tracker) -> None:
    """Event files go up even when the fit failed half-way: they show how far it got."""
    import mlflow

    if any(tracker.tensorboard_dir.rglob("*")):
        mlflow.MlflowClient().log_artifacts(
            tracker.run_id, str(tracker.tensorboard_dir), "tensorboard"
        )
    shutil.rmtree(tracker.tensorboard_dir, ignore_errors=True)


def fail_launched_run(message: str) -> None:
    """A parameter error before any step ran: keep the reason on the run `mlflow run` made."""
    run_id = os.environ.get("MLFLOW_RUN_ID")
    if not run_id:
        return
    import mlflow

    client = mlflow.MlflowClient()
    client.set_tag(run_id, "error", message)
    client.set_tag(run_id, "mlflow.note.content", f"**FAILED**: {message}")
    client.set_terminated(run_id, "FAILED")
