"""`python -m pipelines NAME --param value ...`: what every MLproject entry point runs.

Parsing, `--help` and parameter errors import neither TensorFlow nor MLflow.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys

from pipelines import sweep
from pipelines.declare import command_line
from pipelines.entry_points import ENTRY_POINTS, EntryPoint
from pipelines.params import Params
from steps import backends
from steps.errors import DownloadError, UserError
from steps.secrets import redacted
from steps.track.failures import RESUME_HINT, RunInterrupted, fail_launched_run
from steps.track.param_text import param_text

EXIT_USER_ERROR = 2
# A data set or weights file that could not be downloaded: `make run` (pipelines.first_run)
# falls back to an offline lesson on this code only, never on other failures.
EXIT_DOWNLOAD = 3


def parser_for(entry: EntryPoint) -> argparse.ArgumentParser:
    defaults = entry.params()
    return command_line(
        Params,
        f"python -m pipelines {entry.name}",
        f"Lessons {entry.lessons}: {entry.summary}",
        entry.takes,
        {name: getattr(defaults, name) for name in entry.takes},
        entry.narrow,
    )


def parse(argv: list[str]) -> tuple[EntryPoint, Params, list[sweep.Variant]]:
    """The entry point, its parameters (a sweep's first variant) and a sweep's variants."""
    if not argv or argv[0] not in ENTRY_POINTS:
        known = ", ".join(ENTRY_POINTS)
        got = f"unknown entry point {argv[0]!r}; " if argv else ""
        raise UserError(f"{got}choose one of: {known}")
    entry = ENTRY_POINTS[argv[0]]
    parser = parser_for(entry)
    known, unknown = parser.parse_known_args(argv[1:])
    for name in (arg.removeprefix("--").partition("=")[0] for arg in unknown):
        if name in entry.instead:
            raise UserError(entry.instead[name])
    given = vars(parser.parse_args(argv[1:]))
    found = sweep.variants(entry, given)
    params = found[0].params if found else entry.params(**given)
    # Before anything imports Keras: it reads KERAS_BACKEND once, at import.
    return entry, params.but(backend=backends.choose(params.backend)), found


def listing() -> str:
    rows = [f"  {e.name:<16} lessons {e.lessons:<7} {e.summary}" for e in ENTRY_POINTS.values()]
    rows.append(f"  {'predict':<16} {'':<15} score a .csv or .npz with a logged model (--help)")
    return "usage: python -m pipelines NAME [--param VALUE ...]\n\nentry points:\n" + "\n".join(
        rows
    )


def logged(entry: EntryPoint, params: Params) -> dict[str, str]:
    """The parameters the run records: those the entry point takes, as typed on the command line."""
    return {name: param_text(getattr(params, name)) for name in entry.takes}


def run(entry: EntryPoint, params: Params, found: list[sweep.Variant] | None = None) -> str:
    """Train the lesson in one MLflow run (a sweep: a parent and its children); its run id.
    Runs one after another in one process start alike: nothing of a run is left to the next
    (`steps.session`)."""
    from steps import session, startup
    from steps.train import distribute

    distribute.split_cpu(params.devices, params.backend)  # before the backend starts
    just_loaded = startup.load_libraries()
    try:
        plan = distribute.set_up(params.devices, backends.current(), params.batch_size)
    except UserError as exc:
        fail_launched_run(str(exc))
        raise
    with (
        session.one_run(keras_just_loaded=just_loaded),
        distribute.reporting(plan, entry.name),
        distribute.across(plan),
    ):
        return run_lesson(entry, params, found)


def run_lesson(entry: EntryPoint, params: Params, found: list[sweep.Variant] | None) -> str:
    from steps import files
    from steps.track.run import tracked_run
    from steps.train import distribute, resume

    pipeline = importlib.import_module(f"pipelines.{entry.pipeline}")
    backends.set_precision(params.mixed_precision)  # before any model is built
    params = params.but(backend=backends.current())  # what Keras really loaded
    values = logged(entry, params) | {"backend": params.backend}
    if found:
        return run_sweep(entry, params, values, found, pipeline)
    backups = resume.backups_of(entry.name, values)
    plan = distribute.active()
    if plan.parallel:  # one device: the terminal as it always was
        print(plan.line())
    with contextlib.ExitStack() as held:
        previous = None
        if params.resume and entry.epoch_backups:
            try:
                previous = held.enter_context(resume.claimed(backups))
                if previous is not None:  # on the device count it trained on
                    distribute.check_resume(previous, plan)
            except UserError as exc:  # resumed elsewhere, or on other devices: left alone
                fail_launched_run(str(exc))
                raise
            if previous is None:
                print("resume: no interrupted run with these parameters; starting from epoch 1")
        run_id = previous.name if previous else None
        with tracked_run(
            entry.name,
            entry.lessons,
            values,
            resume_run_id=run_id,
            name=entry.run_name(params),
            experiment_description=entry.description(),
        ) as tracker:
            tracker.set_tags(**plan.tags())
            if entry.epoch_backups:
                tracker.backup_dir = previous or backups / tracker.run_id
            if tracker.backup_dir and not previous:
                held.enter_context(files.locked(tracker.backup_dir))
                distribute.record(tracker.backup_dir, plan)
            try:
                pipeline.run(params, tracker)
                register(entry, params, tracker)
            except Exception:  # the run ends FAILED: nothing to resume (KILLED keeps it)
                if tracker.backup_dir:
                    resume.forget(tracker.backup_dir)
                raise
    if tracker.backup_dir:
        resume.forget(tracker.backup_dir)
    return tracker.run_id


def run_sweep(
    entry: EntryPoint,
    params: Params,
    values: dict[str, str],
    found: list[sweep.Variant],
    pipeline,
) -> str:
    """One parent run, its parameters as given (the swept ones as lists), a child per variant."""
    from steps.track.run import tracked_run
    from steps.train import distribute

    swept = {
        name: ",".join(dict.fromkeys(v.changes[name] for v in found)) for name in found[0].changes
    }
    shown = params.model_copy(update={"dataset": swept.get("dataset", params.dataset)})
    varied = " ".join(f"{k}={v}" for k, v in swept.items() if k != "dataset")
    name = f"{entry.run_name(shown)}{f' · {varied}' if varied else ''}"  # data sets once
    with tracked_run(
        entry.name,
        entry.lessons,
        values | swept,
        name=name,
        experiment_description=entry.description(),
    ) as tracker:
        tracker.set_tags(sweep=", ".join(swept), **distribute.active().tags())
        sweep.run(pipeline, found, tracker)
        register(entry, params, tracker)
    return tracker.run_id


def register(entry: EntryPoint, params: Params, tracker) -> None:
    """`-P register=NAME`: the run's model (a comparison's best) as NAME's next version."""
    if not params.register:
        return
    from steps.track import registry

    tags = {"lesson": entry.lessons, "entry_point": entry.name}
    verdict = registry.register(tracker.run_id, params.register, tags)
    tracker.set_tags(registered=verdict.line())
    print(verdict.line())


