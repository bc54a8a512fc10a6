"""Tiny, deterministic stand-ins for the files that `keras.datasets` downloads.

Each writer puts a small file (or set of files) in the exact upstream format and
under the exact upstream file name into `folder`, so tests can point
`keras.utils.get_file` at them with a `file://` origin and never touch the network.

The images are learnable: every class gets a bright block at its own position on
a dim, noisy background, so a tiny CNN beats chance within an epoch or two.
"""

from __future__ import annotations

import gzip
import io
import json
import struct
import tarfile
from pathlib import Path

import numpy as np

# Fixed timestamp (2009-02-22) for tar members, so the archives are byte-for-byte reproducible.
_TAR_MTIME = 1_235_260_800

CIFAR10_LABEL_NAMES: tuple[str, ...] = (
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
)

CIFAR100_FINE_LABEL_NAMES: tuple[str, ...] = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle",
    "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle",
    "caterpillar", "cattle", "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch",
    "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox",
    "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion",
    "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse", "mushroom",
    "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road",
    "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake",
    "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank",
    "telephone", "television", "tiger", "tractor", "train", "trout", "tulip", "turtle",
    "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
)  # fmt: skip

CIFAR100_COARSE_LABEL_NAMES: tuple[str, ...] = (
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
    "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
    "large_man-made_outdoor_things", "large_natural_outdoor_scenes",
    "large_omnivores_and_herbivores", "medium_mammals", "non-insect_invertebrates", "people",
    "reptiles", "small_mammals", "trees", "vehicles_1", "vehicles_2",
)  # fmt: skip

# The real fine -> coarse mapping of CIFAR-100 (index = fine label, value = coarse label).
CIFAR100_FINE_TO_COARSE: tuple[int, ...] = (
    4, 1, 14, 8, 0, 6, 7, 7, 18, 3, 3, 14, 9, 18, 7, 11, 3, 9, 7, 11,
    6, 11, 5, 10, 7, 6, 13, 15, 3, 15, 0, 11, 1, 10, 12, 14, 16, 9, 11, 5,
    5, 19, 8, 8, 15, 13, 14, 17, 18, 10, 16, 4, 17, 4, 2, 0, 17, 4, 18, 17,
    10, 3, 2, 12, 12, 16, 12, 1, 9, 19, 2, 10, 0, 1, 16, 12, 9, 13, 15, 13,
    16, 19, 2, 4, 6, 19, 5, 5, 8, 19, 18, 1, 2, 15, 6, 0, 17, 8, 14, 13,
)  # fmt: skip

# The few fine classes the tiny CIFAR-100 uses: apple, aquarium_fish, bicycle, dolphin, rose.
# Their coarse classes (4, 1, 18, 0, 2) are all different, so both label modes are learnable.
CIFAR100_USED_FINE_LABELS: tuple[int, ...] = (0, 1, 8, 30, 70)

FASHION_MNIST_FILES: tuple[str, ...] = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)


# --------------------------------------------------------------------------- images


def _balanced_labels(rng: np.random.Generator, n: int, n_classes: int) -> np.ndarray:
    """Return n shuffled labels in 0..n_classes-1, as evenly spread over classes as possible."""
    return rng.permutation(np.arange(n) % n_classes)


def _class_images(
    rng: np.random.Generator, pattern: np.ndarray, size: int, channels: int
) -> np.ndarray:
    """Return uint8 images (n, size, size, channels): a bright block at a pattern-specific cell."""
    n = len(pattern)
    # Dim noise in 4x4-pixel patches: still noisy, yet gzip-friendly, so even full-size
    # archives (which keras.datasets.cifar10.load_data insists on) stay small.
    coarse = rng.integers(0, 48, size=(n, size // 4, size // 4, channels))
    images = coarse.repeat(4, axis=1).repeat(4, axis=2)
    cell = size // 4
    for i, p in enumerate(pattern):
        row, col = divmod(int(p) % 16, 4)
        # A class-specific tint keeps colour images distinguishable by colour as well.
        tint = 0.6 + 0.4 * ((int(p) + np.arange(channels)) % 3) / 2
        level = rng.integers(190, 256)
        images[i, row * cell : (row + 1) * cell, col * cell : (col + 1) * cell] = level * tint
    return images.astype(np.uint8)


def _cifar_rows(images: np.ndarray) -> np.ndarray:
    """Flatten (n, 32, 32, 3) images into CIFAR rows: 1024 R, then 1024 G, then 1024 B values."""
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2).reshape(len(images), 3072))


