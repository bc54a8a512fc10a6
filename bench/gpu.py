"""cnn_cifar10 through the pipeline vs a bare Keras 3 script of the same model, on JAX.

Run by bench/gpu.sh (which installs the carried wheels first); sizes come from variables so
the same script rehearses on a CPU in seconds:

    BENCH_TRAIN=50000 BENCH_TEST=10000 BENCH_EPOCHS=8 BENCH_BATCHES="128 1024" BENCH_REPEATS=1
    BENCH_HIDE_TENSORFLOW=1   # make `import tensorflow` fail, as on a machine without it

Both sides read the same generated CIFAR-10-sized images from one npz file (the pipeline as
`-P dataset=npz:PATH`, through its npy cache, warmed first), train on the same number of
rows (the pipeline's 10% validation cut) with validation every epoch, and are timed the
same way: the wall time between the end of epoch 1 and the end of the last epoch
(training plus validation), so compilation and the first epoch are left out. The pipeline's
epoch ends are the timestamps of its synchronously logged per-epoch MLflow metrics; the bare
script notes `time.time()` in a callback. images/s = training images x epochs / that time.
Pairs run interleaved (pipeline, bare, pipeline, bare...) per batch size; medians reported.

With several devices (a multi-GPU machine), each repeat also trains the pipeline with
`-P devices=all` at the same global batch, interleaved with the others, and the table gains
its images/s and speed-up over one device (BENCH_DATA_PARALLEL=0 leaves that case out).
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from synthetic import write_npz

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
NO_TENSORFLOW = REPO / "bench" / "no_tensorflow"
VAL_FRACTION = 0.1  # cnn_cifar10's default (pipelines/entry_points.py CIFAR_CNN)
SEED = 42


def setting(name: str, default: str) -> str:
    return os.environ.get(name, default)


def write_data(work: Path, n_train: int, n_test: int) -> Path:
    """32x32 RGB images in ten classes as an npz, read by both sides (kept for reruns)."""
    npz = work / f"cifar10-{n_train}-{n_test}.npz"
    if not npz.exists():
        write_npz(npz, n_train, n_test, side=32, channels=3)
    return npz


def environment(work: Path, hide_tensorflow: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "KERAS_LESSONS"))}
    path = [str(REPO), env.get("PYTHONPATH", "")]
    if hide_tensorflow:
        path.insert(0, str(NO_TENSORFLOW))
    env.update(
        KERAS_BACKEND="jax",
        MLFLOW_TRACKING_URI=f"sqlite:///{work / 'mlflow.db'}",
        KERAS_HOME=str(work / "keras_home"),
        KERAS_LESSONS_CACHE=str(work / "cache"),
        PYTHONPATH=os.pathsep.join(p for p in path if p),
        PYTHONUNBUFFERED="1",
        TF_CPP_MIN_LOG_LEVEL="3",
    )
    return env


def call(command: list[str], env: dict[str, str], work: Path) -> str:
    done = subprocess.run(command, env=env, cwd=work, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command[:4])} failed:\n{done.stderr[-4000:]}")
    if "No module named 'tensorflow'" in done.stderr:
        sys.exit(f"{' '.join(command[:4])} tried to import tensorflow:\n{done.stderr[-4000:]}")
    return done.stdout


def steady_rate(ends: list[float], n_train: int) -> float:
    """Images/s from epoch-end times, the first epoch (compilation, warm-up) left out."""
    if len(ends) < 2:
        raise SystemExit("need at least 2 epochs (BENCH_EPOCHS) to leave the first one out")
    return n_train * (len(ends) - 1) / (ends[-1] - ends[0])


def pipeline_once(
    env, work: Path, npz: Path, batch: int, epochs: int, n_train: int, devices: str = "1"
) -> dict:
    import mlflow

    command = [sys.executable, "-m", "pipelines", "cnn_cifar10", "--backend", "jax"]
    command += ["--dataset", f"npz:{npz}", "--devices", devices]
    command += ["--batch_size", str(batch), "--epochs", str(epochs), "--patience", "0"]
    command += ["--verbose", "0", "--seed", str(SEED)]
    started = time.time()
    call(command, env, work)
    client = mlflow.MlflowClient(env["MLFLOW_TRACKING_URI"])
    experiment = client.get_experiment_by_name("cnn_cifar10")
    run = client.search_runs(
        [experiment.experiment_id], order_by=["attributes.start_time DESC"], max_results=1
    )[0]
    assert run.info.start_time / 1000 >= started - 5, "found an older run"
    assert run.data.params["backend"] == "jax", run.data.params["backend"]
    history = sorted(client.get_metric_history(run.info.run_id, "loss"), key=lambda m: m.step)
    ends = [m.timestamp / 1000 for m in history]
    return {
        "images_per_s": steady_rate(ends, n_train),
        "test_accuracy": run.data.metrics["test_accuracy"],
        "run_id": run.info.run_id,
    }


def bare_once(env, work: Path, npz: Path, batch: int, epochs: int) -> dict:
    script = REPO / "bench" / "bare_cifar10.py"
    arguments = [str(npz), str(epochs), str(batch), str(SEED), str(VAL_FRACTION)]
    out = call([sys.executable, str(script), *arguments], env, work)
    result = json.loads(next(line[7:] for line in out.splitlines() if line.startswith("RESULT ")))
    assert result["backend"] == "jax", result["backend"]
    return {"images_per_s": steady_rate(result["epoch_ends"], result["n_train"])}


def devices(env) -> str:
    code = "import jax; print(jax.default_backend(), jax.devices())"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    return (done.stdout or done.stderr).strip().splitlines()[-1]


def device_count(env) -> int:
    code = "import jax; print(jax.device_count())"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    return int(done.stdout.strip().splitlines()[-1])


def main() -> None:
    work = Path(setting("BENCH_WORK", "/tmp/keras-lessons-gpu"))
    work.mkdir(parents=True, exist_ok=True)
    n_train, n_test = int(setting("BENCH_TRAIN", "50000")), int(setting("BENCH_TEST", "10000"))
    epochs, repeats = int(setting("BENCH_EPOCHS", "8")), int(setting("BENCH_REPEATS", "1"))
    batches = [int(b) for b in setting("BENCH_BATCHES", "128 1024").split()]
    hide = setting("BENCH_HIDE_TENSORFLOW", "0") == "1"
    env = environment(work, hide)
    started = time.time()
    npz = write_data(work, n_train, n_test)
    rows = n_train - math.ceil(VAL_FRACTION * n_train)  # sklearn's train_test_split
    device = devices(env)
    print(f"jax: {device}; {n_train} images, {rows} trained on, {epochs} epochs", flush=True)
    # The data-parallel case: every device (-P devices=all), the same global batch.
    count = device_count(env) if setting("BENCH_DATA_PARALLEL", "1") == "1" else 1
    # Warm the npy cache, so no timed run pays for reading the npz.
    call([sys.executable, "-m", "pipelines", "prepare_data", "--dataset", f"npz:{npz}"], env, work)

    results = []
    for batch in batches:
        pipeline, bare, parallel = [], [], []
        for _ in range(repeats):
            pipeline.append(pipeline_once(env, work, npz, batch, epochs, rows))
            bare.append(bare_once(env, work, npz, batch, epochs))
            if count > 1 and batch % count == 0:
                parallel.append(pipeline_once(env, work, npz, batch, epochs, rows, "all"))
        p = statistics.median(r["images_per_s"] for r in pipeline)
        b = statistics.median(r["images_per_s"] for r in bare)
        result = {
            "batch_size": batch,
            "pipeline_images_per_s": round(p),
            "bare_images_per_s": round(b),
            "ratio": round(p / b, 3),
            "pipeline_test_accuracy": pipeline[-1]["test_accuracy"],
            "runs": [r["run_id"] for r in pipeline],
        }
        print(f"batch {batch}: pipeline {p:,.0f} img/s, bare {b:,.0f} img/s, ratio {p / b:.3f}")
        if parallel:
            d = statistics.median(r["images_per_s"] for r in parallel)
            result |= {
                "devices": count,
                "data_parallel_images_per_s": round(d),
                "speedup": round(d / p, 3),
                "data_parallel_test_accuracy": parallel[-1]["test_accuracy"],
                "data_parallel_runs": [r["run_id"] for r in parallel],
            }
            print(f"batch {batch}: {count} devices {d:,.0f} img/s, {d / p:.2f} x one device")
        results.append(result)

    print("\n| batch | pipeline img/s | bare Keras img/s | ratio (goal >= 0.9) |")
    print("|---|---|---|---|")
    for r in results:
        print(
            f"| {r['batch_size']} | {r['pipeline_images_per_s']:,} | "
            f"{r['bare_images_per_s']:,} | {r['ratio']:.3f} |"
        )
    if any("devices" in r for r in results):
        print(f"\n| global batch | 1 device img/s | {count} devices img/s | speed-up |")
        print("|---|---|---|---|")
        for r in (r for r in results if "devices" in r):
            print(
                f"| {r['batch_size']} | {r['pipeline_images_per_s']:,} | "
                f"{r['data_parallel_images_per_s']:,} | {r['speedup']:.2f} |"
            )
    report = {
        "device": device,
        "python": platform.python_version(),
        "tensorflow_hidden": hide,
        "n_train": n_train,
        "trained_rows": rows,
        "epochs": epochs,
        "repeats": repeats,
        "seconds": round(time.time() - started, 1),
        "results": results,
    }
    out = Path(os.environ.get("OUT") or work)
    (out / "gpu_bench.json").write_text(json.dumps(report, indent=2))
    print(f"\nwrote {out / 'gpu_bench.json'} ({report['seconds']} s)")


if __name__ == "__main__":
    main()
