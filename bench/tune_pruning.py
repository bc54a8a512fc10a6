"""Pruners vs none for one 20-trial `tune` search: wall time and best score.

    .venv/bin/python bench/tune_pruning.py [--repeats 2] [--n-trials 20] [--dataset breast_cancer]
        [--pruners median,hyperband,none] [--backend tensorflow]

Runs `python -m pipelines tune` (the CLI `mlflow run` starts) as separate processes, on then
and without, `--repeats` times interleaved so that load from other processes hits both alike, each
in a fresh temporary MLflow store and Optuna study, same seed; prints one line per run and
the median wall time of each mode with their ratio, and each run's resident memory growth
per trial (the parent run's `trial_rss_mb`). Same seed: the first trials (before the
median pruner's 3 start-up trials have finished) draw the same parameters in both modes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def one_search(pruner: str, args, folder: Path) -> dict:
    env = os.environ | {
        "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    command = [
        sys.executable, "-m", "pipelines", "tune",
        "--family", "dnn", "--dataset", args.dataset, "--n_trials", str(args.n_trials),
        "--pruner", pruner, "--retrain", "false", "--verbose", "0",
        "--storage", f"sqlite:///{folder / 'optuna.db'}", "--backend", args.backend,
    ]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=REPO, check=True, capture_output=True)
    seconds = time.perf_counter() - started
    import mlflow

    client = mlflow.MlflowClient(env["MLFLOW_TRACKING_URI"])
    runs = client.search_runs(
        [client.get_experiment_by_name("tune").experiment_id],
        "tags.pipeline = 'tune' and attributes.run_name != ''",
    )
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    m = parent.data.metrics
    rss = [x.value for x in client.get_metric_history(parent.info.run_id, "trial_rss_mb")]
    return {
        "backend": args.backend,
        "pruner": pruner,
        "seconds": round(seconds, 1),
        "best_value": m["best_value"],
        "complete": int(m["trials_complete"]),
        "pruned": int(m["trials_pruned"]),
        # resident memory growth per trial, from the 2nd trial on (the 1st loads code)
        "rss_mb_per_trial": round((rss[-1] - rss[1]) / (len(rss) - 2), 2),
        "rss_mb": [round(x) for x in rss],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--n-trials", type=int, default=20)
    parser.add_argument("--dataset", default="breast_cancer")
    parser.add_argument("--pruners", default="median,hyperband,none", help="none last: the base")
    parser.add_argument("--backend", default="tensorflow", help="tensorflow, jax or torch")
    args = parser.parse_args()
    pruners = args.pruners.split(",")
    results = []
    for _ in range(args.repeats):
        for pruner in pruners:
            with tempfile.TemporaryDirectory() as folder:
                results.append(one_search(pruner, args, Path(folder)))
            print(json.dumps(results[-1]), flush=True)
    for pruner in pruners:
        mine = [r for r in results if r["pruner"] == pruner]
        base = [r for r in results if r["pruner"] == pruners[-1]]
        seconds = statistics.median(r["seconds"] for r in mine)
        base_seconds = statistics.median(r["seconds"] for r in base)
        print(
            f"{pruner}: median wall time {seconds:.1f} s, "
            f"ratio to {pruners[-1]} {seconds / base_seconds:.2f}, "
            f"median best {statistics.median(r['best_value'] for r in mine):.4f}, "
            f"pruned {statistics.median(r['pruned'] for r in mine):.0f}; cpus {os.cpu_count()}"
        )


if __name__ == "__main__":
    main()
