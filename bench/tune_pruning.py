"""Pruning on vs off for one 20-trial `tune` search: wall time and best score.

    .venv/bin/python bench/tune_pruning.py [--repeats 2] [--n-trials 20] [--dataset breast_cancer]

Runs `python -m pipelines tune` (the CLI `mlflow run` starts) as separate processes, on then
off, `--repeats` times interleaved so that load from other processes hits both alike, each
in a fresh temporary MLflow store and Optuna study, same seed; prints one line per run and
the median wall time of each mode with their ratio. Same seed: the first trials (before the
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
        "--storage", f"sqlite:///{folder / 'optuna.db'}",
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
    return {
        "pruner": pruner,
        "seconds": round(seconds, 1),
        "best_value": m["best_value"],
        "complete": int(m["trials_complete"]),
        "pruned": int(m["trials_pruned"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--n-trials", type=int, default=20)
    parser.add_argument("--dataset", default="breast_cancer")
    args = parser.parse_args()
    results = []
    for _ in range(args.repeats):
        for pruner in ("median", "none"):
            with tempfile.TemporaryDirectory() as folder:
                results.append(one_search(pruner, args, Path(folder)))
            print(json.dumps(results[-1]), flush=True)
    median = {
        p: statistics.median(r["seconds"] for r in results if r["pruner"] == p)
        for p in ("median", "none")
    }
    best = {
        p: statistics.median(r["best_value"] for r in results if r["pruner"] == p)
        for p in ("median", "none")
    }
    print(
        f"median wall time: pruning on {median['median']:.1f} s, off {median['none']:.1f} s, "
        f"ratio on/off {median['median'] / median['none']:.2f}; "
        f"median best {best['median']:.4f} on, {best['none']:.4f} off; cpus {os.cpu_count()}"
    )


if __name__ == "__main__":
    main()
