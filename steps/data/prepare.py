"""Prepare step: split, fit the scaler on train only (lesson 34), encode the labels.

The fitted scaling is kept as numbers in `Preprocessing`; the build step turns it into the
model's first layer, so the trained (and logged) model takes raw samples and needs no
separate scaler file to be reused.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from steps.data import checks
from steps.data.dataset import Dataset
from steps.data.options import PrepareOptions, TableOptions
from steps.errors import UserError


@dataclass(frozen=True)
class Split:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@dataclass(frozen=True)
class Affine:
    """x' = (x - offset) / scale; scalars, or one value per feature of a sample."""

    offset: np.ndarray
    scale: np.ndarray

    def apply(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.offset) / self.scale).astype(np.float32)

    def invert(self, x: np.ndarray) -> np.ndarray:
        return (x * self.scale + self.offset).astype(np.float32)

    @property
    def is_identity(self) -> bool:
        return bool(np.all(self.offset == 0) and np.all(self.scale == 1))


IDENTITY = Affine(np.float32(0.0), np.float32(1.0))


@dataclass(frozen=True)
class Preprocessing:
    """What the model does to a raw sample before its first trained layer."""

    sample_shape: tuple[int, ...]
    x_scaling: Affine
    y_scaling: Affine  # regression targets are learnt standardized, predicted in real units


@dataclass(frozen=True)
class Prepared:
    task: str
    class_names: tuple[str, ...]
    one_hot: bool
    data: Split  # raw float32 samples, encoded labels
    preprocessing: Preprocessing
    # A table read from a file: its fitted front (steps/data/table_front.py) and the test
    # rows as the file had them, in x_test's order: what the logged model takes.
    front: object | None = None
    raw_test: object | None = None


def split(dataset: Dataset, *, val_fraction: float, test_fraction: float, seed: int) -> Split:
    """Keep the data set's own test split when it has one; carve validation from train."""
    from sklearn.model_selection import train_test_split

    def cut(x, y, fraction):
        stratify = y if dataset.task == "classification" else None
        try:
            return train_test_split(x, y, test_size=fraction, random_state=seed, stratify=stratify)
        except ValueError:  # a class too small to stratify (tiny data): plain shuffle
            pass
        try:
            return train_test_split(x, y, test_size=fraction, random_state=seed)
        except ValueError:
            rows = len(dataset.x_train)
            raise UserError(f"{dataset.name} has {rows} rows: too few to split") from None

    x, y = np.asarray(dataset.x_train), np.asarray(dataset.y_train)
    if dataset.x_test is None:
        x, x_test, y, y_test = cut(x, y, test_fraction)
    else:
        x_test, y_test = np.asarray(dataset.x_test), np.asarray(dataset.y_test)
    if val_fraction > 0:
        x_train, x_val, y_train, y_val = cut(x, y, val_fraction)
    else:
        x_train, y_train, x_val, y_val = x, y, x[:0], y[:0]
    if len(x_train) == 0 or len(x_test) == 0:
        raise UserError(f"{dataset.name} has {len(dataset.x_train)} rows: too few to split")
    if dataset.task == "classification":
        held_out = {"validation": y_val, "test": y_test}
        checks.refuse(dataset.name, checks.split_problem(y_train, held_out, dataset.class_names))
    return Split(x_train, y_train, x_val, y_val, x_test, y_test)


def row_split(dataset: Dataset, options: PrepareOptions | TableOptions) -> Split:
    """Which rows `split` puts where: the same split, run on row numbers instead of features
    (it looks only at the row count and the labels)."""
    numbered = replace(dataset, x_train=np.arange(len(dataset.x_train)))
    return split(
        numbered,
        val_fraction=options.val_fraction,
        test_fraction=options.test_fraction,
        seed=options.seed,
    )


def fit_scaling(kind: str, x_train: np.ndarray, pixel_max: float | None) -> Affine:
    """Fit on the training rows only; 'auto' is pixel/max for images, standard otherwise.
    `kind` is one of SCALERS, checked where the parameters are read (another: KeyError)."""
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    if kind == "none":
        return IDENTITY
    if kind == "auto" and pixel_max is not None:
        return Affine(np.float32(0.0), np.float32(pixel_max))
    if kind == "auto":
        kind = "standard"
    flat = x_train.reshape(len(x_train), -1).astype(np.float64)
    shape = x_train.shape[1:]
    fitted = {"standard": StandardScaler, "minmax": MinMaxScaler}[kind]().fit(flat)
    if kind == "standard":
        return Affine(fitted.mean_.reshape(shape), fitted.scale_.reshape(shape))
    # minmax: x * scale_ + min_  ==  (x + min_/scale_) / (1/scale_)
    return Affine((-fitted.min_ / fitted.scale_).reshape(shape), (1 / fitted.scale_).reshape(shape))


