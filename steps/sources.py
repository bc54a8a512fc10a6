"""The registered data sets and the `npz:` / `csv:` readers behind `steps.datasets.resolve`.

To add a data set, add a function returning a `Source` and list it in `registry()`.
"""

from __future__ import annotations

import gzip
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from steps.datasets import (
    OFFLINE_HINT,
    Dataset,
    Source,
    encode_classes,
    file_sha256,
    infer_task,
)
from steps.errors import UserError

KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
TORONTO_ORIGIN = "https://www.cs.toronto.edu/~kriz/"
# A folder or URL holding copies of the upstream files under their upstream names
# (an offline mirror); such copies are not checked against Keras's pinned hashes.
MIRROR_ENV = "KERAS_LESSONS_DATA_ORIGIN"

CIFAR10_CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]
BOSTON_FEATURES = tuple(
    [
        "CRIM",
        "ZN",
        "INDUS",
        "CHAS",
        "NOX",
        "RM",
        "AGE",
        "DIS",
        "RAD",
        "TAX",
        "PTRATIO",
        "B",
        "LSTAT",
    ]
)
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


@dataclass(frozen=True)
class Remote:
    """One upstream file as Keras's loader names, fetches and pins it."""

    fname: str  # the name get_file gives it under $KERAS_HOME/<subdir>
    url: str
    sha256: str | None = None
    extract: bool = False
    subdir: str = "datasets"


def keras_home() -> Path:
    return Path(os.environ.get("KERAS_HOME", "~/.keras")).expanduser()


def local_copy(remote: Remote) -> Path:
    name = f"{remote.fname}_archive" if remote.extract else remote.fname
    return keras_home() / remote.subdir / name


def fetch(dataset: str, remote: Remote) -> Path:
    """Keras's own download function, pointed at the mirror when one is set."""
    import keras

    mirror = os.environ.get(MIRROR_ENV, "")
    origin, sha = remote.url, remote.sha256
    if mirror:
        base = mirror if "://" in mirror else Path(mirror).resolve().as_uri()
        origin, sha = f"{base.rstrip('/')}/{remote.url.rsplit('/', 1)[-1]}", None
    try:
        path = keras.utils.get_file(
            remote.fname,
            origin=origin,
            file_hash=sha,
            extract=remote.extract,
            cache_subdir=remote.subdir,
            cache_dir=str(keras_home()),  # Keras reads KERAS_HOME only once, at import
        )
    except Exception as exc:
        if "URL fetch failure" not in str(exc) and not isinstance(exc, OSError):
            raise
        raise UserError(
            f"cannot download {dataset} from {origin} ({exc}); Keras looks for "
            f"{local_copy(remote)} (a copy of {remote.url.rsplit('/', 1)[-1]}): put it there, "
            f"or set {MIRROR_ENV} to a folder of upstream files, or use {OFFLINE_HINT}"
        ) from None
    return Path(path)


def remote_key(dataset: str, remotes: tuple[Remote, ...]) -> str:
    """Pinned hashes identify official files without touching them; others are hashed."""
    if not os.environ.get(MIRROR_ENV) and all(r.sha256 for r in remotes):
        return "+".join(r.sha256 or "" for r in remotes)
    hashes = []
    for remote in remotes:
        path = fetch(dataset, remote)
        if path.is_dir():  # an extracted archive: hash the archive itself
            path = local_copy(remote)
        hashes.append(file_sha256(path))
    return "+".join(hashes)


def keras_source(
    name: str, remotes: tuple[Remote, ...], parse: Callable[[list[Path]], Dataset]
) -> Source:
    def load() -> Dataset:
        return parse([fetch(name, remote) for remote in remotes])

    return Source(name=name, key=remote_key(name, remotes), load=load)


# ----------------------------------------------------------------- Keras archives


def parse_mnist_npz(name: str, class_names: tuple[str, ...], paths: list[Path]) -> Dataset:
    with np.load(paths[0], allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in ("x_train", "y_train", "x_test", "y_test")}
    return Dataset(
        name=name, task="classification", class_names=class_names, pixel_max=255.0, **arrays
    )


def read_idx(path: Path, offset: int) -> np.ndarray:
    with gzip.open(path, "rb") as handle:
        return np.frombuffer(handle.read(), np.uint8, offset=offset)


def parse_fashion(paths: list[Path]) -> Dataset:
    y_train, x_train, y_test, x_test = (read_idx(p, 8 if "labels" in p.name else 16) for p in paths)
    return Dataset(
        name="fashion_mnist",
        task="classification",
        x_train=x_train.reshape(len(y_train), 28, 28),
        y_train=y_train,
        x_test=x_test.reshape(len(y_test), 28, 28),
        y_test=y_test,
        class_names=FASHION_CLASSES,
        pixel_max=255.0,
    )


class ArraysOnlyUnpickler(pickle.Unpickler):
    """CIFAR batches hold numpy arrays, lists and bytes; refuse anything else."""

    allowed = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
        }
    )

    def find_class(self, module: str, name: str):
        if (module, name) not in self.allowed:
            raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")
        return super().find_class(module, name)


