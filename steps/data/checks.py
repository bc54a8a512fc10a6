"""Check step: the numbers of a data set, before anything trains on them.

Each rule returns '' when the data passes it, else the problem in words. `check_dataset`
runs them on every data set a lesson loads (steps/workflow.py), whatever its source (the npz
reader also runs `stored_problems` on the arrays as stored); steps/data/prepare.py runs
`split_problem` after the split and `scale_problem` once the scaling is fitted. A refusal is
one UserError line: where, what, how many, and the first row it occurs in. Only
floating-point arrays are read for their values, with one min and one max each.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from steps.data.dataset import Dataset
from steps.errors import UserError

FLOAT32_MAX = float(np.finfo(np.float32).max)
# What overflows first in float32 training is the optimizer's running square of each gradient
# (Adam, RMSprop, Nadam, ...). A classifier's gradient grows with its inputs (the loss's slope
# per logit is at most 1); a squared error's with the inputs times the target's spread, squared.
# bench/overflow.py: the tabular DNN with Adam stayed finite up to |x| = 1e20 (classifier) and
# |x| * std(y) = 1e10 (regression), and overflowed from 1e21 and 7.7e10 on.
CLASSIFIER_INPUT_LIMIT = FLOAT32_MAX**0.5  # 1.8e19
REGRESSION_INPUT_LIMIT = FLOAT32_MAX**0.25  # 4.3e9, for |x| times the target's std
SHOWN = 3  # columns or classes named in a message; the rest are counted

KIND_WORDS = {
    "i": "integers",
    "u": "integers",
    "f": "real numbers",
    "b": "true/false values",
    "c": "complex numbers",
    "M": "dates",
    "m": "time spans",
    "O": "Python objects",
    "S": "byte strings",
    "U": "text",
    "V": "structured records",
}


@dataclass(frozen=True)
class Part:
    """Samples and their labels, named as messages call them: x_train and y_train, or x and
    y for a data set without a test split (`whole`: a named column needs no array name)."""

    x_name: str
    y_name: str
    x: np.ndarray
    y: np.ndarray
    whole: bool = False


def parts(arrays: dict[str, np.ndarray]) -> list[Part]:
    """x_train/y_train (and x_test/y_test), or one x/y table."""
    if "x" in arrays:
        return [Part("x", "y", arrays["x"], arrays["y"], whole=True)]
    names = [p for p in ("train", "test") if f"x_{p}" in arrays]
    return [Part(f"x_{p}", f"y_{p}", arrays[f"x_{p}"], arrays[f"y_{p}"]) for p in names]


def dataset_parts(dataset: Dataset) -> list[Part]:
    if dataset.x_test is None:
        return parts({"x": dataset.x_train, "y": dataset.y_train})
    return parts(dataset.arrays())


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}{'es' if word[-1] == 's' else 's'}"


# ---------------------------------------------------------------- shapes and kinds


def shape_problem(split: list[Part]) -> str:
    """Arrays of rows; x and y rows agree; train and test samples (and labels) alike."""
    for part in split:
        for name, array in ((part.x_name, part.x), (part.y_name, part.y)):
            if array.ndim == 0:
                return f"{name} is a single value, not an array with one row per sample"
        if len(part.x) != len(part.y):
            return f"{part.x_name} has {len(part.x)} rows but {part.y_name} has {len(part.y)}"
        if len(part.x) == 0:
            return f"{part.x_name} has no rows; a data set needs samples to learn from and test on"
    first = split[0]
    for part in split[1:]:
        for a, b, what in ((first.x_name, part.x_name, "x"), (first.y_name, part.y_name, "y")):
            shape_a = getattr(first, what).shape[1:]
            shape_b = getattr(part, what).shape[1:]
            if shape_a != shape_b:
                return f"{a} rows have shape {shape_a} but {b} rows {shape_b}; they must match"
    return ""


def kind_problem(name: str, array: np.ndarray, allowed: str, expected: str) -> str:
    """A dtype whose kind ('iufb...') is not among `allowed`, in words."""
    if array.dtype.kind in allowed:
        return ""
    words = KIND_WORDS.get(array.dtype.kind, str(array.dtype))
    return f"{name} holds {words} ({array.dtype}); {expected}"


def is_text(array: np.ndarray) -> bool:
    """One text per row: a 1-D array of str (numpy's or Python's)."""
    import pandas as pd

    if array.ndim != 1 or array.dtype.kind not in "UO":
        return False
    return array.dtype.kind == "U" or pd.api.types.infer_dtype(array, skipna=False) == "string"


def feature_kind_problem(dataset: Dataset, split: list[Part], text: bool) -> str:
    """Numbers (true/false too in a table); pixels as numbers; text only where it is read."""
    for part in split:
        if text and is_text(part.x):
            continue
        if is_text(part.x) and not text:
            return (
                f"{part.x_name} holds {KIND_WORDS['U']} ({part.x.dtype}); this lesson trains on "
                "numbers (nlp_tokenize reads text, one per row)"
            )
        numbers = "iuf" if dataset.is_image else "iufb"
        expected = "images are numbers (uint8 or float)"
        if not dataset.is_image:
            expected = "features must be real numbers (int, uint, float or bool)"
        if problem := kind_problem(part.x_name, part.x, numbers, expected):
            return problem
    return ""


def label_kind_problem(dataset: Dataset, split: list[Part]) -> str:
    """Class indices are integers; a regression target is real numbers."""
    allowed, expected = "iu", "class labels are integers after encoding"
    if dataset.task == "regression":
        allowed, expected = "iuf", "a target to predict must be real numbers (int, uint or float)"
    for part in split:
        if problem := kind_problem(part.y_name, part.y, allowed, expected):
            return problem
    return ""


# ---------------------------------------------------------------- values


def extremes(array: np.ndarray) -> tuple[float, float]:
    """(min, max) of a float array; NaN when it holds one. Other kinds are never NaN."""
    if array.size == 0 or array.dtype.kind != "f":
        return 0.0, 0.0
    return float(array.min()), float(array.max())


def column_label(index: int, sample_shape: tuple[int, ...], names: tuple[str, ...]) -> str:
    if len(sample_shape) == 1:
        return f"'{names[index]}'" if len(names) == sample_shape[0] else str(index)
    return str(tuple(int(i) for i in np.unravel_index(index, sample_shape)))


def located(mask: np.ndarray, name: str, whole: bool, names: tuple[str, ...]) -> str:
    """'in column 'a' (first at row 3)', 'in x_test, columns 0 (2), 4 (1) (first at row 3)'."""
    rows = mask.reshape(len(mask), -1)
    first_row = int(rows.any(axis=1).argmax())
    counts = rows.sum(axis=0)
    columns = np.flatnonzero(counts)
    if mask.ndim == 1:
        return f"in {name} (first at row {first_row})"
    word = "column" if mask.ndim == 2 else "position"
    word = f"{word}s" if len(columns) > 1 else word
    shown = [column_label(int(c), mask.shape[1:], names) for c in columns[:SHOWN]]
    if len(columns) > 1:
        shown = [f"{label} ({counts[c]})" for label, c in zip(shown, columns, strict=False)]
    more = f" and {len(columns) - SHOWN} more" if len(columns) > SHOWN else ""
    array = "" if whole else f"{name}, "
    return f"in {array}{word} {', '.join(shown)}{more} (first at row {first_row})"


def value_problem(name: str, array: np.ndarray, whole: bool, names: tuple[str, ...]) -> str:
    """NaN, infinite, or beyond float32 (where training would make it infinite)."""
    low, high = extremes(array)
    if np.isfinite(low) and np.isfinite(high) and max(-low, high) <= FLOAT32_MAX:
        return ""
    for test, what, fix in (
        (np.isnan, "NaN", "fill or drop them"),
        (np.isinf, "infinite", "fill or drop them"),
        (lambda a: np.abs(a) > FLOAT32_MAX, "beyond float32's range (±3.4e38)", "rescale them"),
    ):
        mask = test(array)
        if count := int(np.count_nonzero(mask)):
            verb = "is" if count == 1 else "are"
            place = located(mask, name, whole, names)
            return f"{plural(count, 'value')} {verb} {what} {place}; {fix}"
    return ""


def values_problem(split: list[Part], feature_names: tuple[str, ...]) -> str:
    for part in split:
        problem = value_problem(part.x_name, part.x, part.whole, feature_names)
        if problem := problem or value_problem(part.y_name, part.y, False, ()):
            return problem
    return ""


# ---------------------------------------------------------------- classes


def class_list(indices: np.ndarray, counts: np.ndarray, class_names: tuple[str, ...]) -> str:
    """ "'cat' (3 rows), 'dog' (1 row)", the first few of `indices`."""
    shown = [f"'{class_names[i]}' ({plural(int(counts[i]), 'row')})" for i in indices[:SHOWN]]
    more = f" and {len(indices) - SHOWN} more" if len(indices) > SHOWN else ""
    return ", ".join(shown) + more


def label_rows_problem(split: list[Part]) -> str:
    """A classifier's labels: one per row (a column of them, as Keras's CIFAR has, is one)."""
    for part in split:
        y = part.y
        if y.ndim > 2 or (y.ndim == 2 and y.shape[1] != 1):
            return (
                f"{part.y_name} has rows of shape {y.shape[1:]}; a classifier takes one class "
                "label per row (one-hot rows: save y.argmax(axis=1))"
            )
    return ""


def classes_problem(split: list[Part], class_names: tuple[str, ...]) -> str:
    """Each label an index of a class name; two classes at least."""
    n_classes = len(class_names)
    for part in split:
        outside = (part.y < 0) | (part.y >= n_classes)
        if count := int(np.count_nonzero(outside)):
            first = int(outside.reshape(len(part.y)).argmax())
            return (
                f"{plural(count, 'label')} in {part.y_name} {'is' if count == 1 else 'are'} not "
                f"a class index 0..{n_classes - 1} (first at row {first}: {part.y.ravel()[first]})"
            )
    counts = sum(np.bincount(part.y.ravel(), minlength=n_classes) for part in split)
    present = np.flatnonzero(counts)
    if len(present) == 1:
        found = class_list(present, counts, class_names)
        return f"every row has the same class, {found}; a classifier needs two or more"
    return ""


def split_problem(
    y_train: np.ndarray, held_out: dict[str, np.ndarray], class_names: tuple[str, ...]
) -> str:
    """Classes of the validation or test rows (`held_out`, by name) missing from training."""
    n_classes = len(class_names)
    trained = np.bincount(np.ravel(y_train), minlength=n_classes) > 0
    counts = {name: np.bincount(np.ravel(y), minlength=n_classes) for name, y in held_out.items()}
    unseen = {name: np.flatnonzero((c > 0) & ~trained) for name, c in counts.items()}
    for name, indices in unseen.items():
        if len(indices):
            classes = class_list(indices, counts[name], class_names)
            return (
                f"{plural(len(indices), 'class')} only in the {name} rows, none in training: "
                f"{classes}; add training rows of each, or drop those rows"
            )
    if trained.sum() < 2:
        return "the training rows hold one class only; a classifier needs two or more"
    return ""


# ---------------------------------------------------------------- scale


def scale_problem(largest: float, target_std: float | None, scaled: bool) -> str:
    """Inputs as the model sees them (`largest` |value|, after the scaling) must keep the
    squared gradient within float32; `target_std` is a regression target's spread."""
    features = f"{'scaled' if scaled else 'unscaled'} features reach {largest:.2g}"
    overflows = "where float32 training overflows"
    use_a_scaler = "use -P scaler=standard (or minmax)"
    if target_std is None:
        if largest <= CLASSIFIER_INPUT_LIMIT:
            return ""
        return f"{features}, past {CLASSIFIER_INPUT_LIMIT:.1e} {overflows}: {use_a_scaler}"
    if largest * target_std <= REGRESSION_INPUT_LIMIT:
        return ""
    spread = f"with the target's spread (std {target_std:.2g}) that passes"
    fix = (
        "give the target in larger units (divide it by a power of ten)" if scaled else use_a_scaler
    )
    return f"{features}; {spread} {REGRESSION_INPUT_LIMIT:.1e} {overflows}: {fix}"