# --------------------------------------------------------------- python-2 pickles


def _py2_pickle(obj: object) -> bytes:
    """Pickle obj (protocol 2) the way Python 2's cPickle wrote the CIFAR files."""
    out = bytearray(b"\x80\x02")
    _py2_emit(obj, out)
    out += b"."
    return bytes(out)


def _py2_emit(obj: object, out: bytearray) -> None:
    """Append the protocol-2 opcodes for obj, writing bytes as Python 2 `str` (BINSTRING)."""
    if obj is None:
        out += b"N"
    elif isinstance(obj, bool):
        out += b"\x88" if obj else b"\x89"
    elif isinstance(obj, int):
        if 0 <= obj < 256:
            out += b"K" + struct.pack("<B", obj)
        elif 0 <= obj < 65536:
            out += b"M" + struct.pack("<H", obj)
        else:
            out += b"J" + struct.pack("<i", obj)
    elif isinstance(obj, bytes):
        # Python 3 would write bytes as `_codecs.encode(...)` calls, which Keras's restricted
        # unpickler refuses; Python 2 wrote them as plain 8-bit strings, as done here.
        if len(obj) < 256:
            out += b"U" + struct.pack("<B", len(obj)) + obj
        else:
            out += b"T" + struct.pack("<I", len(obj)) + obj
    elif isinstance(obj, tuple):
        if not obj:
            out += b")"
        elif len(obj) <= 3:
            for item in obj:
                _py2_emit(item, out)
            out += b"\x85\x86\x87"[len(obj) - 1 : len(obj)]
        else:
            out += b"("
            for item in obj:
                _py2_emit(item, out)
            out += b"t"
    elif isinstance(obj, list):
        out += b"]"
        for start in range(0, len(obj), 1000):
            out += b"("
            for item in obj[start : start + 1000]:
                _py2_emit(item, out)
            out += b"e"
    elif isinstance(obj, dict):
        out += b"}"
        if obj:
            out += b"("
            for key, value in obj.items():
                _py2_emit(key, out)
                _py2_emit(value, out)
            out += b"u"
    elif isinstance(obj, np.ndarray):
        _py2_emit_uint8_array(obj, out)
    else:
        raise TypeError(f"cannot write {type(obj).__name__} as a Python 2 pickle")


def _py2_emit_uint8_array(array: np.ndarray, out: bytearray) -> None:
    """Append a uint8 ndarray exactly as Python 2 numpy reduced it (_reconstruct + BUILD)."""
    if array.dtype != np.uint8:
        raise TypeError(f"only uint8 arrays are supported, got {array.dtype}")
    out += b"cnumpy.core.multiarray\n_reconstruct\n"
    out += b"cnumpy\nndarray\n"
    _py2_emit((0,), out)
    _py2_emit(b"b", out)
    out += b"\x87R"  # args (ndarray, (0,), b"b"), then REDUCE
    out += b"("
    _py2_emit(1, out)
    _py2_emit(tuple(int(d) for d in array.shape), out)
    out += b"cnumpy\ndtype\n"
    _py2_emit((b"u1", 0, 1), out)
    out += b"R"
    _py2_emit((3, b"|", None, None, None, -1, -1, 0), out)
    out += b"b"
    _py2_emit(False, out)
    _py2_emit(np.ascontiguousarray(array).tobytes(), out)
    out += b"tb"


# ------------------------------------------------------------------ archives