def read_cifar_batch(path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    with path.open("rb") as handle:
        batch = ArraysOnlyUnpickler(handle, encoding="bytes").load()
    batch = {key.decode(): value for key, value in batch.items()}
    images = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    return images.transpose(0, 2, 3, 1), np.asarray(batch[label_key], dtype=np.uint8)


def parse_cifar10(paths: list[Path]) -> Dataset:
    folder = paths[0] / "cifar-10-batches-py"
    parts = [read_cifar_batch(folder / f"data_batch_{i}", "labels") for i in range(1, 6)]
    x_test, y_test = read_cifar_batch(folder / "test_batch", "labels")
    return Dataset(
        name="cifar10",
        task="classification",
        x_train=np.concatenate([x for x, _ in parts]),
        y_train=np.concatenate([y for _, y in parts]),
        x_test=x_test,
        y_test=y_test,
        class_names=tuple(CIFAR10_CLASSES),
        pixel_max=255.0,
    )


def parse_cifar100(paths: list[Path]) -> Dataset:
    folder = paths[0] / "cifar-100-python"
    x_train, y_train = read_cifar_batch(folder / "train", "fine_labels")
    x_test, y_test = read_cifar_batch(folder / "test", "fine_labels")
    with (folder / "meta").open("rb") as handle:
        meta = ArraysOnlyUnpickler(handle, encoding="bytes").load()
    names = tuple(n.decode() for n in meta[b"fine_label_names"])
    return Dataset(
        name="cifar100",
        task="classification",
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        class_names=names,
        pixel_max=255.0,
    )


def keras_split(
    x: np.ndarray, y: np.ndarray, seed: int = 113, test_split: float = 0.2
) -> dict[str, np.ndarray]:
    """boston_housing's split, as Keras's loader does it: shuffle with seed 113, last 20% test."""
    order = np.arange(len(x))
    np.random.RandomState(seed).shuffle(order)
    x, y, cut = x[order], y[order], int(len(x) * (1 - test_split))
    return {"x_train": x[:cut], "y_train": y[:cut], "x_test": x[cut:], "y_test": y[cut:]}


def parse_boston(paths: list[Path]) -> Dataset:
    with np.load(paths[0], allow_pickle=False) as archive:
        arrays = keras_split(archive["x"], archive["y"])
    return Dataset(
        name="boston_housing", task="regression", feature_names=BOSTON_FEATURES, **arrays
    )


def boston_housing() -> Source:
    remote = Remote(
        "boston_housing.npz",
        KERAS_ORIGIN + "boston_housing.npz",
        "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5",
    )
    return keras_source("boston_housing", (remote,), parse_boston)


def mnist() -> Source:
    remote = Remote(
        "mnist.npz",
        KERAS_ORIGIN + "mnist.npz",
        "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
    )
    digits = tuple(str(i) for i in range(10))
    return keras_source("mnist", (remote,), partial(parse_mnist_npz, "mnist", digits))


def fashion_mnist() -> Source:
    names = (
        "train-labels-idx1-ubyte.gz",
        "train-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
    )
    remotes = tuple(
        Remote(n, KERAS_ORIGIN + n, subdir=os.path.join("datasets", "fashion-mnist")) for n in names
    )
    return keras_source("fashion_mnist", remotes, parse_fashion)


def cifar10() -> Source:
    remote = Remote(
        "cifar-10-batches-py-target",
        TORONTO_ORIGIN + "cifar-10-python.tar.gz",
        "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        extract=True,
    )
    return keras_source("cifar10", (remote,), parse_cifar10)


def cifar100() -> Source:
    remote = Remote(
        "cifar-100-python-target",
        TORONTO_ORIGIN + "cifar-100-python.tar.gz",
        "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7",
        extract=True,
    )
    return keras_source("cifar100", (remote,), parse_cifar100)


# ----------------------------------------------------------------- scikit-learn's bundled sets


def sklearn_source(name: str) -> Source:
    import sklearn
    from sklearn import datasets as sk

    def load() -> Dataset:
        if name == "diabetes":
            bunch = sk.load_diabetes(scaled=False)
            return Dataset(
                name=name,
                task="regression",
                x_train=bunch.data,
                y_train=bunch.target,
                feature_names=tuple(bunch.feature_names),
            )
        loader = {
            "iris": sk.load_iris,
            "breast_cancer": sk.load_breast_cancer,
            "wine": sk.load_wine,
            "digits": sk.load_digits,
        }[name]
        bunch = loader()
        images = name == "digits"
        return Dataset(
            name=name,
            task="classification",
            x_train=bunch.images.astype(np.uint8) if images else bunch.data,
            y_train=bunch.target,
            class_names=tuple(str(n) for n in bunch.target_names),
            feature_names=() if images else tuple(bunch.feature_names),
            pixel_max=16.0 if images else None,
        )

    return Source(name=name, key=f"sklearn-{sklearn.__version__}", load=load)


# ----------------------------------------------------------------- generated toy data

LINEAR_SIZE, LINEAR_SEED = 100, 0


def linear() -> Source:
    """Lesson 01's toy: y = 2x + 1 plus a little noise, x = 1..100."""

    def load() -> Dataset:
        x = np.arange(1, LINEAR_SIZE + 1, dtype=np.float32).reshape(-1, 1)
        noise = np.random.default_rng(LINEAR_SEED).normal(0.0, 1.0, size=LINEAR_SIZE)
        y = (2.0 * x[:, 0] + 1.0 + noise).astype(np.float32)
        return Dataset(name="linear", task="regression", x_train=x, y_train=y, feature_names=("x",))

    return Source(name="linear", key=f"n{LINEAR_SIZE}-seed{LINEAR_SEED}-2x+1", load=load)


def registry() -> dict[str, Callable[[], Source]]:
    sklearn_names = ("iris", "diabetes", "breast_cancer", "wine", "digits")
    return {
        "mnist": mnist,
        "fashion_mnist": fashion_mnist,
        "cifar10": cifar10,
        "cifar100": cifar100,
        "boston_housing": boston_housing,
        "linear": linear,
        **{n: partial(sklearn_source, n) for n in sklearn_names},
    }


# ----------------------------------------------------------------- user files


def existing_file(path: Path, kind: str) -> Path:
    path = path.expanduser()
    if not path.is_file():
        raise UserError(f"{kind} file not found: {path}; check the path after '{kind}:'")
    return path.resolve()


def npz_file(path: Path) -> Source:
    path = existing_file(path, "npz")

    def load() -> Dataset:
        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {key: archive[key] for key in archive.files}
        except (ValueError, OSError, EOFError) as exc:
            raise UserError(f"cannot read {path} as a .npz archive: {exc}") from None
        split_keys, whole_keys = {"x_train", "y_train", "x_test", "y_test"}, {"x", "y"}
        if split_keys <= arrays.keys():
            arrays = {k: arrays[k] for k in split_keys}
        elif whole_keys <= arrays.keys():  # one table: split as Keras splits boston_housing
            if len(arrays["x"]) != len(arrays["y"]):
                raise UserError(
                    f"{path}: x has {len(arrays['x'])} rows but y has {len(arrays['y'])}"
                )
            arrays = keras_split(arrays["x"], arrays["y"])
        else:
            raise UserError(
                f"{path} has keys {sorted(arrays)}; expected x_train, y_train, x_test, y_test "
                "(as Keras's archives have them) or x, y"
            )
        for part in ("train", "test"):
            x, y = arrays.get(f"x_{part}"), arrays.get(f"y_{part}")
            if x is not None and y is not None and len(x) != len(y):
                raise UserError(f"{path}: x_{part} has {len(x)} rows but y_{part} has {len(y)}")
        n_train = len(arrays["y_train"])
        y_all = np.concatenate([arrays[k].ravel() for k in ("y_train", "y_test") if k in arrays])
        task, names = infer_task(y_all), ()
        if task == "classification":
            y_all, names = encode_classes(y_all)
            arrays["y_train"] = y_all[:n_train]
            if "y_test" in arrays:
                arrays["y_test"] = y_all[n_train:]
        image = arrays["x_train"].ndim >= 3 and arrays["x_train"].dtype == np.uint8
        return Dataset(
            name=path.stem,
            task=task,
            class_names=names,
            pixel_max=255.0 if image else None,
            **arrays,
        )

    return Source(name=path.stem, key=file_sha256(path), load=load)


def csv_file(path: Path, *, target: str) -> Source:
    path = existing_file(path, "csv")
    if not target:
        raise UserError(f"csv:{path} needs the column to predict: add -P target=COLUMN")

    def load() -> Dataset:
        import pandas as pd

        try:
            table = pd.read_csv(path)
        except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise UserError(f"cannot read {path} as CSV: {exc}") from None
        if target not in table.columns:
            raise UserError(
                f"target column {target!r} is not in {path}; its columns are "
                f"{', '.join(map(str, table.columns))}"
            )
        table = table.dropna(subset=[target])
        if table.empty:
            raise UserError(f"{path} has no rows with a value in {target!r}")
        features = pd.get_dummies(table.drop(columns=[target]), dtype=np.float32)
        missing = features.isna().sum()
        if missing.any():
            columns = ", ".join(f"{c} ({n})" for c, n in missing[missing > 0].items())
            raise UserError(f"{path} has missing feature values in {columns}; fill or drop them")
        y = table[target].to_numpy()
        task = infer_task(y)
        names: tuple[str, ...] = ()
        if task == "classification":
            y, names = encode_classes(y)
        return Dataset(
            name=path.stem,
            task=task,
            x_train=features.to_numpy(np.float32),
            y_train=y,
            class_names=names,
            feature_names=tuple(map(str, features.columns)),
        )

    return Source(name=path.stem, key=f"{file_sha256(path)}-target={target}", load=load)
