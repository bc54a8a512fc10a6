"""`make bench`: side-by-side measurements, interleaved A/B, medians and ratios.

Writes bench-results/bench.md and bench-results/bench.json. Sections:
  overhead  cnn_mnist through the pipeline vs bench/bare_mnist.py (same model, data, seed)
  guarantees  the overhead's fit phase taken apart: the pipeline's fit step with its guarantees
            added in turn (bench/mnist_ladder.py), each against bare Keras
  tiny      tabular on iris vs bench/bare_table.py: per-epoch overhead where epochs are tiny
  startup   `python -m pipelines --help`; process start to the end of the first epoch
  cache     a CIFAR-10-sized data set from the npy cache vs from its archive
  checks    the data checks on a CIFAR-10-sized set, uint8 and float32, against 0.2 s
  logging   per-epoch cost of MLflow metric logging (sync, async) and TensorBoard histograms
  search    a 20-trial `tune` on breast_cancer, end to end, against the same search run by the
            code of `--baseline` (a git revision: the input path before the tf.data pipeline)
  backends  the same lessons on TensorFlow and on JAX: where each is faster (`-P backend=`)
  tests     the test suite's wall time (`--sections tests`; not in the default run)

    python bench/run.py [--sections overhead,tiny,startup,cache,checks,logging] [--repeats 3]
        [--mnist-rows N] [--baseline REV] [--docs]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PYTHON = sys.executable
RESULTS = REPO / "bench-results"


def median(values: list[float]) -> float:
    return statistics.median(values)


def run(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{command[:4]} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - started, done.stdout


def environment(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "KERAS_LESSONS"))}
    env.update(
        MLFLOW_TRACKING_URI=f"sqlite:///{work / 'mlflow.db'}",
        KERAS_LESSONS_CACHE=str(work / "cache"),
        TF_CPP_MIN_LOG_LEVEL="3",
        PYTHONPATH=str(REPO),
    )
    return env


def overhead(work: Path, repeats: int, images: int = 60_000) -> list[dict]:
    """Goals: fit phase <= 1.05x, whole process <= 1.25x for a 5-epoch run, on `rows`
    generated MNIST-format training images (60,000: MNIST's own size)."""
    import mlflow

    from synthetic import write_npz

    data = write_npz(work / "bench.npz", n_train=images, n_test=images // 6, side=28)
    env, epochs, batch, seed = environment(work), 5, 128, 42
    pipeline = [
        PYTHON,
        "-m",
        "pipelines",
        "cnn_mnist",
        "--dataset",
        f"npz:{data}",
        "--epochs",
        str(epochs),
        "--batch_size",
        str(batch),
        "--seed",
        str(seed),
        "--patience",
        "0",
        "--verbose",
        "0",
    ]
    bare = [
        PYTHON,
        str(REPO / "bench" / "bare_mnist.py"),
        str(data),
        str(epochs),
        str(batch),
        str(seed),
    ]
    run(pipeline, env, work)  # warm the npy cache and the OS file cache; not measured
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    client = mlflow.MlflowClient()
    measured = ("fit", "all", "first", "acc")
    samples: dict[str, list[float]] = {f"{w}_{m}": [] for w in ("pipe", "bare") for m in measured}
    for _ in range(repeats):
        start = time.time()
        seconds, _ = run(pipeline, env, work)
        latest = client.search_runs(
            [client.get_experiment_by_name("cnn_mnist").experiment_id],
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )[0]
        samples["pipe_all"].append(seconds)
        samples["pipe_fit"].append(latest.data.metrics["fit_seconds"])
        samples["pipe_acc"].append(latest.data.metrics["test_accuracy"])
        first_loss = client.get_metric_history(latest.info.run_id, "loss")[0].timestamp / 1000
        samples["pipe_first"].append(first_loss - start)
        start = time.time()
        seconds, out = run(bare, env, work)
        result = json.loads(out.strip().splitlines()[-1])
        samples["bare_all"].append(seconds)
        samples["bare_fit"].append(result["fit_seconds"])
        samples["bare_acc"].append(result["test_accuracy"])
        samples["bare_first"].append(result["first_epoch_end"] - start)
    rows = []
    for label, a, b, goal in (
        (f"fit phase (5 epochs, {images:,} images)", "pipe_fit", "bare_fit", 1.05),
        ("whole process", "pipe_all", "bare_all", 1.25),
        ("start to first epoch end", "pipe_first", "bare_first", None),
        ("test accuracy, same data and seed", "pipe_acc", "bare_acc", None),
    ):
        rows.append(
            row(
                "overhead",
                label,
                median(samples[a]),
                median(samples[b]),
                goal,
                "pipeline",
                "bare Keras",
            )
        )
    return rows


LADDER = (  # (rung of bench/mnist_ladder.py, what it adds, the rung it is compared with)
    ("arrays", "fit step's model and split, NumPy arrays into fit", "bare"),
    ("0", "the same through the input path (tf.data)", "bare"),
    ("1", "+ op determinism", "0"),
    (
        "9",
        "+ reseeding, TerminateOnNaN, ReduceLROnPlateau, checkpoint, TensorBoard, "
        "backup, resumable EarlyStopping, MLflow epoch logger",
        "1",
    ),
    ("fit", "the fit step itself, every guarantee", "bare"),
    ("fit-nondeterministic", "the fit step, -P deterministic=false", "bare"),
)


def guarantees(
    work: Path, repeats: int, images: int = 60_000, epochs: int = 3, rungs: str = ""
) -> list[dict]:
    """What each guarantee of the fit step costs on the overhead's CNN, in its own process per
    rung (op determinism stays on once set), interleaved: wall and CPU seconds of the fit (on
    a shared machine the CPU seconds are the steadier); and the seconds spent inside each
    callback when all are on. `rungs`: a comma-separated subset of LADDER's."""
    from synthetic import write_npz

    ladder = [step for step in LADDER if not rungs or step[0] in rungs.split(",")]
    data = write_npz(work / "ladder.npz", n_train=images, n_test=images // 6, side=28)
    env, batch, seed = environment(work), 128, 42
    arguments = [str(data), str(epochs), str(batch), str(seed)]
    bare = [PYTHON, str(REPO / "bench" / "bare_mnist.py"), *arguments]
    samples: dict[str, list[float]] = {}
    inside: dict[str, list[float]] = {}

    def note(rung: str, out: str) -> dict:
        result = json.loads(out.strip().splitlines()[-1])
        samples.setdefault(rung, []).append(result["fit_seconds"])
        samples.setdefault(f"{rung} cpu", []).append(result["fit_cpu_seconds"])
        return result

    for _ in range(repeats):
        note("bare", run(bare, env, work)[1])
        for rung, _, _ in ladder:
            folder = work / f"ladder-{rung}"
            folder.mkdir()
            command = [PYTHON, str(REPO / "bench" / "mnist_ladder.py"), *arguments, rung]
            result = note(rung, run([*command, str(folder)], env, work)[1])
            subprocess.run(["rm", "-rf", str(folder)], check=True)
            for name, seconds in result["inside"].items():
                inside.setdefault(name, []).append(seconds)
            print(f"guarantees: {rung} {result['fit_seconds']:.1f} s", file=sys.stderr)
    label = f"{epochs} epochs, {images:,} images"
    rows = []
    for rung, what, base in ladder:
        goal = 1.05 if rung == "fit" else None
        for kind, key in (("fit wall s", rung), ("fit CPU s", f"{rung} cpu")):
            base_key = base if kind == "fit wall s" else f"{base} cpu"
            if base_key in samples:
                rows.append(
                    row(
                        "guarantees",
                        f"{what} ({kind}, {label})",
                        median(samples[key]),
                        median(samples[base_key]),
                        goal,
                        rung,
                        base,
                    )
                )
    rows += [
        row(
            "guarantees",
            f"inside {name} (all on; wall s)",
            median(seconds),
            median(samples["bare"]),
            None,
            f"{name}",
            "bare fit",
        )
        for name, seconds in inside.items()
    ]
    return rows


def tiny_table(work: Path, repeats: int) -> list[dict]:
    """Goals on iris, 100 epochs of a few milliseconds each, where the per-epoch work (input
    pipelines, logging, backups, callbacks) would dominate: fit phase <= 0.5x the bare Keras
    script (NumPy arrays into fit, as keras-io writes it), whole process <= 2x. `tabular`'s
    defaults, EarlyStopping off so that both fit every epoch; the bare script gets the same
    model. The time outside the fit is the imports, the tracking store, baselines, plots and
    model logging, against the bare script's imports and scoring."""
    import mlflow

    from pipelines.entry_points import ENTRY_POINTS

    env, epochs, seed = environment(work), 100, 42
    params = ENTRY_POINTS["tabular"].params(dataset="iris", epochs=epochs, patience=0, seed=seed)
    assert params.model == "dnn" and params.optimizer == "adam" and params.l1 == 0
    pipeline = [PYTHON, "-m", "pipelines", "tabular", "--dataset", "iris", "--epochs"]
    pipeline += [str(epochs), "--patience", "0", "--seed", str(seed), "--verbose", "0"]
    pipeline += ["--folds", "0"]  # one model, as the bare script trains
    bare = [PYTHON, str(REPO / "bench" / "bare_table.py"), "iris", str(epochs)]
    bare += [str(v) for v in (params.batch_size, seed, params.units, params.layers)]
    bare += [str(v) for v in (params.dropout, params.l2, params.learning_rate)]
    run(pipeline, env, work)  # warm the npy cache; not measured
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    client = mlflow.MlflowClient()
    samples: dict[str, list[float]] = {k: [] for k in ("pipe_fit", "bare_fit", "pipe", "bare")}
    for _ in range(repeats):
        samples["pipe"].append(run(pipeline, env, work)[0])
        latest = client.search_runs(
            [client.get_experiment_by_name("tabular").experiment_id],
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )[0]
        samples["pipe_fit"].append(latest.data.metrics["fit_seconds"])
        seconds, out = run(bare, env, work)
        samples["bare"].append(seconds)
        samples["bare_fit"].append(json.loads(out.strip().splitlines()[-1])["fit_seconds"])
    return [
        row(
            "tiny",
            f"fit phase, iris ({epochs} epochs of {params.batch_size}-row batches)",
            median(samples["pipe_fit"]),
            median(samples["bare_fit"]),
            0.5,
            "pipeline",
            "bare Keras",
        ),
        row(
            "tiny",
            "whole process, iris",
            median(samples["pipe"]),
            median(samples["bare"]),
            2.0,
            "pipeline",
            "bare Keras",
        ),
        row(
            "tiny",
            "outside the fit, iris (whole process less fit phase)",
            median([a - b for a, b in zip(samples["pipe"], samples["pipe_fit"], strict=True)]),
            median([a - b for a, b in zip(samples["bare"], samples["bare_fit"], strict=True)]),
            None,
            "pipeline",
            "bare Keras",
        ),
    ]


def startup(work: Path, repeats: int) -> list[dict]:
    env = environment(work)
    help_times = [
        run([PYTHON, "-m", "pipelines", "--help"], env, work)[0] for _ in range(max(5, repeats))
    ]
    check = (
        "import sys; from pipelines.cli import main; main(['--help']);"
        "print('tensorflow' in sys.modules)"
    )
    _, out = run([PYTHON, "-c", check], env, work)
    imported = out.strip().splitlines()[-1]
    return [
        {
            "section": "startup",
            "what": "python -m pipelines --help (s)",
            "a": median(help_times),
            "b": None,
            "ratio": None,
            "goal": "< 1 s",
            "ok": median(help_times) < 1 and imported == "False",
            "note": f"TensorFlow imported: {imported}",
        }
    ]


def cache(work: Path, repeats: int) -> list[dict]:
    """Goal >= 10x: a 50,000x32x32x3 set from .npy vs parsed from its archive."""
    from steps.data import cache as npy_cache
    from steps.data.sources import keras_sets

    from synthetic import write_cifar10_archive

    mirror = work / "upstream"  # the archive under its upstream name: KERAS_LESSONS_DATA_ORIGIN
    write_cifar10_archive(mirror, n_train=50_000, n_test=10_000)
    os.environ.update(
        KERAS_LESSONS_DATA_ORIGIN=str(mirror),
        KERAS_HOME=str(work / "keras"),
        KERAS_LESSONS_CACHE=str(work / "cache"),
    )
    (work / "keras").mkdir(exist_ok=True)
    source = keras_sets.cifar10()
    npy_cache.load_cached(source)  # builds the entry; extraction happens once here too
    archive_times, npy_times = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        dataset = source.load()
        # Read every byte (mmap pages included) with the cheapest full pass: a uint64 sum would
        # add ~46 ms of arithmetic to both sides and measure numpy, not loading.
        _ = dataset.x_train.max()
        archive_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        dataset, status = npy_cache.load_cached(source)
        _ = dataset.x_train.max()
        npy_times.append(time.perf_counter() - started)
        assert status == "hit"
    return [
        row(
            "cache",
            "CIFAR-10-sized load, every byte read (s)",
            median(npy_times),
            median(archive_times),
            "10x faster",
            "npy cache (mmap; CRC-32 when the stat stamp changed)",
            "Keras-format archive (unpickle)",
            invert=True,
        )
    ]


def checks(work: Path, repeats: int) -> list[dict]:
    """Goal < 0.2 s: every check a CIFAR-10-sized set meets (steps/data/checks.py on load, the
    split's classes, the scale rule with -P scaler=none), as uint8 pixels and as float32."""
    import numpy as np

    from steps.data import checks as rules
    from steps.data import prepare
    from steps.data.dataset import Dataset

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(50_000, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, size=50_000)
    rows = []
    for x in (pixels, pixels.astype(np.float32)):
        dataset = Dataset(
            "cifar_like",
            "classification",
            x,
            labels,
            class_names=tuple("0123456789"),
            pixel_max=255.0,
        )
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            rules.check_dataset(dataset, "cifar_like")
            rules.split_problem(labels[:40_000], {"test": labels[40_000:]}, dataset.class_names)
            prepare.input_scale_problem(x, prepare.fit_scaling("none", x, None), None)
            times.append(time.perf_counter() - started)
        what = f"checks of a 50,000x32x32x3 {x.dtype} set (s)"
        goal = 1.0 if x.dtype == np.uint8 else None  # float32 pixels: two scans, measured only
        rows.append(row("checks", what, median(times), 0.2, goal, "the checks", "0.2 s"))
    return rows


def logging_cost(work: Path, repeats: int) -> list[dict]:
    """Per-epoch cost of each way of logging, on an epoch of one tiny batch."""
    import keras
    import mlflow
    import numpy as np

    from steps.track.tracker import epoch_logger

    mlflow.set_tracking_uri(f"sqlite:///{work / 'logging.db'}")
    mlflow.set_experiment("logging")
    x = np.random.default_rng(0).normal(size=(32, 8)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    class SyncLogger(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            mlflow.log_metrics(dict(logs or {}), step=epoch, synchronous=True)

    variants = {
        "none": lambda: [],
        "mlflow sync": lambda: [SyncLogger()],
        "mlflow async (MLflow's MlflowCallback)": lambda: [mlflow.keras.MlflowCallback()],
        "steps.track.tracker.epoch_logger (default)": lambda: [epoch_logger()],
        "tensorboard": lambda: [keras.callbacks.TensorBoard(str(work / "tb0"))],
        "tensorboard + histograms": lambda: [
            keras.callbacks.TensorBoard(str(work / "tb1"), histogram_freq=1)
        ],
    }
    epochs, per_epoch = 40, {name: [] for name in variants}
    for _ in range(repeats):
        for name, callbacks in variants.items():
            with mlflow.start_run():
                started = time.perf_counter()
                model.fit(x, y, epochs=epochs, batch_size=32, verbose=0, callbacks=callbacks())
                mlflow.flush_async_logging()
                per_epoch[name].append((time.perf_counter() - started) / epochs * 1000)
    base = median(per_epoch["none"])
    return [
        {
            "section": "logging",
            "what": f"{name}: ms per epoch (extra over none)",
            "a": median(times),
            "b": base,
            "ratio": median(times) - base,
            "goal": None,
            "ok": None,
            "note": "ratio column = extra ms per epoch",
        }
        for name, times in per_epoch.items()
    ]


def tests(work: Path, repeats: int) -> list[dict]:
    started = time.perf_counter()
    subprocess.run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=REPO, check=True)
    seconds = time.perf_counter() - started
    return [
        {
            "section": "tests",
            "what": "pytest (default selection) wall s",
            "a": seconds,
            "b": None,
            "ratio": None,
            "goal": "< 480 s",
            "ok": seconds < 480,
            "note": "",
        }
    ]


# The revision whose search `search` measures against: the last one that fed NumPy arrays to fit.
BASELINE = "e9d3ac5"


def search(work: Path, repeats: int, baseline: str = BASELINE) -> list[dict]:
    """Goal >= 3x faster: `tune` on breast_cancer, 20 trials, whole process (the best
    configuration retrained included), this tree against `baseline`'s, interleaved; both log
    the same 20 trial runs, each one fit (this tree's default k-fold trials fit 5 times)."""
    import mlflow

    before = work / "baseline"
    git = ["git", "-C", str(REPO)]
    subprocess.run([*git, "worktree", "add", "-q", "--detach", str(before), baseline], check=True)
    trials, seconds = 20, {"now": [], "before": []}
    try:
        for repeat in range(repeats):
            for label, tree in (("before", before), ("now", REPO)):
                env = environment(work) | {"PYTHONPATH": str(tree)}
                env["MLFLOW_EXPERIMENT_NAME"] = experiment = f"search-{label}-{repeat}"
                command = [PYTHON, "-m", "pipelines", "tune", "--dataset", "breast_cancer"]
                # One study name in a storage of each run's own: Hyperband puts a trial in a
                # bracket by hashing the study's name, so both trees prune the same trials.
                command += ["--n_trials", str(trials), "--study_name", "search"]
                if tree == REPO:  # one fit a trial, as before; the k-fold default costs ~5x
                    command += ["--folds", "0"]
                command += ["--storage", f"sqlite:///{work / f'optuna-{experiment}.db'}"]
                seconds[label].append(run(command, env, tree)[0])
                mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
                logged = mlflow.search_runs(
                    experiment_names=[experiment], filter_string="tags.trial != ''"
                )
                assert len(logged) == trials, f"{label}: {len(logged)} trial runs logged"
    finally:
        subprocess.run([*git, "worktree", "remove", "--force", str(before)], check=False)
    return [
        row(
            "search",
            f"tune, breast_cancer, {trials} trials, whole process (s)",
            median(seconds["now"]),
            median(seconds["before"]),
            "3x faster",
            "this tree",
            f"revision {baseline}",
            invert=True,
        )
    ]


# Lessons whose speed differs by backend: (what, entry point and parameters).
WORKLOADS = (
    ("tabular, iris, 100 epochs", ["tabular", "--dataset", "iris", "--epochs", "100"]),
    ("tabular, breast_cancer, one fit", ["tabular", "--dataset", "breast_cancer"]),
    ("cnn_mnist, 10,000 images, 2 epochs", ["cnn_mnist", "--epochs", "2"]),
    ("rnn, defaults", ["rnn"]),
)


def backend_speeds(work: Path, repeats: int) -> list[dict]:
    """Fit seconds of the same lessons on TensorFlow (a) and JAX (b), interleaved: the
    measurement behind TensorFlow staying the default backend."""
    import mlflow

    from synthetic import write_npz

    images = write_npz(work / "mnist10k.npz", n_train=10_000, n_test=2_000, side=28)
    env = environment(work)
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    rows = []
    for what, command in WORKLOADS:
        if command[0] == "cnn_mnist":
            command = [*command, "--dataset", f"npz:{images}"]
        if command[0] == "tabular":
            command = [*command, "--folds", "0"]
        fits: dict[str, list[float]] = {"tensorflow": [], "jax": []}
        for repeat in range(repeats):
            for backend in fits:
                name = f"backends-{command[0]}-{backend}-{repeat}-{len(rows)}"
                extra = ["--backend", backend, "--patience", "0", "--verbose", "0"]
                run(
                    [PYTHON, "-m", "pipelines", *command, *extra],
                    env | {"MLFLOW_EXPERIMENT_NAME": name},
                    work,
                )
                logged = mlflow.search_runs(experiment_names=[name])
                fits[backend].append(float(logged["metrics.fit_seconds"].iloc[0]))
        rows.append(
            row(
                "backends",
                f"{what}: fit (s)",
                median(fits["tensorflow"]),
                median(fits["jax"]),
                None,
                "TensorFlow",
                "JAX",
            )
        )
    return rows


def row(section, what, a, b, goal, a_name, b_name, invert=False) -> dict:
    ratio = (b / a) if invert else (a / b)
    floor = float(str(goal).split("x")[0]) if invert else None  # "10x faster": b/a >= 10
    ok = None if goal is None else (ratio >= floor if invert else ratio <= goal)
    return {
        "section": section,
        "what": what,
        "a": a,
        "b": b,
        "ratio": ratio,
        "goal": goal if not invert else f">= {goal}",
        "ok": ok,
        "note": f"a={a_name}, b={b_name}",
    }


SECTIONS = {
    "overhead": overhead,
    "guarantees": guarantees,
    "tiny": tiny_table,
    "startup": startup,
    "cache": cache,
    "checks": checks,
    "logging": logging_cost,
    "search": search,
    "backends": backend_speeds,
    "tests": tests,
}


def markdown(rows: list[dict], header: str) -> str:
    lines = [
        header,
        "",
        "| section | what | a | b | ratio | goal | ok | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    fmt = lambda v: "" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))  # noqa: E731
    for r in rows:
        lines.append(
            "| "
            + " | ".join(
                fmt(r[k]) for k in ("section", "what", "a", "b", "ratio", "goal", "ok", "note")
            )
            + " |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sections", default="overhead,tiny,startup,cache,checks,logging,search,backends"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mnist-rows", type=int, default=60_000, help="overhead's data size")
    parser.add_argument("--baseline", default=BASELINE, help="the revision `search` compares with")
    parser.add_argument("--ladder-epochs", type=int, default=3, help="guarantees' epochs")
    parser.add_argument(
        "--ladder-rungs", default="", help="guarantees' rungs, comma-separated (default: all)"
    )
    parser.add_argument(
        "--docs", action="store_true", help="also write the table into docs/performance.md"
    )
    args = parser.parse_args()
    machine = (
        f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    rows = earlier_rows(args.sections.split(","))
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        for name in args.sections.split(","):
            started = time.perf_counter()
            extra = {
                "overhead": {"images": args.mnist_rows},
                "guarantees": {
                    "images": args.mnist_rows,
                    "epochs": args.ladder_epochs,
                    "rungs": args.ladder_rungs,
                },
                "search": {"baseline": args.baseline},
            }.get(name, {})
            rows += SECTIONS[name](Path(folder), args.repeats, **extra)
            print(f"{name}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
            text = write_results(rows, args.repeats, machine)  # each section kept as it ends
    print(text)
    if args.docs:
        update_page(PAGE, text)
    return 0


def earlier_rows(sections: list[str]) -> list[dict]:
    """The last results of the sections not run this time, so the table stays whole."""
    try:
        rows = json.loads((RESULTS / "bench.json").read_text())["rows"]
    except (OSError, ValueError, KeyError):
        return []
    return [r for r in rows if r["section"] not in sections and r["section"] in SECTIONS]


def write_results(rows: list[dict], repeats: int, machine: str) -> str:
    RESULTS.mkdir(exist_ok=True)
    header = f"# make bench: medians of {repeats} interleaved repeats on {machine}"
    rows = sorted(rows, key=lambda r: list(SECTIONS).index(r["section"]))
    text = markdown(rows, header)
    (RESULTS / "bench.md").write_text(text)
    (RESULTS / "bench.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=1))
    return text


# The page whose speed table is the last `make bench`'s, between these two markers.
PAGE = REPO / "docs" / "performance.md"
START, END = "<!-- make bench: start -->", "<!-- make bench: end -->"


def update_page(page: Path, table: str) -> None:
    """Put bench.md between the page's two markers, so its numbers are the last run's."""
    text = page.read_text()
    start, end = text.index(START) + len(START), text.index(END)
    table = table.removeprefix("# ")  # the page's own headings stay its outline
    page.write_text(f"{text[:start]}\n{table}{text[end:]}")


if __name__ == "__main__":
    raise SystemExit(main())
