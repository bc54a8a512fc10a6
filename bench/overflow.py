"""How large may inputs be before float32 training overflows? The experiment behind the
limits of `-P scaler=none` in steps/data/checks.py.

    .venv/bin/python bench/overflow.py [--exponents 6,7,...] [--optimizers adam,sgd]

The tabular lesson's default DNN (2 x 64 relu, Adam at 0.001, batch 32) trains 5 epochs on a
real table rescaled so that its largest |x| is exactly 10**e, with `-P scaler=none`:
breast_cancer (a classifier) and diabetes with its target rescaled to a spread (std) of 1, 77
(its own) and 10,000. A line per run: whether every loss and weight stayed finite.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def trial(name: str, exponent: int, target_std: float, optimizer: str) -> tuple[bool, float]:
    import keras
    from sklearn import datasets as sk

    from pipelines.entry_points import ENTRY_POINTS
    from steps.data.dataset import Dataset
    from steps.data.prepare import prepare
    from steps.model import build
    from steps.train import fit

    keras.backend.clear_session()
    bunch = sk.load_diabetes() if name == "diabetes" else sk.load_breast_cancer()
    z = (bunch.data - bunch.data.mean(0)) / bunch.data.std(0)
    x = z / np.abs(z).max() * 10.0**exponent
    if name == "diabetes":
        y = (bunch.target - bunch.target.mean()) / bunch.target.std() * target_std
        dataset = Dataset(name, "regression", x, y)
    else:
        dataset = Dataset(name, "classification", x, bunch.target, class_names=("0", "1"))
    params = ENTRY_POINTS["tabular"].params(
        dataset=name, scaler="none", epochs=5, verbose=0, patience=0, optimizer=optimizer
    )
    recipe = params.recipe()
    fit.seed_everything(0)
    prepared = prepare(dataset, recipe.prepare)
    model = build.build(recipe.family, prepared, recipe.model)
    result = fit.fit(model, build.head_for(prepared), prepared.data, recipe.fit)
    weights = all(np.isfinite(w).all() for w in model.get_weights())
    losses = result.history["loss"]
    return all(map(math.isfinite, losses)) and weights, losses[-1]


def main() -> int:
    from steps.data import checks

    # Measure what the limits guard against: the rule itself must not refuse first.
    checks.CLASSIFIER_INPUT_LIMIT = checks.REGRESSION_INPUT_LIMIT = math.inf
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exponents", default="6,7,8,9,10,11,12,15,18,19,20,21,25")
    parser.add_argument("--optimizers", default="adam")
    args = parser.parse_args()
    runs = [("breast_cancer", None), ("diabetes", 1.0), ("diabetes", 77.0), ("diabetes", 1e4)]
    for optimizer in args.optimizers.split(","):
        for name, spread in runs:
            for exponent in map(int, args.exponents.split(",")):
                ok, loss = trial(name, exponent, spread or 1.0, optimizer)
                target = f" target std {spread:g}" if spread else ""
                state = "finite" if ok else "OVERFLOW"
                print(
                    f"{optimizer} {name}{target} max|x|=1e{exponent}: {state} "
                    f"(last loss {loss:.3g})",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
