"""An MLflow plugin: `mlflow run . -e NAME` files its run under the experiment NAME.

`mlflow run` creates the run before our code starts, in the default experiment unless
told otherwise. MLflow asks registered `mlflow.default_experiment_provider` plugins for
that default; this one answers with the entry point's name when the command is
`mlflow run ... -e NAME` for one of our entry points. `--experiment-name`,
`--experiment-id` and the MLFLOW_EXPERIMENT_* variables still win, as MLflow checks
them first.

Being asked before the run exists, it also stops a `-P name=URL` that holds a password:
`mlflow run` would store it as the run's parameter and print it in its command line.
"""

from __future__ import annotations

import itertools
import sys


def entry_point_from_argv(argv: list[str]) -> str | None:
    from pipelines.entry_points import ENTRY_POINTS

    if len(argv) < 2 or "mlflow" not in argv[0].rsplit("/", 1)[-1] or argv[1] != "run":
        return None
    for i, arg in enumerate(argv):
        if arg in ("-e", "--entry-point") and i + 1 < len(argv):
            name = argv[i + 1]
        elif arg.startswith("--entry-point="):
            name = arg.partition("=")[2]
        else:
            continue
        return name if name in ENTRY_POINTS or name == "predict" else None
    return None


def password_parameter(argv: list[str]) -> str | None:
    """The first `-P name=value` of `mlflow run` whose value is a URL with a password."""
    from steps.secrets import holds_password

    for flag, value in itertools.pairwise(argv):
        if flag in ("-P", "--param-list") and holds_password(value):
            return value.partition("=")[0]
    return None


def stop_a_stored_password(argv: list[str]) -> None:
    name = password_parameter(argv)
    if name:
        print(
            f"error: -P {name}= holds a password, which mlflow run would store with the run "
            "and print; leave it out of the URL: libpq reads it from PGPASSWORD or ~/.pgpass "
            "(or give the whole URL in OPTUNA_STORAGE)",
            file=sys.stderr,
        )
        sys.exit(2)


class EntryPointExperimentProvider:
    """Duck-types MLflow's DefaultExperimentProvider: MLflow imports this module while
    it initialises, so importing MLflow here would be circular."""

    def in_context(self) -> bool:
        if entry_point_from_argv(sys.argv) is None:
            return False
        stop_a_stored_password(sys.argv)
        return True

    def get_experiment_id(self) -> str:
        """Called before `mlflow run` first touches the store: a new one is made here, under
        the lock that our pipelines take too."""
        import mlflow

        from steps.track.store import open_store

        open_store()
        name = entry_point_from_argv(sys.argv)
        client = mlflow.MlflowClient()
        experiment = client.get_experiment_by_name(name)
        return experiment.experiment_id if experiment else client.create_experiment(name)
