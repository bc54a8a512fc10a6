"""Score bars of `tabular` with its default parameters, against plain scikit-learn.

Runs the pipeline in-process through the CLI's `main` (a throwaway sqlite store in a temp
folder) on each bundled table and seed, and scores a StandardScaler + LogisticRegression /
LinearRegression on the same held-out 20% (the prepare step's split with the same seed).

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


def pipeline_score(dataset: str, seed: int, extra: list[str]) -> tuple[float, int]:
    """Run `tabular` once; its test score and epochs, read back from the tracking store."""
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
    return metrics.get("test_accuracy", metrics.get("test_r2")), int(metrics["epochs_run"])


def sklearn_score(dataset: str, seed: int, test_fraction: float = 0.2) -> float:
    """A linear model on the pipeline's own test split (no validation rows taken out)."""
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from steps import cache, datasets
    from steps.prepare import split

    data, _ = cache.load_cached(datasets.resolve(dataset))
    parts = split(data, val_fraction=0.0, test_fraction=test_fraction, seed=seed)
    linear = (
        LogisticRegression(max_iter=5000) if data.task == "classification" else LinearRegression()
    )
    model = make_pipeline(StandardScaler(), linear).fit(parts.x_train, parts.y_train)
    return float(model.score(parts.x_test, parts.y_test))  # accuracy, or R2


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

    print(
        f"{'dataset':<14} {'seed':>4} {'pipeline':>9} {'epochs':>6} {'sklearn':>8} {'bar':>5}  ok"
    )
    failures = 0
    for dataset in args.datasets.split(","):
        for seed in map(int, args.seeds.split(",")):
            score, epochs = pipeline_score(dataset, seed, args.extra)
            baseline = sklearn_score(dataset, seed)
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
