"""How close data-parallel training on several devices comes to one device, epoch by epoch.

    .venv/bin/python bench/devices.py            # iris, 30 epochs, dnn, batch 16
    BENCH_DATASET=wine BENCH_EPOCHS=50 .venv/bin/python bench/devices.py
    BENCH_CASES=tensorflow:2:0.2 .venv/bin/python bench/devices.py   # backend:devices:dropout

Pick a table whose training and validation rows divide by 4 (iris: 96 and 24), else
several devices leave a few rows out and the runs differ by more than float sums.

Trains the same lesson (`tabular`, same seed, same global batch) on one device and on CPU
devices split from this machine's CPU: JAX on 4 (DataParallel), TensorFlow on 2
(MirroredStrategy), each without and with dropout. Prints, per pair, the largest difference
of any epoch's loss and val_loss from one device's (absolute and relative) and of the test
loss. On a CPU this is about numbers, not speed: one CPU split into devices is no faster.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def setting(name: str, default: str) -> str:
    return os.environ.get(name, default)


def train(work: Path, backend: str, devices: int, dropout: float) -> str:
    """One run in its own process (the device count is fixed when the backend starts)."""
    experiment = f"{backend}-{devices}-{dropout}"
    env = dict(os.environ)
    env.update(
        KERAS_BACKEND=backend,
        MLFLOW_TRACKING_URI=f"sqlite:///{work / 'mlflow.db'}",
        MLFLOW_EXPERIMENT_NAME=experiment,
        KERAS_LESSONS_CACHE=str(work / "cache"),
        PYTHONPATH=str(REPO),
        TF_CPP_MIN_LOG_LEVEL="3",
    )
    command = [sys.executable, "-m", "pipelines", "tabular", "--backend", backend]
    command += ["--dataset", setting("BENCH_DATASET", "iris")]
    command += ["--epochs", setting("BENCH_EPOCHS", "30"), "--patience", "0"]
    command += ["--batch_size", setting("BENCH_BATCH", "16"), "--units", "64"]
    command += ["--dropout", str(dropout), "--devices", str(devices), "--verbose", "0"]
    done = subprocess.run(command, env=env, cwd=work, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{experiment} failed:\n{done.stderr[-3000:]}")
    return experiment


def histories(work: Path, experiment: str) -> dict[str, list[float]]:
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{work / 'mlflow.db'}")
    found = client.get_experiment_by_name(experiment)
    run = client.search_runs([found.experiment_id])[0]
    series = {
        name: [m.value for m in sorted(client.get_metric_history(run.info.run_id, name), key=step)]
        for name in ("loss", "val_loss")
    }
    return series | {"test_loss": [run.data.metrics["test_loss"]]}


def step(metric) -> int:
    return metric.step


def largest_gap(ours: list[float], reference: list[float]) -> tuple[float, float]:
    gaps = [abs(a - b) for a, b in zip(ours, reference, strict=True)]
    relative = [g / abs(b) for g, b in zip(gaps, reference, strict=True)]
    return max(gaps), max(relative)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-devices-"))
    cases = setting("BENCH_CASES", "jax:4:0,jax:4:0.2,tensorflow:2:0,tensorflow:2:0.2")
    pairs = [(b, int(n), float(d)) for b, n, d in (c.split(":") for c in cases.split(","))]
    print(
        f"tabular on {setting('BENCH_DATASET', 'iris')}, {setting('BENCH_EPOCHS', '30')} "
        f"epochs, batch {setting('BENCH_BATCH', '16')}, seed 42 (work: {work})\n"
    )
    header = ("backend", "devices", "dropout", "max gap loss / val_loss", "max rel gap")
    print(f"| {' | '.join(header)} | test_loss gap |")
    print("|---|---|---|---|---|---|")
    for backend, devices, dropout in pairs:  # one device, then several: interleaved
        one = histories(work, train(work, backend, 1, dropout))
        several = histories(work, train(work, backend, devices, dropout))
        loss = largest_gap(several["loss"], one["loss"])
        val = largest_gap(several["val_loss"], one["val_loss"])
        test = abs(several["test_loss"][0] - one["test_loss"][0])
        print(
            f"| {backend} | {devices} | {dropout:g} | {loss[0]:.2e} / {val[0]:.2e} | "
            f"{max(loss[1], val[1]):.2e} | {test:.2e} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
