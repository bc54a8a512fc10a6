"""Score `tabular` (and `image_classify` on digits) with their defaults, against scikit-learn.

Runs the pipeline in-process through the CLI's `main` (a throwaway sqlite store in a temp
folder) on each bundled table and on digits, once per seed, and scores scikit-learn's
StandardScaler + LogisticRegression / LinearRegression and a RandomForest on the same
held-out 20% (the prepare step's split with the same seed; the baselines train on all the
training rows, as the pipeline's k-fold fit of a small table does). Reports each data set's
mean ± sd over the seeds and the seconds the pipeline trained (its `fit_seconds`, median),
writes the table to bench-results/tabular_scores.md (`--out`) and exits 1 when a target is missed.

The targets: on every data set the network's mean at least matches the better of the
linear model's and the forest's, within one standard deviation (the network's, over the
seeds), and it beats the linear model's mean on at least three data sets.

The defaults were chosen by bench/choose_defaults.py, on training rows only; these test
rows only report them.

    .venv/bin/python bench/tabular_scores.py [--seeds 42,1,2,3,4] [--datasets iris,digits]
        [-- --folds 0]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RESULTS = Path(__file__).resolve().parents[1] / "bench-results"
DATASETS = ("iris", "breast_cancer", "wine", "diabetes", "digits")
BEAT_LINEAR_ON = 3  # data sets at least where the network's mean beats the linear model's
IMAGES = {"digits"}  # scored through image_classify (its CNN), the others through tabular


def entry_point(dataset: str) -> str:
    return "image_classify" if dataset in IMAGES else "tabular"


def pipeline_score(dataset: str, seed: int, extra: list[str]) -> tuple[float, int, float]:
    """Run the entry point once; its test score, epochs and training seconds, read back from
    the tracking store."""
    import mlflow

    from pipelines.cli import main

    entry = entry_point(dataset)
    argv = [entry, "--dataset", dataset, "--seed", str(seed), "--verbose", "0", *extra]
    # MLflow's set_experiment leaves MLFLOW_EXPERIMENT_ID in the environment, which would put
    # the next entry point's run in this one's experiment: name each run's experiment.
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
    os.environ["MLFLOW_EXPERIMENT_NAME"] = entry
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    if code != 0:
        raise SystemExit(f"{' '.join(argv)} exited {code}")
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name(entry)
    run = client.search_runs([experiment.experiment_id], order_by=["start_time DESC"])[0]
    metrics = run.data.metrics
    score = metrics.get("test_accuracy", metrics.get("test_r2"))
    return score, int(metrics["epochs_run"]), metrics["fit_seconds"]


def sklearn_scores(dataset: str, seed: int, test_fraction: float = 0.2) -> dict[str, float]:
    """A linear model and a RandomForest on the pipeline's own test split (all the other rows
    train them), each scored by accuracy, or R2."""
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from steps.data import cache, catalog
    from steps.data.prepare import split

    data, _ = cache.load_cached(catalog.resolve(dataset))
    parts = split(data, val_fraction=0.0, test_fraction=test_fraction, seed=seed)
    x_train = parts.x_train.reshape(len(parts.x_train), -1)
    x_test = parts.x_test.reshape(len(parts.x_test), -1)
    y_train, y_test = parts.y_train.ravel(), parts.y_test.ravel()
    if data.task == "classification":
        linear = LogisticRegression(max_iter=5000)
        forest = RandomForestClassifier(n_estimators=500, random_state=seed)
    else:
        linear = LinearRegression()
        forest = RandomForestRegressor(n_estimators=500, random_state=seed)
    models = {"linear": make_pipeline(StandardScaler(), linear), "forest": forest}
    return {
        name: float(model.fit(x_train, y_train).score(x_test, y_test))  # accuracy, or R2
        for name, model in models.items()
    }


def mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.4f} ± {sd:.4f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="42,1,2,3,4")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--out", default="tabular_scores.md", help="in bench-results/")
    parser.add_argument("extra", nargs="*", help="more pipeline arguments, after --")
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    folder = tempfile.mkdtemp(prefix="tabular-bench-")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{folder}/mlflow.db"
    os.environ.setdefault("KERAS_LESSONS_CACHE", f"{folder}/cache")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.chdir(folder)  # artifacts land under the temp folder's ./mlruns

    print(
        f"{'dataset':<14} {'seed':>4} {'pipeline':>9} {'epochs':>6} {'seconds':>7} "
        f"{'linear':>8} {'forest':>8}"
    )
    head = ["dataset", "entry point", "pipeline", "linear", "forest", "matches the better"]
    head += ["beats linear", "epochs", "fit seconds"]
    lines = [f"| {' | '.join(head)} |", f"|{'---|' * len(head)}"]
    misses, beaten = [], []
    started = time.perf_counter()
    for dataset in args.datasets.split(","):
        scores: dict[str, list[float]] = {"pipeline": [], "linear": [], "forest": []}
        epochs, seconds = [], []
        for seed in seeds:
            score, ran, took = pipeline_score(dataset, seed, args.extra)
            baselines = sklearn_scores(dataset, seed)
            scores["pipeline"].append(score)
            epochs.append(ran)
            seconds.append(took)
            for name, value in baselines.items():
                scores[name].append(value)
            print(
                f"{dataset:<14} {seed:>4} {score:>9.4f} {ran:>6} {took:>7.1f} "
                f"{baselines['linear']:>8.4f} {baselines['forest']:>8.4f}",
                flush=True,
            )
        mean = {name: statistics.fmean(values) for name, values in scores.items()}
        spread = statistics.stdev(scores["pipeline"]) if len(seeds) > 1 else 0.0
        matches = mean["pipeline"] >= max(mean["linear"], mean["forest"]) - spread
        beats = mean["pipeline"] > mean["linear"]
        if not matches:
            misses.append(dataset)
        if beats:
            beaten.append(dataset)
        cells = [
            dataset,
            entry_point(dataset),
            *(mean_sd(scores[name]) for name in ("pipeline", "linear", "forest")),
            "yes" if matches else "NO",
            "yes" if beats else "no",
            f"{statistics.median(epochs):.0f}",
            f"{statistics.median(seconds):.1f}",
        ]
        lines.append(f"| {' | '.join(cells)} |")
    minutes = (time.perf_counter() - started) / 60
    import keras

    notes = [
        "",
        f"Mean ± sd over seeds {args.seeds} of the held-out 20% (accuracy; R2 for diabetes); "
        "matches the better: the network's mean within one of its sd of the better of the "
        "linear model's and the forest's means; epochs and fit seconds: the median the "
        "pipeline trained (a k-fold fit: every fold's epochs and seconds). "
        f"Beats the linear model on {len(beaten)} of {len(lines) - 2} (target: "
        f"{BEAT_LINEAR_ON}). Backend: {keras.backend.backend()}. "
        f"Pipeline arguments: {' '.join(args.extra) or 'the defaults'}. Wall time: "
        f"{minutes:.1f} min.",
    ]
    report = ["# Default parameters on held-out rows (bench/tabular_scores.py)", "", *lines]
    print("\n".join(["", *lines, *notes]))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / args.out).write_text("\n".join([*report, *notes]) + "\n")
    if misses:
        print(f"not matching the better baseline: {', '.join(misses)}", file=sys.stderr)
    if len(beaten) < min(BEAT_LINEAR_ON, len(lines) - 2):
        print(f"beats the linear model on {len(beaten)} only", file=sys.stderr)
    return 1 if misses or len(beaten) < min(BEAT_LINEAR_ON, len(lines) - 2) else 0


if __name__ == "__main__":
    sys.exit(main())