# ---------------------------------------------------------------- the checks


def dataset_problems(dataset: Dataset, *, text: bool = False) -> Iterator[str]:
    """Every problem of a loaded data set, rule by rule (take the first: later rules rely
    on the earlier ones passing)."""
    split = dataset_parts(dataset)
    classifier = dataset.task == "classification"
    yield shape_problem(split)
    yield feature_kind_problem(dataset, split, text)
    yield label_rows_problem(split) if classifier else ""
    yield label_kind_problem(dataset, split)
    yield values_problem(split, dataset.feature_names)
    yield classes_problem(split, dataset.class_names) if classifier else ""


def stored_problems(arrays: dict[str, np.ndarray]) -> Iterator[str]:
    """The rules that hold before labels are encoded: a reader's arrays as stored, so that
    rows are the file's rows (x and y before the split)."""
    split = parts(arrays)
    yield shape_problem(split)
    for part in split:
        numbers = "features must be real numbers (int, uint, float or bool), or text"
        yield kind_problem(part.x_name, part.x, "iufbU", numbers)
        yield kind_problem(part.y_name, part.y, "iufbU", "labels must be numbers, bool or text")
    yield values_problem(split, ())


def refuse(where: str, problem: str) -> None:
    if problem:
        raise UserError(f"{where}: {problem}")


def raise_first(where: str, problems: Iterator[str]) -> None:
    for problem in problems:
        refuse(where, problem)


def check_dataset(dataset: Dataset, where: str, *, text: bool = False) -> None:
    """Refuse the data set, naming `where` it came from, at the first rule it breaks."""
    raise_first(where, dataset_problems(dataset, text=text))
