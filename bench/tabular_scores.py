"""Score bars of `tabular` with its default parameters, against plain scikit-learn.

Runs the pipeline in-process through the CLI's `main` (a throwaway sqlite store in a temp
folder) on each bundled table and seed, beside the linear baseline the run logged on the same
held-out 20% (StandardScaler + LogisticRegression / LinearRegression, steps/baselines.py).

    .venv/bin/python bench/tabular_scores.py [--seeds 42,1,2,3] [-- --model conv1d]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Accuracy on iris, breast_cancer, wine; R2 on diabetes; held-out 20%, default parameters.
BARS = {"iris": 0.93, "breast_cancer": 0.96, "wine": 0.97, "diabetes": 0.45}


def pipeline_score(dataset: str, seed: int, extra: list[str]) -> tuple[float, int, float]:
    """Run `tabular` once; its test score, epochs and linear baseline's score, read back from
    the tracking store."""
    import mlflow

    from pipelines.cli import main

    argv = ["tabular", "--dataset", dataset, "--seed", str(seed), "--verbose", "0", *extra]
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    if code != 0:
        raise SystemExit(f"tabular {' '.join(argv[1:])} exited {code}")
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name("tabular")
    run = client.search_runs([experiment.experiment_id], order_by=["start_time DESC"])[0]
    metrics = run.data.metrics
    score = "accuracy" if "test_accuracy" in metrics else "r2"
    linear = metrics.get(f"baseline_linear_{score}", float("nan"))
    return metrics[f"test_{score}"], int(metrics["epochs_run"]), linear


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="42,1,2,3")
    parser.add_argument("--datasets", default=",".join(BARS))
    parser.add_argument("extra", nargs="*", help="more pipeline arguments, after --")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="tabular-bench-")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{folder}/mlflow.db"
    os.environ.setdefault("KERAS_LESSONS_CACHE", f"{folder}/cache")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.chdir(folder)  # artifacts land under the temp folder's ./mlruns

    print(f"{'dataset':<14} {'seed':>4} {'pipeline':>9} {'epochs':>6} {'linear':>8} {'bar':>5}  ok")
    failures = 0
    for dataset in args.datasets.split(","):
        for seed in map(int, args.seeds.split(",")):
            score, epochs, baseline = pipeline_score(dataset, seed, args.extra)
            bar = BARS.get(dataset, float("nan"))
            ok = score >= bar
            failures += not ok
            print(
                f"{dataset:<14} {seed:>4} {score:>9.4f} {epochs:>6} {baseline:>8.4f} {bar:>5.2f}"
                f"  {'yes' if ok else 'NO'}",
                flush=True,
            )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
