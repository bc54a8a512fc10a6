"""Lessons from Python (a notebook, a script): `pipelines.run("tabular", dataset="iris")`.

The parameters are the command line's (`python -m pipelines NAME --help` lists them), given as
keywords in Python's types (`epochs=5`, `dataset=["iris", "wine"]`: a sweep, `early_stop=False`)
and checked by the same declarations, with the same one-line messages, raised as one
`LessonError`. The lesson trains in one MLflow run, as `mlflow run` would record it, and `run`
returns it read back from the tracking store (`steps.track.result.Result`). Any number of runs
follow each other in one process, each starting as in a new process (`steps.session`).

    from pipelines import run
    result = run("tabular", dataset="iris", epochs=50)
    result.test_metrics, result.best_epoch, result.history, result.load_model()
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from steps.errors import DownloadError, UserError
from steps.secrets import redacted
from steps.track.param_text import param_text

if TYPE_CHECKING:
    from steps.track.result import Result


class LessonError(UserError):
    """What the command line prints as its `error:` line: a bad parameter, a data set or file
    it cannot use, a download it cannot make. The run, if one was opened, ended FAILED with
    the same message. `download`: the data could not be fetched (the command line's exit 3)."""

    def __init__(self, message: str, *, download: bool = False):
        super().__init__(message)
        self.download = download


def run(entry_point: str, /, **params: object) -> Result:
    """Train `entry_point` with `params` (the command line's names) and return its run.

    A parameter given as a list (or a comma string) sweeps it: one child run per value, in
    `result.children`. Keras reports one line per epoch (`verbose=2`, the default), which a
    notebook shows as it comes."""
    from pipelines import cli
    from pipelines.entry_points import ENTRY_POINTS

    entry = ENTRY_POINTS.get(entry_point)
    for name in params if entry else ():  # by its full name (the command line takes prefixes)
        if name not in entry.takes:
            said = entry.instead.get(name, f"{entry_point} takes no parameter {name!r}")
            raise LessonError(f"{said} (see `python -m pipelines {entry_point} --help`)")
    # `--name=value`: a value that starts with a dash is still the value
    argv = [entry_point, *(f"--{name}={param_text(value)}" for name, value in params.items())]
    try:
        entry, checked, found = cli.parse(argv)
    except UserError as exc:
        raise LessonError(redacted(str(exc))) from None
    try:
        with interrupts_end_the_run():
            run_id = cli.run(entry, checked, found)
    except UserError as exc:
        message = redacted(str(exc))
        raise LessonError(message, download=isinstance(exc, DownloadError)) from None
    from steps.track.result import Result

    return Result.of(run_id)


@contextlib.contextmanager
def interrupts_end_the_run() -> Iterator[None]:
    """Ctrl-C (a notebook's interrupt) ends the run KILLED after the epoch's backup, as on the
    command line; the process's own handlers are back afterwards."""
    from pipelines.cli import stop_on_signals

    if threading.current_thread() is not threading.main_thread():  # signals: main thread only
        yield
        return
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    stop_on_signals()
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