def flags_unscaled(scaling: Affine, x_train: np.ndarray) -> Affine:
    """A table's 0/1 columns (one-hot categories, was-missing flags) left as 0 and 1, as
    Keras's structured-data examples leave them: standardized, a category on 3 of 100 rows
    would read 5.7 and weigh like an outlier."""
    if np.ndim(scaling.offset) != 1:
        return scaling
    flags = np.all((x_train == 0) | (x_train == 1), axis=0)
    return Affine(
        np.where(flags, 0, scaling.offset).astype(np.float32),
        np.where(flags, 1, scaling.scale).astype(np.float32),
    )


def largest_input(x_train: np.ndarray, scaling: Affine, *, by_type: bool = False) -> float:
    """The largest |value| the model's first layer sees in the training rows, scaled: each
    feature's is at its smallest or its largest value. `by_type`: a bound from the integer
    type's range alone, without reading the rows (infinite for floats)."""
    if x_train.size == 0:
        return 0.0
    if by_type and x_train.dtype.kind == "b":
        low, high = 0.0, 1.0
    elif by_type and x_train.dtype.kind in "iu":
        low, high = float(np.iinfo(x_train.dtype).min), float(np.iinfo(x_train.dtype).max)
    elif by_type:
        return float("inf")
    elif np.ndim(scaling.scale) == 0:
        low, high = float(x_train.min()), float(x_train.max())
    else:
        low, high = x_train.min(axis=0).astype(np.float64), x_train.max(axis=0).astype(np.float64)
    ends = [np.abs((end - scaling.offset) / scaling.scale) for end in (low, high)]
    return float(max(np.max(ends[0]), np.max(ends[1])))


def input_scale_problem(x_train: np.ndarray, scaling: Affine, target_std: float | None) -> str:
    """`checks.scale_problem` of the training rows as the model sees them; the integer type's
    range often settles it without reading the rows."""
    scaled = not scaling.is_identity
    bound = largest_input(x_train, scaling, by_type=True)
    return checks.scale_problem(bound, target_std, scaled) and checks.scale_problem(
        largest_input(x_train, scaling), target_std, scaled
    )


def floats(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def encode_labels(y: np.ndarray, n_classes: int, one_hot: bool) -> np.ndarray:
    y = np.asarray(y).ravel().astype(np.int64)
    if not one_hot:
        return y
    return np.eye(n_classes, dtype=np.float32)[y]


def target_scaling(y_train: np.ndarray) -> Affine:
    """Standardize a regression target; several target columns (lesson 12) get one each."""
    y = np.asarray(y_train, dtype=np.float64)
    if y.ndim == 2 and y.shape[1] > 1:
        std = y.std(axis=0)
        return Affine(floats(y.mean(axis=0)), floats(np.where(std > 0, std, 1.0)))
    return Affine(np.float32(y.mean()), np.float32(y.std() or 1.0))


def prepare(dataset: Dataset, options: PrepareOptions) -> Prepared:
    """Split, fit the scaling on train, encode labels; raw float32 samples for the model."""
    one_hot = options.one_hot
    parts = split(
        dataset,
        val_fraction=options.val_fraction,
        test_fraction=options.test_fraction,
        seed=options.seed,
    )
    sample_shape = tuple(parts.x_train.shape[1:])
    x_scaling = fit_scaling(options.scaler, parts.x_train, dataset.pixel_max)
    if dataset.front is not None:
        x_scaling = flags_unscaled(x_scaling, parts.x_train)
    y_scaling, target_std = IDENTITY, None
    if dataset.task == "regression":
        y_scaling = target_scaling(parts.y_train)
        target_std = float(np.max(y_scaling.scale))
    checks.refuse(dataset.name, input_scale_problem(parts.x_train, x_scaling, target_std))

    def encode(y: np.ndarray) -> np.ndarray:
        if dataset.task == "classification":
            return encode_labels(y, dataset.n_classes, one_hot)
        y = np.asarray(y, dtype=np.float32)
        return y.reshape(-1, 1) if y.ndim == 1 else y

    front = raw_test = None
    if dataset.front is not None:
        from steps.data.table_front import Front

        front = Front.from_array(dataset.front)
        numbered = Dataset("rows", dataset.task, np.arange(len(dataset.x_train)), dataset.y_train)
        rows = split(
            numbered,
            val_fraction=options.val_fraction,
            test_fraction=options.test_fraction,
            seed=options.seed,
        ).x_test
        raw_test = front.rows.iloc[np.asarray(rows)].reset_index(drop=True)

    return Prepared(
        task=dataset.task,
        class_names=dataset.class_names,
        one_hot=one_hot,
        data=Split(
            floats(parts.x_train),
            encode(parts.y_train),
            floats(parts.x_val),
            encode(parts.y_val),
            floats(parts.x_test),
            encode(parts.y_test),
        ),
        preprocessing=Preprocessing(
            sample_shape=sample_shape,
            x_scaling=x_scaling,
            y_scaling=y_scaling,
        ),
        front=front,
        raw_test=raw_test,
    )
