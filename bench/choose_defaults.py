"""Choose the `tabular` and `image_classify` defaults by K-fold cross-validation.

Only the training rows take part: for each seed, `steps.data.prepare.split` holds out the same
20% test rows the pipeline would, and the remaining 80% are cut into K folds. Each fold is
fitted as the pipeline fits: a `Dataset` of the fold's training part with the held-out fold
as its test split goes through `steps.data.prepare.prepare` (scaler fitted on the fold's
training rows, a validation share cut from them, stratified), `steps.model.build.build`,
then the pipeline's own fit: `steps.train.fit.fit` (per-epoch seeding, EarlyStopping on
val_loss with the best weights restored, ReduceLROnPlateau with its floor and cooldown where
the candidate turns it on), or where the candidate asks for it the k-fold fit of every
training row of the fold (`steps.train.folds.fit_folds`: folds nested in the fold). The
held-out fold is scored with `steps.train.evaluate.test_metrics`.

`tables`: one set of defaults for every table (iris, wine, breast_cancer: accuracy;
diabetes: R2), the dnn family. `folds`: the plain fit of those defaults against the k-fold
fits of every training row, on the same tables. `cnn`: the cnn family on digits' images
(accuracy); digits is the only image set bundled, so its candidates stay near the standard
small CNN.

The search has two rounds. Round 1 fits every candidate (the base, then one or two settings
changed at a time) on the `--seeds` splits. Each candidate's CV mean on each data set is
ranked among the round's candidates and the ranks are averaged. Round 2 refits, on the
`--confirm-seeds` splits, the base, round 1's `--top` best, and greedy combinations of the
changes that ranked above the base (the best two, three...); its best mean rank is chosen
(ties: the higher mean score).

The test rows are never read. bench/tabular_scores.py reports them with the chosen
defaults. Keras runs on JAX unless KERAS_BACKEND says otherwise: these small models train
an epoch about 15 times faster there than on TensorFlow on a CPU. Fold results are kept in
bench-results/choose_defaults.jsonl, so a rerun continues where one stopped (delete it to
start over); the table is written to bench-results/choose_defaults.md.

    PYTHONPATH=. .venv/bin/python bench/choose_defaults.py [--families tables,cnn]
        [--folds 3] [--seeds 42] [--confirm-seeds 42,1] [--top 4]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

RESULTS = Path(__file__).resolve().parents[1] / "bench-results"
TABLES = ("iris", "wine", "breast_cancer", "diabetes")

# What every table candidate starts from: the `tabular` defaults before this search.
TABLE_BASE = {
    "model": "dnn",
    "units": 32,
    "layers": 2,
    "dropout": 0.2,
    "l2": 0.0001,
    "learning_rate": 0.001,
    "batch_size": 16,
    "epochs": 300,
    "patience": 30,
    "reduce_lr_patience": 0,
}
# Round 1 varies one or two settings of the base at a time around sensible values; round 2
# combines the changes that round 1 found better than the base on its mean rank.
TABLE_CANDIDATES = {
    "base": {},
    "units64": {"units": 64},
    "units128": {"units": 128},
    "layers1": {"layers": 1},
    "layers3": {"layers": 3},
    "dropout0": {"dropout": 0.0},
    "dropout0.3": {"dropout": 0.3},
    "l2_0": {"l2": 0.0},
    "l2_1e-3": {"l2": 0.001},
    "lr3e-3": {"learning_rate": 0.003},
    "lr1e-2": {"learning_rate": 0.01},
    "batch32": {"batch_size": 32},
    "patience50": {"patience": 50, "epochs": 500},
    "patience20": {"patience": 20},
    "rlr5": {"reduce_lr_patience": 5, "patience": 20},
    "rlr10": {"reduce_lr_patience": 10},
}

# The digits CNN: image_classify's defaults before this search (8x8 images, pixels / 16).
CNN_BASE = {
    "model": "cnn",
    "filters": "32,64",
    "pool_last": True,
    "layers": 1,
    "units": 128,
    "dropout": 0.2,
    "learning_rate": 0.001,
    "batch_size": 32,
    "epochs": 60,
    "patience": 10,
    "reduce_lr_patience": 0,
    "val_fraction": 0.1,
}
CNN_CANDIDATES = {
    "base": {},
    "dropout0.5": {"dropout": 0.5},
    "dropout0.3": {"dropout": 0.3},
    "units64": {"units": 64},
    "filters16,32": {"filters": "16,32"},
    "layers0": {"layers": 0, "dropout": 0.5},  # keras-io's mnist_convnet head
    "lr3e-3": {"learning_rate": 0.003},
    "batch64": {"batch_size": 64},
    "patience20": {"patience": 20, "epochs": 100},
    "rlr5": {"reduce_lr_patience": 5, "patience": 15, "epochs": 100},
}

# The small-data fit (steps.train.folds) against the plain fit, from the `tabular` defaults
# the search above chose: one fit early-stopped on a 20% validation share (base), or a
# k-fold fit of every training row (its fold models averaged, or a refit on every row).
FOLDS_BASE = {
    **TABLE_BASE,
    "units": 128,
    "reduce_lr_patience": 10,
    "folds": 0,
}
FOLDS_CANDIDATES = {
    "base": {},
    "kfold5": {"folds": 5},
    "kfold5_refit": {"folds": 5, "fold_mode": "refit"},
}

FAMILIES = {
    "tables": ("tabular", TABLE_BASE, TABLE_CANDIDATES, TABLES),
    "folds": ("tabular", FOLDS_BASE, FOLDS_CANDIDATES, TABLES),
    "cnn": ("image_classify", CNN_BASE, CNN_CANDIDATES, ("digits",)),
}


def training_rows(name: str, seed: int):
    """The data set and its rows left for training by the pipeline's own test split."""
    from steps.data import cache, catalog
    from steps.data.prepare import split

    data, _ = cache.load_cached(catalog.resolve(name))
    parts = split(data, val_fraction=0.0, test_fraction=0.2, seed=seed)
    return data, parts.x_train, parts.y_train