def stop_on_signals() -> None:
    """Ctrl-C and SIGTERM (what `kill` and job schedulers send) end the run as KILLED, but
    never half-way through writing the epoch's backup."""
    from steps.train.interrupts import interrupt_now_or_after_saving

    signal.signal(signal.SIGTERM, interrupt_now_or_after_saving)
    signal.signal(signal.SIGINT, interrupt_now_or_after_saving)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(listing())
        return 0
    if argv[0] == "predict":
        return predict(argv[1:])
    try:
        entry, params, found = parse(argv)
    except UserError as exc:
        print(f"error: {redacted(str(exc))}", file=sys.stderr)
        fail_launched_run(str(exc))
        return EXIT_USER_ERROR
    stop_on_signals()
    try:
        run(entry, params, found)
    except UserError as exc:
        print(f"error: {redacted(str(exc))}", file=sys.stderr)
        return EXIT_DOWNLOAD if isinstance(exc, DownloadError) else EXIT_USER_ERROR
    except RunInterrupted:
        print(f"interrupted: the run was marked KILLED; {RESUME_HINT}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:  # before the pipeline opened its run
        print(f"interrupted before the run was opened: {interrupted_early()}", file=sys.stderr)
        return 130
    return 0


def predict(argv: list[str]) -> int:
    """`python -m pipelines predict --model URI --input FILE --output FILE.csv`."""
    from pipelines import predict

    try:
        args = predict.parse(argv)
        predict.run(args)
    except UserError as exc:
        print(f"error: {redacted(str(exc))}", file=sys.stderr)
        fail_launched_run(str(exc))
        return EXIT_USER_ERROR
    return 0


def interrupted_early() -> str:
    """What is left of an invocation stopped before its run was open."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # `mlflow run` follows Ctrl-C with SIGTERM
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if fail_launched_run("interrupted before the pipeline opened its run", "KILLED"):
        return "the run `mlflow run` made was marked KILLED; run the command again"
    return "nothing was trained or recorded; run the command again"