def _write_tar_gz(path: Path, top: str, members: dict[str, bytes]) -> Path:
    """Write a reproducible .tar.gz holding directory `top` with the given member files."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo(top)
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        info.mtime = _TAR_MTIME
        tar.addfile(info)
        for name, data in members.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            info.mode = 0o644
            info.mtime = _TAR_MTIME
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(gzip.compress(buffer.getvalue(), compresslevel=6, mtime=0))
    return path


def _idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array as an IDX file: magic 0x08<ndim>, big-endian int32 dims, data."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}i", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


# ------------------------------------------------------------------- writers


def write_mnist_npz(
    folder: Path, n_train: int = 60, n_test: int = 20, seed: int = 0, name: str = "mnist.npz"
) -> Path:
    """Write mnist.npz (x_train/y_train/x_test/y_test, uint8) like Keras's upstream file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    y_train = _balanced_labels(rng, n_train, 10).astype(np.uint8)
    y_test = _balanced_labels(rng, n_test, 10).astype(np.uint8)
    x_train = _class_images(rng, y_train, 28, 1)[..., 0]
    x_test = _class_images(rng, y_test, 28, 1)[..., 0]
    path = folder / name
    np.savez_compressed(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def write_fashion_mnist_gz(
    folder: Path, n_train: int = 60, n_test: int = 20, seed: int = 0
) -> list[Path]:
    """Write the four gzip'd IDX files of Fashion-MNIST, in Keras's download order."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    y_train = _balanced_labels(rng, n_train, 10).astype(np.uint8)
    y_test = _balanced_labels(rng, n_test, 10).astype(np.uint8)
    x_train = _class_images(rng, y_train, 28, 1)[..., 0]
    x_test = _class_images(rng, y_test, 28, 1)[..., 0]
    paths = []
    for fname, array in zip(FASHION_MNIST_FILES, (y_train, x_train, y_test, x_test), strict=True):
        path = folder / fname
        path.write_bytes(gzip.compress(_idx_bytes(array), compresslevel=6, mtime=0))
        paths.append(path)
    return paths


def write_cifar10_tar(folder: Path, n_per_batch: int = 12, n_test: int = 20, seed: int = 0) -> Path:
    """Write cifar-10-python.tar.gz (cifar-10-batches-py/: 5 data batches, test, meta)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    batches = [(f"data_batch_{i}", f"training batch {i} of 5", n_per_batch) for i in range(1, 6)]
    batches.append(("test_batch", "testing batch 1 of 1", n_test))
    members = {}
    for fname, batch_label, n in batches:
        labels = _balanced_labels(rng, n, 10)
        images = _class_images(rng, labels, 32, 3)
        members[fname] = _py2_pickle(
            {
                b"batch_label": batch_label.encode(),
                b"labels": [int(label) for label in labels],
                b"data": _cifar_rows(images),
                b"filenames": [
                    f"{CIFAR10_LABEL_NAMES[label]}_s_{i:06d}.png".encode()
                    for i, label in enumerate(labels)
                ],
            }
        )
    members["batches.meta"] = _py2_pickle(
        {
            b"num_cases_per_batch": n_per_batch,
            b"label_names": [name.encode() for name in CIFAR10_LABEL_NAMES],
            b"num_vis": 3072,
        }
    )
    return _write_tar_gz(folder / "cifar-10-python.tar.gz", "cifar-10-batches-py", members)


def write_cifar100_tar(folder: Path, n_train: int = 60, n_test: int = 20, seed: int = 0) -> Path:
    """Write cifar-100-python.tar.gz (cifar-100-python/: train, test, meta)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    used = np.array(CIFAR100_USED_FINE_LABELS)
    members = {}
    for fname, batch_label, n in (
        ("train", "training batch 1 of 1", n_train),
        ("test", "testing batch 1 of 1", n_test),
    ):
        pattern = _balanced_labels(rng, n, len(used))
        fine = [int(label) for label in used[pattern]]
        images = _class_images(rng, pattern, 32, 3)
        members[fname] = _py2_pickle(
            {
                b"filenames": [
                    f"{CIFAR100_FINE_LABEL_NAMES[label]}_s_{i:06d}.png".encode()
                    for i, label in enumerate(fine)
                ],
                b"batch_label": batch_label.encode(),
                b"fine_labels": fine,
                b"coarse_labels": [CIFAR100_FINE_TO_COARSE[label] for label in fine],
                b"data": _cifar_rows(images),
            }
        )
    members["meta"] = _py2_pickle(
        {
            b"fine_label_names": [name.encode() for name in CIFAR100_FINE_LABEL_NAMES],
            b"coarse_label_names": [name.encode() for name in CIFAR100_COARSE_LABEL_NAMES],
        }
    )
    return _write_tar_gz(folder / "cifar-100-python.tar.gz", "cifar-100-python", members)


def write_boston_housing_npz(folder: Path, n: int = 60, seed: int = 0) -> Path:
    """Write boston_housing.npz (x: (n, 13) float64, y: (n,) float64, y linear in x + noise)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    # Rough per-feature ranges of the real data (CRIM, ZN, INDUS, CHAS, NOX, RM, AGE, DIS,
    # RAD, TAX, PTRATIO, B, LSTAT).
    low = np.array([0.0, 0.0, 0.5, 0.0, 0.38, 3.5, 3.0, 1.1, 1.0, 187.0, 12.6, 0.3, 1.7])
    high = np.array(
        [90.0, 100.0, 28.0, 1.0, 0.87, 8.8, 100.0, 12.1, 24.0, 711.0, 22.0, 397.0, 38.0]
    )
    x = rng.uniform(low, high, size=(n, 13))
    x[:, 3] = np.round(x[:, 3])  # CHAS is a 0/1 dummy
    x[:, 8] = np.round(x[:, 8])  # RAD is an integer index
    # Linear in the features scaled to [-1, 1]; sum(|w|) keeps y roughly within 5..40 (k$).
    weights = np.array([-1.5, 0.5, -0.5, 1.0, -1.5, 5.0, -0.5, -1.5, 1.0, -1.0, -2.0, 0.5, -4.0])
    scaled = 2.0 * (x - low) / (high - low) - 1.0
    y = 22.5 + scaled @ weights + rng.normal(0.0, 1.0, size=n)
    path = folder / "boston_housing.npz"
    np.savez(path, x=x.astype(np.float64), y=y.astype(np.float64))
    return path


# ---- text archives: reuters.npz, imdb.npz and their word indexes

# Word ranks as in the word-index JSONs (1 = most frequent); sequences store rank - 1 + 1
# = rank (Keras adds index_from=3 when loading). Ranks 1-4 are filler words every text uses;
# each class owns a few topic words, so a tiny model separates the classes.
TEXT_FILLER = ("the", "of", "to", "and")
TEXT_TOPIC_WORDS = (
    ("cocoa", "beans", "harvest"),
    ("grain", "wheat", "corn"),
    ("oil", "barrel", "crude"),
    ("profit", "earnings", "dividend"),
    ("great", "wonderful", "loved"),
    ("awful", "boring", "worst"),
)


def _ragged(rows: list[list[int]]) -> np.ndarray:
    """A 1-D object array of int lists, as the upstream archives store texts."""
    array = np.empty(len(rows), dtype=object)
    for i, row in enumerate(rows):
        array[i] = row
    return array


def _texts(rng: np.random.Generator, labels: np.ndarray, topics: list[int]) -> np.ndarray:
    """One text per label: filler words with 2-4 of its class's topic words, 6-15 words."""
    rows = []
    for label in labels:
        length = int(rng.integers(6, 16))
        words = list(rng.integers(1, len(TEXT_FILLER) + 1, size=length))
        own = [len(TEXT_FILLER) + 1 + 3 * topics[label] + k for k in range(3)]
        for position in rng.choice(length, size=int(rng.integers(2, 5)), replace=False):
            words[position] = int(rng.choice(own))
        rows.append([int(w) for w in words])
    return _ragged(rows)


def write_text_word_index(folder: Path, name: str) -> Path:
    """Write `<name>_word_index.json`: word -> frequency rank (1-based), as Keras's files."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    words = list(TEXT_FILLER) + [w for topic in TEXT_TOPIC_WORDS for w in topic]
    path = folder / f"{name}_word_index.json"
    path.write_text(json.dumps({word: rank for rank, word in enumerate(words, start=1)}))
    return path


def write_reuters_npz(folder: Path, n: int = 80, seed: int = 0) -> Path:
    """Write reuters.npz (x: object array of int lists, y: int64 topics 0-3 of the 46)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    y = _balanced_labels(rng, n, 4)
    path = folder / "reuters.npz"
    np.savez(path, x=_texts(rng, y, [0, 1, 2, 3]), y=y.astype(np.int64))
    write_text_word_index(folder, "reuters")
    return path


def write_imdb_npz(folder: Path, n_train: int = 60, n_test: int = 30, seed: int = 0) -> Path:
    """Write imdb.npz (x_train, y_train, x_test, y_test; texts as object arrays, labels 0/1)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    y_train, y_test = _balanced_labels(rng, n_train, 2), _balanced_labels(rng, n_test, 2)
    path = folder / "imdb.npz"
    np.savez(
        path,
        x_train=_texts(rng, y_train, [5, 4]),
        y_train=y_train.astype(np.int64),
        x_test=_texts(rng, y_test, [5, 4]),
        y_test=y_test.astype(np.int64),
    )
    write_text_word_index(folder, "imdb")
    return path


# --------------------------------------------------------------------- photo archives

# The folders of cats_and_dogs_filtered.zip: (half, class, its file prefix, first number).
CATS_AND_DOGS_HALVES: tuple[tuple[str, str, str, int], ...] = (
    ("train", "cats", "cat", 0),
    ("train", "dogs", "dog", 0),
    ("validation", "cats", "cat", 2000),
    ("validation", "dogs", "dog", 2000),
)


def _jpeg(image: np.ndarray) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(image).save(out, format="JPEG", quality=90)
    return out.getvalue()


def write_cats_and_dogs_zip(
    folder: Path, n_train: int = 8, n_validation: int = 4, side: int = 24, seed: int = 0
) -> Path:
    """Write cats_and_dogs_filtered.zip as TensorFlow's transfer-learning tutorial downloads
    it: `cats_and_dogs_filtered/{train,validation}/{cats,dogs}/{cat,dog}.N.jpg` (train from 0,
    validation from 2000) beside `vectorize.py`, with the archive's folder entries; photos of
    varied sizes (around `side`), each class a bright block at its own corner."""
    import zipfile

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    top = "cats_and_dogs_filtered/"
    members: dict[str, bytes | None] = {top: None, f"{top}vectorize.py": b"import os\n"}
    for half, name, prefix, first in CATS_AND_DOGS_HALVES:
        members.setdefault(f"{top}{half}/", None)
        members[f"{top}{half}/{name}/"] = None
        for i in range(n_train if half == "train" else n_validation):
            height, width = side + int(rng.integers(0, 8)), side + int(rng.integers(0, 8))
            image = rng.integers(0, 70, size=(height, width, 3), dtype=np.uint8)
            block = slice(0, height // 2) if name == "cats" else slice(height // 2, height)
            image[block, : width // 2] = rng.integers(190, 256)
            members[f"{top}{half}/{name}/{prefix}.{first + i}.jpg"] = _jpeg(image)
    path = folder / "cats_and_dogs_filtered.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            info = zipfile.ZipInfo(member, date_time=(2016, 6, 15, 0, 0, 0))
            if data is None:
                info.external_attr = 0o40755 << 16 | 0x10
                archive.writestr(info, b"")
            else:
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, data)
    return path