def folds(task: str, x, y, k: int, seed: int):
    from sklearn.model_selection import KFold, StratifiedKFold

    if task == "classification":
        return StratifiedKFold(k, shuffle=True, random_state=seed).split(x, y)
    return KFold(k, shuffle=True, random_state=seed).split(x)


def fit_fold(entry: str, settings: dict, data, x, y, train, held, seed: int) -> dict:
    """One fold fitted as the pipeline fits it; the held-out fold's score and epochs."""
    import keras

    from pipelines.entry_points import params_for
    from steps.data.dataset import Dataset
    from steps.data.prepare import prepare
    from steps.model import build
    from steps.train import evaluate, fit, folds

    params = params_for(entry, **settings, seed=seed, verbose=0)
    recipe = params.recipe()
    fold = Dataset(
        name=data.name,
        task=data.task,
        x_train=x[train],
        y_train=y[train],
        x_test=x[held],
        y_test=y[held],
        class_names=data.class_names,
        feature_names=data.feature_names,
        pixel_max=data.pixel_max,
    )
    started = time.perf_counter()
    fit.seed_everything(seed)
    prepared = prepare(fold, recipe.prepare)
    head = build.head_for(prepared)
    options = recipe.fit
    split = prepared.data
    if folds.applies(options, split):  # the pipeline's k-fold fit of every training row

        def member(name: str):
            return build.build(recipe.family, prepared, recipe.model, name=name)

        model, result = folds.fit_folds(member, head, split, options, name=recipe.family)
        epochs = result.epochs_trained
    else:
        model = build.build(recipe.family, prepared, recipe.model)
        # The pipelines' own fit and callbacks, so defaults are chosen under what they get.
        epochs = fit.fit(model, head, split, options).epochs_run
    metrics = evaluate.test_metrics(model, prepared, evaluate.predict(model, split.x_test))
    score = metrics.get("test_accuracy", metrics.get("test_r2"))
    keras.backend.clear_session()
    return {
        "score": float(score),
        "epochs": epochs,
        "seconds": time.perf_counter() - started,
    }


def load_done(path: Path) -> dict:
    done = {}
    if path.exists():
        for line in path.read_text().splitlines():
            row = json.loads(line)
            done[row["key"]] = row
    return done


def describe(base: dict, settings: dict) -> str:
    changed = {k: v for k, v in settings.items() if base.get(k) != v}
    return ", ".join(f"{k}={v}" for k, v in changed.items()) or "(base)"


def mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.3f} ± {sd:.3f}"


def candidate_scores(family: str, settings: dict, k: int, seeds: list[int], done: dict, log):
    """{data set: the held-out score of each fold and seed}, and the epochs each fit ran."""
    entry, _, _, data_sets = FAMILIES[family]
    scores: dict[str, list[float]] = {}
    epochs: list[int] = []
    for data_set in data_sets:
        for seed in seeds:
            data, x, y = training_rows(data_set, seed)
            for i, (train, held) in enumerate(folds(data.task, x, y, k, seed)):
                key = json.dumps([family, settings, data_set, seed, k, i], sort_keys=True)
                if key not in done:
                    done[key] = {
                        "key": key,
                        **fit_fold(entry, settings, data, x, y, train, held, seed),
                    }
                    with log.open("a") as handle:
                        handle.write(json.dumps(done[key]) + "\n")
                scores.setdefault(data_set, []).append(done[key]["score"])
                epochs.append(done[key]["epochs"])
    return scores, epochs


def evaluate_all(family, candidates, k, seeds, done, log) -> dict:
    rows = {}
    for name, changes in candidates.items():
        started = time.perf_counter()
        settings = {**FAMILIES[family][1], **changes}
        rows[name] = candidate_scores(family, settings, k, seeds, done, log)
        scores, epochs = rows[name]
        means = " ".join(f"{d}={statistics.fmean(s):.3f}" for d, s in scores.items())
        print(
            f"{family} seeds {','.join(map(str, seeds))} {name:<28} {means}  "
            f"epochs~{statistics.median(epochs):.0f}  {time.perf_counter() - started:.0f}s",
            flush=True,
        )
    return rows


