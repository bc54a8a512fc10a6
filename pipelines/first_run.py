"""`make run`: the CIFAR-10 CNN lesson through `mlflow run`, or, when CIFAR-10 cannot be
downloaded, the same CNN lesson on scikit-learn's bundled digits, so that the first command
always leaves a run to open in the UI.

    python -m pipelines.first_run [-P name=value ...]    # what `make run` calls

Only a failed download falls back. A pipeline that could not download a data set or weights
file tags its FAILED run `error_kind=download` (and `python -m pipelines` exits with code 3,
EXIT_DOWNLOAD; `mlflow run` turns every failure into exit code 1, so the tag is what is read
here). Any other failure (a bad parameter, a crash, Ctrl-C) ends `make run` with a non-zero
exit code and no fallback. The runs are launched as `mlflow run . -e NAME --env-manager local`
launches them, each in the experiment named after its entry point (unless
MLFLOW_EXPERIMENT_NAME or _ID says otherwise); `-P` values go to both.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from pipelines.cli import EXIT_USER_ERROR
from steps.errors import UserError

PROJECT = Path(__file__).resolve().parents[1]
FIRST = "cnn_cifar10"
OFFLINE = "image_classify"  # the digits CNN: scikit-learn's bundled copy, no download
FALLING_BACK = (
    f"make run: CIFAR-10 cannot be downloaded (see above), so the same CNN lesson runs on "
    f"scikit-learn's bundled digits instead: mlflow run . -e {OFFLINE} --env-manager local"
)


def parameters(argv: list[str]) -> dict[str, str]:
    """`-P name=value ...`, as `mlflow run` takes them."""
    values = {}
    for flag, pair in zip(argv[::2], argv[1::2], strict=False):
        name, sep, value = pair.partition("=")
        if flag != "-P" or not sep or not name:
            raise UserError(f"expected -P name=value, got {flag} {pair}")
        values[name] = value
    if len(argv) % 2:
        raise UserError(f"expected -P name=value, got {argv[-1]}")
    return values


def launch(entry_point: str, values: dict[str, str]) -> tuple[bool, str]:
    """`mlflow run . -e entry_point --env-manager local -P ...`: whether it succeeded, and
    the run's `error_kind` tag (`download` when a download was impossible)."""
    import mlflow

    from steps.track.store import open_store

    open_store()  # a new store is made under the lock the pipelines take too
    chosen = "MLFLOW_EXPERIMENT_NAME" in os.environ or "MLFLOW_EXPERIMENT_ID" in os.environ
    submitted = mlflow.projects.run(
        str(PROJECT),
        entry_point=entry_point,
        parameters=values,
        env_manager="local",
        experiment_name=None if chosen else entry_point,
        synchronous=False,  # to learn the run's id: the exit code does not come through
    )
    try:
        succeeded = submitted.wait()
    except KeyboardInterrupt:  # the pipeline gets SIGTERM: its run ends KILLED
        submitted.cancel()
        raise
    run = mlflow.MlflowClient().get_run(submitted.run_id)
    return succeeded, run.data.tags.get("error_kind", "")


def interrupt(signum: int, frame: object) -> None:
    """SIGTERM as Ctrl-C: the launched run is in a session of its own and is stopped too."""
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, interrupt)
    try:
        values = parameters(argv)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    try:
        succeeded, error_kind = launch(FIRST, values)
        if error_kind == "download":
            print(FALLING_BACK, file=sys.stderr)
            succeeded, _ = launch(OFFLINE, values)
    except KeyboardInterrupt:  # the pipeline said what became of its run
        return 130
    return 0 if succeeded else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
