"""The generated toy data of lessons 01 (linear), 12 (sequences) and 17-27, 62 (series)."""

from __future__ import annotations

import numpy as np

from steps.data.dataset import Dataset, Source

LINEAR_SIZE, LINEAR_SEED = 100, 0


def linear() -> Source:
    """Lesson 01's toy: y = 2x + 1 plus a little noise, x = 1..100."""

    def load() -> Dataset:
        x = np.arange(1, LINEAR_SIZE + 1, dtype=np.float32).reshape(-1, 1)
        noise = np.random.default_rng(LINEAR_SEED).normal(0.0, 1.0, size=LINEAR_SIZE)
        y = (2.0 * x[:, 0] + 1.0 + noise).astype(np.float32)
        return Dataset(name="linear", task="regression", x_train=x, y_train=y, feature_names=("x",))

    return Source(name="linear", key=f"n{LINEAR_SIZE}-seed{LINEAR_SEED}-2x+1", load=load)


def sequences() -> Source:
    """Lesson 12's toy: aligned series x1 = 1..100, x2 = 301..400, x3 = 101..200, and three
    targets linear in them: y1 = x1 + x2 + x3, y2 = 2*x3 - x2 (= x1 - 100), y3 = x1 + 500."""

    def load() -> Dataset:
        x1 = np.arange(1, 101, dtype=np.float32)
        x = np.stack([x1, x1 + 300, x1 + 100], axis=1)
        y = np.stack([x.sum(axis=1), 2 * x[:, 2] - x[:, 1], x1 + 500], axis=1)
        names = ("x1", "x2", "x3")
        return Dataset(
            name="sequences", task="regression", x_train=x, y_train=y, feature_names=names
        )

    return Source(name="sequences", key="x1x2x3-y1y2y3-v1", load=load)


SERIES_SIZE, SERIES_SEED, SERIES_PERIOD = 500, 0, 24


def series() -> Source:
    """Lessons 17-27 and 62's toy time series: y(t) = sin(2 pi t / 24) + 0.5 driver(t - 1) plus
    a little noise, beside the columns `driver` (random, seeded) and `season` (cos 2 pi t / 24).
    y's own past predicts its wave; only the driver column (`-P features=2`) predicts the rest."""

    def load() -> Dataset:
        t = np.arange(SERIES_SIZE)
        rng = np.random.default_rng(SERIES_SEED)
        driver = rng.normal(0.0, 1.0, size=SERIES_SIZE)
        wave = 2 * np.pi * t / SERIES_PERIOD
        y = np.sin(wave) + 0.5 * np.concatenate([[0.0], driver[:-1]])
        y += rng.normal(0.0, 0.05, size=SERIES_SIZE)
        return Dataset(
            name="series",
            task="regression",
            x_train=np.column_stack([driver, np.cos(wave)]).astype(np.float32),
            y_train=y.astype(np.float32),
            feature_names=("driver", "season"),
        )

    key = f"n{SERIES_SIZE}-seed{SERIES_SEED}-sin{SERIES_PERIOD}+driver"
    return Source(name="series", key=key, load=load)
