"""An MLflow plugin: `mlflow run . -e NAME` files its run under the experiment NAME.

`mlflow run` creates the run before our code starts, in the default experiment unless
told otherwise. MLflow asks registered `mlflow.default_experiment_provider` plugins for
that default; this one answers with the entry point's name when the command is
`mlflow run ... -e NAME` for one of our entry points. `--experiment-name`,
`--experiment-id` and the MLFLOW_EXPERIMENT_* variables still win, as MLflow checks
them first.
"""

from __future__ import annotations

import sys


def entry_point_from_argv(argv: list[str]) -> str | None:
    from pipelines.registry import ENTRY_POINTS

    if len(argv) < 2 or "mlflow" not in argv[0].rsplit("/", 1)[-1] or argv[1] != "run":
        return None
    for i, arg in enumerate(argv):
        if arg in ("-e", "--entry-point") and i + 1 < len(argv):
            name = argv[i + 1]
        elif arg.startswith("--entry-point="):
            name = arg.partition("=")[2]
        else:
            continue
        return name if name in ENTRY_POINTS else None
    return None


class EntryPointExperimentProvider:
    """Duck-types MLflow's DefaultExperimentProvider: MLflow imports this module while
    it initialises, so importing MLflow here would be circular."""

    def in_context(self) -> bool:
        return entry_point_from_argv(sys.argv) is not None

    def get_experiment_id(self) -> str:
        """Called before `mlflow run` first touches the store: a new one is made here, under
        the lock that our pipelines take too."""
        import mlflow

        from steps.tracking_store import open_store

        open_store()
        name = entry_point_from_argv(sys.argv)
        client = mlflow.MlflowClient()
        experiment = client.get_experiment_by_name(name)
        return experiment.experiment_id if experiment else client.create_experiment(name)