def ranking(rows: dict) -> list[tuple[str, float, float]]:
    """(name, mean rank over the data sets, mean score), best first; ties share a rank."""
    means = {
        name: {d: statistics.fmean(s) for d, s in scores.items()}
        for name, (scores, _) in rows.items()
    }
    data_sets = next(iter(means.values())).keys()
    ranks = dict.fromkeys(rows, 0.0)
    for data_set in data_sets:
        values = [means[n][data_set] for n in rows]
        for name in rows:
            better = sum(v > means[name][data_set] for v in values)
            equal = sum(v == means[name][data_set] for v in values)
            ranks[name] += (better + (equal + 1) / 2) / len(data_sets)
    overall = {name: statistics.fmean(means[name].values()) for name in rows}
    return sorted(((n, ranks[n], overall[n]) for n in rows), key=lambda r: (r[1], -r[2]))


def combined(candidates: dict, order: list[str], count: int) -> dict:
    """The changes of the first `count` candidates of `order`, a setting taken from the first
    candidate that changes it."""
    merged: dict = {}
    for name in order[:count]:
        for key, value in candidates[name].items():
            merged.setdefault(key, value)
    return merged


def search(family: str, k: int, seeds: list[int], confirm: list[int], top: int, log: Path):
    """Round 1: every candidate on `seeds`. Round 2, on `confirm`: the base, round 1's `top`
    best, and greedy combinations of the round-1 changes that ranked above the base. The
    best mean rank of round 2 is chosen. Returns the chosen settings and the report lines."""
    _, base, candidates, data_sets = FAMILIES[family]
    done = load_done(log)
    first = evaluate_all(family, candidates, k, seeds, done, log)
    order = [name for name, _, _ in ranking(first)]
    better = order[: order.index("base")]
    finalists = {name: candidates[name] for name in ["base", *order[:top]]}
    for count in range(2, min(len(better), top) + 1):
        changes = combined(candidates, better, count)
        if changes not in finalists.values():  # a change another one already made
            finalists["+".join(better[:count])] = changes
    second = evaluate_all(family, finalists, k, confirm, done, log)
    chosen = ranking(second)[0][0]
    lines = [f"### Round 1: seeds {','.join(map(str, seeds))}", ""]
    lines += report(first, {n: candidates[n] for n in first}, base, data_sets, "")
    lines += ["", f"### Round 2: seeds {','.join(map(str, confirm))}", ""]
    lines += report(second, finalists, base, data_sets, chosen)
    return {**base, **finalists[chosen]}, lines


def report(rows, changes, base, data_sets, chosen) -> list[str]:
    head = ["candidate", "changes", *data_sets, "mean score", "mean rank", "median epochs"]
    lines = [f"| {' | '.join(head)} |", f"|{'---|' * len(head)}"]
    for name, rank, overall in ranking(rows):
        scores, epochs = rows[name]
        cells = [
            f"{name} **chosen**" if name == chosen else name,
            describe(base, {**base, **changes[name]}),
            *(mean_sd(scores[d]) for d in data_sets),
            f"{overall:.4f}",
            f"{rank:.2f}",
            f"{statistics.median(epochs):.0f}",
        ]
        lines.append(f"| {' | '.join(cells)} |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default="tables,cnn", help="tables, folds, cnn")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--seeds", default="42", help="round 1's outer test splits")
    parser.add_argument("--confirm-seeds", default="42,1", help="round 2's outer test splits")
    parser.add_argument("--top", type=int, default=4, help="round 1's best kept for round 2")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    confirm = [int(s) for s in args.confirm_seeds.split(",")]
    RESULTS.mkdir(exist_ok=True)
    log = RESULTS / "choose_defaults.jsonl"
    import keras

    lines = [
        "# Defaults chosen by cross-validation (bench/choose_defaults.py)",
        "",
        f"{args.folds}-fold CV on the training rows left by each seed's test split; the test "
        f"rows unread. Backend: {keras.backend.backend()}. Cells: CV mean ± sd over folds "
        "and seeds (accuracy; R2 for diabetes). Mean rank: each data set's rank among the "
        "round's candidates, averaged.",
    ]
    started = time.perf_counter()
    for family in args.families.split(","):
        base = FAMILIES[family][1]
        chosen, table = search(family, args.folds, seeds, confirm, args.top, log)
        lines += ["", f"## {family}", "", f"Base: {', '.join(f'{k}={v}' for k, v in base.items())}"]
        lines += ["", *table, "", f"Chosen: {describe({}, chosen)}"]
        print("\n".join(["", *table, "", f"chosen: {describe({}, chosen)}", ""]), flush=True)
    minutes = (time.perf_counter() - started) / 60
    fitting = sum(row["seconds"] for row in load_done(log).values()) / 60
    lines += ["", f"Wall time: {minutes:.1f} min now; {fitting:.1f} min of fits in {log.name}"]
    (RESULTS / "choose_defaults.md").write_text("\n".join(lines) + "\n")
    print(f"wall time {minutes:.1f} min; written to {RESULTS / 'choose_defaults.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
