"""Generated image sets for the benchmarks: learnable, reproducible, no download.

Each class is a bright block at its own place on a dim, noisy background, so the lessons'
small CNNs learn them within an epoch, as they learn MNIST or CIFAR-10.

`write_npz` writes the pipeline's own user-file format (`-P dataset=npz:PATH`: x_train,
y_train, x_test, y_test, uint8 images), which the bare Keras scripts read too.
`write_cifar10_archive` writes a set in the layout of Keras's CIFAR-10 download, for the
one measurement that is about reading that archive (`bench/run.py`'s cache section).
"""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np


def images(
    n: int, side: int, channels: int, n_classes: int = 10, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(n, side, side, channels) uint8 images and their uint8 labels, classes balanced."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % n_classes).astype(np.uint8)
    rng.shuffle(labels)
    x = rng.integers(0, 60, size=(n, side, side, channels), dtype=np.uint8)
    cell = side // 4
    for label in range(n_classes):
        rows = np.flatnonzero(labels == label)
        top, left = (label % 16 // 4) * cell, (label % 4) * cell
        level = rng.integers(190, 256, size=(len(rows), 1, 1, channels), dtype=np.uint8)
        x[rows, top : top + cell, left : left + cell] = level
    return x, labels


def write_npz(
    path: Path, n_train: int, n_test: int, side: int, channels: int = 1, seed: int = 0
) -> Path:
    """An `npz:` data set; one channel is stored as (n, side, side), as MNIST is."""
    x, y = images(n_train + n_test, side, channels, seed=seed)
    if channels == 1:
        x = x[..., 0]
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path, x_train=x[:n_train], y_train=y[:n_train], x_test=x[n_train:], y_test=y[n_train:]
    )
    return path


def write_cifar10_archive(folder: Path, n_train: int, n_test: int, seed: int = 0) -> Path:
    """cifar-10-python.tar.gz as Keras's CIFAR-10 loader reads it: five training batches and
    a test batch, each a pickled dict of b"data" (rows of 1024 red, 1024 green, 1024 blue
    values) and b"labels". Pickled by this Python (protocol 4), not byte for byte as the
    upstream file's Python 2 pickles: loading costs the same (one byte string of pixels and
    a list of labels per batch), and the pipeline's reader takes both."""
    x, y = images(n_train + n_test, 32, 3, seed=seed)
    rows = x.transpose(0, 3, 1, 2).reshape(len(x), 3072)
    cut = np.linspace(0, n_train, 6).astype(int)
    parts = {f"data_batch_{i + 1}": slice(cut[i], cut[i + 1]) for i in range(5)}
    parts["test_batch"] = slice(n_train, None)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        top = tarfile.TarInfo("cifar-10-batches-py")
        top.type, top.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(top)
        for name, part in parts.items():
            batch = {b"data": np.ascontiguousarray(rows[part]), b"labels": y[part].tolist()}
            data = pickle.dumps(batch, protocol=4)
            member = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    return path
