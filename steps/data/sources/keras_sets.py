"""The Keras example data sets, read from their upstream files (lessons 36-46, 53-57)."""

from __future__ import annotations

import gzip
import os
import pickle
from functools import partial
from pathlib import Path

import numpy as np

from steps.data.dataset import Dataset, Source
from steps.data.sources.remote import KERAS_ORIGIN, TORONTO_ORIGIN, Remote, keras_source

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


def split_like_keras(
    x: np.ndarray, y: np.ndarray, seed: int = 113, test_split: float = 0.2
) -> dict[str, np.ndarray]:
    """boston_housing's split, as Keras's loader does it: shuffle with seed 113, last 20% test."""
    order = np.arange(len(x))
    np.random.RandomState(seed).shuffle(order)
    x, y, cut = x[order], y[order], int(len(x) * (1 - test_split))
    return {"x_train": x[:cut], "y_train": y[:cut], "x_test": x[cut:], "y_test": y[cut:]}


def parse_boston(paths: list[Path]) -> Dataset:
    with np.load(paths[0], allow_pickle=False) as archive:
        arrays = split_like_keras(archive["x"], archive["y"])
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
