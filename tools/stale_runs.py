"""Runs left RUNNING by a process that is gone: find them and mark them KILLED.

    python -m tools.stale_runs [--dry-run] [--older-than HOURS]      (or `make clean-runs`)

A pipeline tags its run with `pid` and `host`; a run on this host whose process no longer
runs a pipeline was killed (SIGKILL, reboot, closed laptop). A run with no `pid` never got
as far as the pipeline (e.g. `mlflow run` failed to build its environment) and is marked
once it is older than `--older-than` hours.
"""

from __future__ import annotations

import argparse
import socket
import time

from steps.files import pipeline_alive


def stale_runs(client, older_than_hours: float) -> list[tuple[object, str]]:
    """(run, reason) for every RUNNING run whose process is gone."""
    host, now_ms = socket.gethostname(), time.time() * 1000
    experiments = [e.experiment_id for e in client.search_experiments()]
    found = []
    for run in client.search_runs(experiments, "attributes.status = 'RUNNING'", max_results=5000):
        tags, age_hours = run.data.tags, (now_ms - run.info.start_time) / 3.6e6
        if "pid" in tags and tags.get("host") == host:
            if not pipeline_alive(int(tags["pid"])):
                found.append((run, f"its process {tags['pid']} on {host} is gone"))
        elif age_hours > older_than_hours:
            where = f"on {tags['host']}" if "host" in tags else "before any pipeline started"
            found.append((run, f"RUNNING for {age_hours:.1f} h with no sign of life {where}"))
    return found


def mark_killed(client, run, reason: str) -> None:
    message = f"marked KILLED by stale_runs: {reason}"
    client.set_tag(run.info.run_id, "error", message)
    client.set_tag(run.info.run_id, "mlflow.note.content", f"**KILLED**: {message}")
    client.set_terminated(run.info.run_id, "KILLED")


def main(argv: list[str] | None = None) -> int:
    import mlflow

    parser = argparse.ArgumentParser(prog="python -m tools.stale_runs", description=__doc__)
    parser.add_argument("--dry-run", action="store_true", help="list, change nothing")
    parser.add_argument("--older-than", type=float, default=1.0, metavar="HOURS")
    args = parser.parse_args(argv)
    client = mlflow.MlflowClient()
    found = stale_runs(client, args.older_than)
    for run, reason in found:
        print(f"{run.info.run_id}  {run.info.run_name}  {reason}")
        if not args.dry_run:
            mark_killed(client, run, reason)
    verb = "would mark" if args.dry_run else "marked"
    print(f"{verb} {len(found)} stale run(s) KILLED")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
