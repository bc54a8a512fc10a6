"""Load and npy-cache steps: `steps.data.catalog`, `steps.data.sources`, `steps.data.cache`.

Real readers, real Keras downloader, real cache. The only stand-in is the network: Keras's
data sets come from a folder of tiny files in the upstream formats (`upstream_files`),
named by `KERAS_LESSONS_DATA_ORIGIN`.
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from steps.data import cache, catalog
from steps.data.dataset import Dataset, Source, file_sha256
from steps.data.sources import csv_file, remote
from steps.errors import UserError

from helpers import upstream_files

MIRROR_ENV = "KERAS_LESSONS_DATA_ORIGIN"
KNOWN = (
    "boston_housing, breast_cancer, cats_vs_dogs, cifar10, cifar100, diabetes, digits, "
    "digits_folder, fashion_mnist, imdb, iris, linear, mnist, reuters, sentences, sequences, "
    "series, wine"
)


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def mirror(tmp_path_factory) -> Path:
    """The stand-in for the download servers: tiny upstream files under upstream names."""
    folder = tmp_path_factory.mktemp("mirror")
    upstream_files.write_mnist_npz(folder, n_train=30, n_test=10, seed=1)
    upstream_files.write_fashion_mnist_gz(folder, n_train=30, n_test=10, seed=2)
    upstream_files.write_cifar10_tar(folder, n_per_batch=4, n_test=6, seed=3)
    upstream_files.write_cifar100_tar(folder, n_train=10, n_test=5, seed=4)
    return folder


@pytest.fixture
def offline(mirror, monkeypatch) -> Path:
    monkeypatch.setenv(MIRROR_ENV, str(mirror))
    return mirror


def write_npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# ------------------------------------------------------------------ resolve


def test_unknown_name_lists_every_registered_data_set():
    message = (
        f"unknown data set 'mnsit'; choose one of {KNOWN}, or give npz:PATH, csv:PATH or dir:PATH"
    )
    with pytest.raises(UserError, match=f"^{re.escape(message)}$"):
        catalog.resolve("mnsit")


def test_every_source_named_in_the_catalog_is_a_function_of_its_module():
    """The catalog names its sources (imported when resolved): a typo shows here, not when
    someone first asks for that data set."""
    named = [n.source for n in catalog.NAMED.values() if isinstance(n.source, catalog.Lazy)]
    lazy = [*named, *catalog.SCHEMES.values(), *catalog.FOLDERS.values()]
    for source in lazy:
        assert callable(source.target()), source


def test_unknown_uri_scheme():
    message = (
        "unknown data set URI scheme 'parquet' in 'parquet:x.pq'; "
        "use npz:PATH, csv:PATH or dir:PATH"
    )
    with pytest.raises(UserError, match=f"^{re.escape(message)}$"):
        catalog.resolve("parquet:x.pq")


@pytest.mark.parametrize("kind", ["npz", "csv"])
def test_missing_file_names_the_path(tmp_path, kind):
    path = tmp_path / f"nowhere.{kind}"
    message = f"{kind} file not found: {path}; check the path after '{kind}:'"
    with pytest.raises(UserError, match=f"^{re.escape(message)}$"):
        catalog.resolve(f"{kind}:{path}", target="y")


# ------------------------------------------------------------------ npz:


def test_npz_with_wrong_keys_lists_the_keys_found(tmp_path):
    path = write_npz(tmp_path / "odd.npz", features=np.zeros((4, 2)), labels=np.arange(4))
    source = catalog.resolve(f"npz:{path}")
    message = (
        f"{path} has keys ['features', 'labels']; expected x_train, y_train, x_test, y_test "
        "(as Keras's archives have them) or x, y"
    )
    with pytest.raises(UserError, match=f"^{re.escape(message)}$"):
        source.load()


def test_npz_that_is_not_an_archive(tmp_path):
    path = tmp_path / "broken.npz"
    path.write_bytes(b"not a zip file")
    with pytest.raises(UserError, match=re.escape(f"cannot read {path} as a .npz archive")):
        catalog.resolve(f"npz:{path}").load()


def test_npz_rows_of_x_and_y_must_match(tmp_path):
    path = write_npz(tmp_path / "short.npz", x=np.zeros((5, 2)), y=np.zeros(4))
    with pytest.raises(UserError, match=re.escape(f"{path}: x has 5 rows but y has 4")):
        catalog.resolve(f"npz:{path}").load()


def test_npz_with_x_y_keys_is_split_as_keras_splits_boston_housing(tmp_path):
    """Seed 113, last 20% for test: the same rows keras.datasets.boston_housing gives."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    path = write_npz(tmp_path / "table.npz", x=x, y=y)
    source = catalog.resolve(f"npz:{path}")
    assert (source.name, source.key) == ("table", file_sha256(path))
    ds = source.load()
    assert ds.task == "regression"
    order = np.arange(40)
    np.random.RandomState(113).shuffle(order)
    np.testing.assert_array_equal(ds.x_train, x[order[:32]])
    np.testing.assert_array_equal(ds.y_test, y[order[32:]])
    assert ds.class_names == () and not ds.is_image


def test_boston_housing_comes_through_the_mirror_split_like_keras(tmp_path, monkeypatch):
    """keras.datasets.boston_housing.load_data() itself refuses files other than the real one
    (pinned hash, no absolute paths), so the split is checked against its documented rule."""
    path = upstream_files.write_boston_housing_npz(tmp_path / "up", n=60)
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path / "up"))
    ds = catalog.resolve("boston_housing").load()
    with np.load(path) as archive:
        x, y = archive["x"], archive["y"]
    order = np.arange(60)
    np.random.RandomState(113).shuffle(order)
    np.testing.assert_array_equal(ds.x_train, x[order[:48]])
    np.testing.assert_array_equal(ds.y_test, y[order[48:]])
    assert (ds.task, len(ds.feature_names)) == ("regression", 13)


def test_npz_with_x_y_keys_keeps_integer_class_names(tmp_path):
    path = write_npz(
        tmp_path / "xy.npz", x=np.zeros((20, 2)), y=np.array([3, 7] * 10, dtype=np.uint8)
    )
    ds = catalog.resolve(f"npz:{path}").load()
    assert ds.class_names == ("3", "7")


def test_npz_with_keras_keys_keeps_its_test_split_and_encodes_classes(tmp_path):
    rng = np.random.default_rng(1)
    x_train = rng.integers(0, 256, size=(20, 6, 6), dtype=np.uint8)
    x_test = rng.integers(0, 256, size=(6, 6, 6), dtype=np.uint8)
    y_train = np.array([3, 7] * 10, dtype=np.uint8)
    y_test = np.array([7, 7, 3, 3, 7, 3], dtype=np.uint8)
    path = write_npz(
        tmp_path / "pics.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test
    )
    ds = catalog.resolve(f"npz:{path}").load()
    assert (ds.name, ds.task, ds.class_names) == ("pics", "classification", ("3", "7"))
    np.testing.assert_array_equal(ds.y_train, [0, 1] * 10)
    np.testing.assert_array_equal(ds.y_test, [1, 1, 0, 0, 1, 0])
    np.testing.assert_array_equal(ds.x_train, x_train)
    np.testing.assert_array_equal(ds.x_test, x_test)
    assert ds.is_image and ds.pixel_max == 255.0  # uint8 with 2+ sample axes: images


def test_npz_with_column_labels_like_keras_cifar(tmp_path):
    y_train = np.array([[3], [7]] * 5, dtype=np.uint8)
    y_test = np.array([[7], [3]], dtype=np.uint8)
    path = write_npz(
        tmp_path / "cols.npz",
        x_train=np.zeros((10, 2)),
        y_train=y_train,
        x_test=np.zeros((2, 2)),
        y_test=y_test,
    )
    ds = catalog.resolve(f"npz:{path}").load()
    assert ds.class_names == ("3", "7")
    np.testing.assert_array_equal(ds.y_test.ravel(), [1, 0])


# ------------------------------------------------------------------ csv:


def test_csv_without_target_says_how_to_name_it(tmp_path):
    path = write_csv(tmp_path / "houses.csv", "rooms,price\n3,100\n")
    message = f"csv:{path} needs the column to predict: add -P target=COLUMN"
    with pytest.raises(UserError, match=f"^{re.escape(message)}$"):
        catalog.resolve(f"csv:{path}")


def test_csv_with_unknown_target_lists_the_columns(tmp_path):
    path = write_csv(tmp_path / "houses.csv", "rooms,area,price\n3,70,100\n")
    message = f"target column 'prize' is not in {path}; its columns are rooms, area, price"
    with pytest.raises(UserError, match=f"^{re.escape(message)}$"):
        catalog.resolve(f"csv:{path}", target="prize").load()


def test_empty_csv(tmp_path):
    path = write_csv(tmp_path / "empty.csv", "")
    message = f"{path} is empty; a CSV needs a header row and data rows"
    with pytest.raises(UserError, match=f"^{re.escape(message)}$"):
        catalog.resolve(f"csv:{path}", target="price").load()


def test_csv_without_rows(tmp_path):
    path = write_csv(tmp_path / "header.csv", "rooms,price\n")
    message = f"{path} has no rows with a value in 'price'"
    with pytest.raises(UserError, match=f"^{re.escape(message)}$"):
        catalog.resolve(f"csv:{path}", target="price").load()


def test_csv_with_missing_feature_values_names_the_columns(tmp_path):
    """`-P missing=refuse`: refused in the words the check step uses for NaN from any source."""
    path = write_csv(tmp_path / "gaps.csv", "rooms,area,price\n3,,100\n,,120\n2,50,90\n")
    message = (
        f"{path}: 3 values are NaN in columns 'rooms' (1), 'area' (2) (first at row 0); "
        "fill or drop them (or -P missing=impute or drop)"
    )
    refuse = replace(csv_file.DEFAULTS, missing="refuse")
    with pytest.raises(UserError, match=f"^{re.escape(message)}$"):
        catalog.resolve(f"csv:{path}", target="price", table=refuse).load()


def test_csv_categorical_column_is_one_hot_encoded(tmp_path):
    """One column per category seen twice in the training rows (the two reds, when both
    are there), and one shared by the rarer and the unseen."""
    text = "size,colour,kind\n1.5,red,a\n2.5,green,b\n3.5,blue,a\n4.5,red,b\n"
    path = write_csv(tmp_path / "shapes.csv", text)
    ds = catalog.resolve(f"csv:{path}", target="kind").load()
    assert ds.feature_names[0] == "size" and ds.feature_names[-1] == "colour_infrequent_sklearn"
    assert set(ds.feature_names[1:-1]) <= {"colour_red"}
    assert ds.x_train.dtype == np.float32
    np.testing.assert_array_equal(ds.x_train[:, 0], [1.5, 2.5, 3.5, 4.5])
    np.testing.assert_array_equal(ds.x_train[:, 1:].sum(axis=1), [1, 1, 1, 1])
    assert (ds.task, ds.class_names) == ("classification", ("a", "b"))
    np.testing.assert_array_equal(ds.y_train, [0, 1, 0, 1])
    assert ds.x_test is None and not ds.is_image and ds.front is not None


def test_csv_integer_labels_become_indices_with_their_names(tmp_path):
    rows = "".join(f"{i},{label}\n" for i, label in enumerate([3, 7, 7, 3, 3, 7, 3, 7, 7, 3]))
    path = write_csv(tmp_path / "l.csv", "x,y\n" + rows)
    ds = catalog.resolve(f"csv:{path}", target="y").load()
    assert (ds.task, ds.class_names) == ("classification", ("3", "7"))
    np.testing.assert_array_equal(ds.y_train, [0, 1, 1, 0, 0, 1, 0, 1, 1, 0])
    assert ds.y_train.dtype == np.int64


def test_csv_rows_with_no_target_are_dropped(tmp_path):
    path = write_csv(tmp_path / "t.csv", "x,y\n1,cat\n2,\n3,dog\n")
    ds = catalog.resolve(f"csv:{path}", target="y").load()
    np.testing.assert_array_equal(ds.x_train, [[1], [3]])
    assert ds.class_names == ("cat", "dog")


@pytest.mark.parametrize(
    ("values", "task"),
    [
        ([1.5, 2.25, 3.0, 4.75, 5.5, 6.0, 7.25, 8.0, 9.5, 10.0], "regression"),
        (list(range(100)), "regression"),  # integers, but too many distinct values for classes
        ([0, 1] * 50, "classification"),
        (["cat", "dog"] * 5, "classification"),
        ([2.0, 4.0, 2.0, 4.0, 2.0, 4.0, 2.0, 4.0, 2.0, 4.0], "classification"),
    ],
)
def test_task_is_inferred_from_the_target(tmp_path, values, task):
    text = "x,y\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values))
    path = write_csv(tmp_path / "d.csv", text)
    ds = catalog.resolve(f"csv:{path}", target="y").load()
    assert ds.task == task
    if task == "regression":
        assert ds.class_names == ()
        np.testing.assert_allclose(ds.y_train, np.asarray(values, dtype=float))
    else:
        assert ds.n_classes == len(set(values))


def test_csv_key_depends_on_content_and_target(tmp_path):
    path = write_csv(tmp_path / "d.csv", "a,b\n1,2\n")
    key_a = catalog.resolve(f"csv:{path}", target="a").key
    key_b = catalog.resolve(f"csv:{path}", target="b").key
    path.write_text("a,b\n1,3\n")
    assert len({key_a, key_b, catalog.resolve(f"csv:{path}", target="a").key}) == 3


# ------------------------------------------------------------------ Keras's data sets


def test_mnist_through_the_mirror(offline, isolated):
    source = catalog.resolve("mnist")
    upstream = offline / "mnist.npz"
    assert source.key == file_sha256(upstream)  # mirror copies are hashed, not pinned
    ds = source.load()
    assert (ds.name, ds.task, ds.pixel_max) == ("mnist", "classification", 255.0)
    assert ds.class_names == tuple("0123456789")
    assert ds.x_train.shape == (30, 28, 28) and ds.x_train.dtype == np.uint8
    assert ds.x_test.shape == (10, 28, 28)
    with np.load(upstream) as raw:
        for name, array in ds.arrays().items():
            np.testing.assert_array_equal(array, raw[name])
    assert (isolated / "datasets" / "mnist.npz").is_file()  # where Keras keeps its copy


def test_fashion_mnist_through_the_mirror(offline):
    ds = catalog.resolve("fashion_mnist").load()
    assert ds.x_train.shape == (30, 28, 28) and ds.x_test.shape == (10, 28, 28)
    assert ds.class_names[0] == "T-shirt/top" and ds.class_names[-1] == "Ankle boot"
    assert ds.n_classes == 10 and ds.pixel_max == 255.0
    labels = gzip.decompress((offline / "t10k-labels-idx1-ubyte.gz").read_bytes())[8:]
    np.testing.assert_array_equal(ds.y_test, np.frombuffer(labels, np.uint8))
    images = gzip.decompress((offline / "train-images-idx3-ubyte.gz").read_bytes())[16:]
    assert ds.x_train[1, 5, 9] == images[1 * 784 + 5 * 28 + 9]


def raw_cifar_member(archive: Path, member: str) -> dict:
    with tarfile.open(archive) as tar:
        return pickle.loads(tar.extractfile(member).read(), encoding="bytes")


def test_cifar10_through_the_mirror_keeps_rgb_channel_order(offline):
    ds = catalog.resolve("cifar10").load()
    assert ds.x_train.shape == (20, 32, 32, 3) and ds.x_test.shape == (6, 32, 32, 3)
    assert ds.x_train.dtype == np.uint8 and ds.pixel_max == 255.0
    assert ds.class_names == upstream_files.CIFAR10_LABEL_NAMES
    archive = offline / "cifar-10-python.tar.gz"
    second = raw_cifar_member(archive, "cifar-10-batches-py/data_batch_2")
    row = second[b"data"][0]  # 1024 red values, then 1024 green, then 1024 blue; row-major
    image = ds.x_train[4]  # 4 images per batch: the first of batch 2
    for r, c in [(0, 0), (3, 17), (31, 31), *np.argwhere(image.max(axis=2) > 100)[:50]]:
        expected = [row[channel * 1024 + r * 32 + c] for channel in range(3)]
        assert list(image[r, c]) == expected, (r, c)
    assert (image[..., 0] != image[..., 1]).any()  # the channels differ, so order matters
    test = raw_cifar_member(archive, "cifar-10-batches-py/test_batch")
    np.testing.assert_array_equal(ds.y_test, test[b"labels"])


def test_cifar100_through_the_mirror_uses_fine_labels(offline):
    ds = catalog.resolve("cifar100").load()
    assert ds.x_train.shape == (10, 32, 32, 3) and ds.x_test.shape == (5, 32, 32, 3)
    assert ds.n_classes == 100 and ds.class_names[:2] == ("apple", "aquarium_fish")
    raw = raw_cifar_member(offline / "cifar-100-python.tar.gz", "cifar-100-python/train")
    np.testing.assert_array_equal(ds.y_train, raw[b"fine_labels"])
    assert set(ds.y_train.tolist()) <= set(upstream_files.CIFAR100_USED_FINE_LABELS)
    assert ds.class_names[70] == "rose"


def test_missing_mirror_file_says_where_keras_looks(tmp_path, monkeypatch, isolated):
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path / "no-such-mirror"))
    with pytest.raises(UserError) as caught:
        catalog.resolve("mnist")
    message = str(caught.value)
    assert message.startswith("cannot download mnist from file://")
    assert f"Keras looks for {isolated / 'datasets' / 'mnist.npz'} (a copy of mnist.npz)" in (
        message
    )
    assert MIRROR_ENV in message and "-P dataset=digits" in message
    assert not (isolated / "datasets" / "mnist.npz").exists()  # no half file left behind


def test_offline_without_mirror_says_where_keras_looks(isolated):
    try:
        socket.getaddrinfo("storage.googleapis.com", 443)
    except OSError:
        pass
    else:
        pytest.skip("the network is reachable here; this checks the offline message")
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(5)
    try:
        source = catalog.resolve("mnist")  # the pinned hash: nothing fetched yet
        assert source.key == "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
        with pytest.raises(UserError) as caught:
            source.load()
    finally:
        socket.setdefaulttimeout(previous)
    message = str(caught.value)
    assert message.startswith(f"cannot download mnist from {remote.KERAS_ORIGIN}mnist.npz")
    assert str(isolated / "datasets" / "mnist.npz") in message
    assert "-P dataset=digits" in message


def test_keras_home_set_after_import_is_honoured(offline, tmp_path, monkeypatch):
    import keras  # noqa: F401  (Keras reads KERAS_HOME here, once)

    home = tmp_path / "later_home"  # made after Keras was imported, so unknown to it
    home.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(home))
    source = catalog.resolve("cifar10")
    assert (home / "datasets" / "cifar-10-batches-py-target_archive").is_file()
    assert source.load().x_train.shape == (20, 32, 32, 3)


# ------------------------------------------------------------------ scikit-learn and toy sets


@pytest.mark.parametrize(
    ("name", "shape", "task", "n_classes"),
    [
        ("iris", (150, 4), "classification", 3),
        ("wine", (178, 13), "classification", 3),
        ("breast_cancer", (569, 30), "classification", 2),
        ("diabetes", (442, 10), "regression", 0),
    ],
)
def test_sklearn_tables(name, shape, task, n_classes):
    ds = catalog.resolve(name).load()
    assert ds.x_train.shape == shape and len(ds.y_train) == shape[0]
    assert (ds.task, ds.n_classes, ds.x_test, ds.pixel_max) == (task, n_classes, None, None)
    assert len(ds.feature_names) == shape[1]


def test_digits_are_8x8_images_up_to_16():
    source = catalog.resolve("digits")
    assert source.key.startswith("sklearn-")
    ds = source.load()
    assert ds.x_train.shape == (1797, 8, 8) and ds.x_train.dtype == np.uint8
    assert ds.is_image and ds.pixel_max == 16.0 and ds.x_train.max() == 16
    assert ds.class_names == tuple("0123456789") and ds.feature_names == ()


def test_linear_toy_is_y_about_2x_plus_1():
    first, second = catalog.resolve("linear").load(), catalog.resolve("linear").load()
    np.testing.assert_array_equal(first.y_train, second.y_train)  # fixed seed
    assert first.task == "regression" and first.x_train.shape == (100, 1)
    np.testing.assert_array_equal(first.x_train[:, 0], np.arange(1, 101))
    slope, intercept = np.polyfit(first.x_train[:, 0], first.y_train, 1)
    assert slope == pytest.approx(2.0, abs=0.02) and intercept == pytest.approx(1.0, abs=0.6)
    residual = first.y_train - (2 * first.x_train[:, 0] + 1)
    assert 0.5 < residual.std() < 1.5


# ------------------------------------------------------------------ npy cache


@pytest.fixture
def images_npz(tmp_path) -> Path:
    rng = np.random.default_rng(5)
    return write_npz(
        tmp_path / "pics.npz",
        x_train=rng.integers(0, 256, size=(24, 8, 8), dtype=np.uint8),
        y_train=np.arange(24) % 3,
        x_test=rng.integers(0, 256, size=(6, 8, 8), dtype=np.uint8),
        y_test=np.arange(6) % 3,
    )


def cache_entries(tmp_path: Path) -> list[Path]:
    return sorted(p for p in (tmp_path / "cache" / "npy").iterdir() if not p.name.startswith("."))


def copies(ds: Dataset) -> dict[str, np.ndarray]:
    return {name: np.array(array) for name, array in ds.arrays().items()}


def assert_same(ds: Dataset, expected: dict[str, np.ndarray]) -> None:
    assert ds.arrays().keys() == expected.keys()
    for name, array in expected.items():
        np.testing.assert_array_equal(ds.arrays()[name], array)


def test_cache_miss_then_hit_with_identical_read_only_memmaps(tmp_path, images_npz):
    first, status = cache.load_cached(catalog.resolve(f"npz:{images_npz}"))
    assert status == "miss"
    expected = copies(first)
    second, status = cache.load_cached(catalog.resolve(f"npz:{images_npz}"))
    assert status == "hit"
    assert_same(second, expected)
    assert (
        second.meta()
        == first.meta()
        == {
            "name": "pics",
            "task": "classification",
            "class_names": ["0", "1", "2"],
            "feature_names": [],
            "pixel_max": 255.0,
        }
    )
    for array in second.arrays().values():
        assert isinstance(array, np.memmap) and not array.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        second.x_train[0, 0, 0] = 1
    [entry] = cache_entries(tmp_path)
    assert entry.name.startswith("pics-")
    manifest = json.loads((entry / "manifest.json").read_text())
    assert sorted(manifest["arrays"]) == ["x_test", "x_train", "y_test", "y_train"]


def counting_source(name: str = "counted") -> tuple[Source, list[int]]:
    calls: list[int] = []

    def load() -> Dataset:
        calls.append(1)
        return Dataset(name, "regression", np.arange(12.0).reshape(6, 2), np.arange(6.0))

    return Source(name=name, key="fixed-key", load=load), calls


def test_cache_hit_does_not_load_the_source_again(tmp_path):
    source, calls = counting_source()
    statuses = [cache.load_cached(source)[1] for _ in range(3)]
    assert statuses == ["miss", "hit", "hit"] and len(calls) == 1


def test_cache_root_argument_overrides_the_environment(tmp_path):
    source, _ = counting_source()
    cache.load_cached(source, root=tmp_path / "elsewhere")
    assert cache.entry_dir(source, tmp_path / "elsewhere").is_dir()
    assert not (tmp_path / "cache").exists()


def truncate(entry: Path) -> None:
    path = entry / "x_train.npy"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip_last_byte(entry: Path) -> None:
    path = entry / "x_train.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def flip_header_byte(entry: Path) -> None:
    path = entry / "x_train.npy"
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF  # the magic string: not an .npy any more, same size
    path.write_bytes(bytes(data))


def remove_array(entry: Path) -> None:
    (entry / "y_test.npy").unlink()


def garble_manifest(entry: Path) -> None:
    (entry / "manifest.json").write_text('{"format_version": 1, "arr')


def old_format(entry: Path) -> None:
    manifest = json.loads((entry / "manifest.json").read_text())
    manifest["format_version"] = 0
    (entry / "manifest.json").write_text(json.dumps(manifest))


def manifest_of(shape: object):
    """Valid JSON that is not a manifest: a list, no arrays, an array without its file."""

    def damage(entry: Path) -> None:
        (entry / "manifest.json").write_text(json.dumps(shape))

    return damage


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (truncate, "x_train.npy is missing or has the wrong size"),
        (flip_last_byte, "x_train.npy fails its checksum"),
        (flip_header_byte, "x_train.npy: "),
        (remove_array, "y_test.npy is missing or has the wrong size"),
        (garble_manifest, "manifest unreadable"),
        (old_format, "format version 0"),
        (manifest_of([1, 2]), "manifest has the wrong shape (AttributeError"),
        (manifest_of({"format_version": 1}), "manifest has the wrong shape (KeyError"),
        (
            manifest_of({"format_version": 1, "arrays": {"x_train": "x_train.npy"}}),
            "manifest has the wrong shape (TypeError",
        ),
    ],
)
def test_damaged_cache_is_reported_and_rebuilt(tmp_path, images_npz, damage, reason):
    ds, _ = cache.load_cached(catalog.resolve(f"npz:{images_npz}"))
    expected = copies(ds)
    del ds  # no live memory map over a file about to be cut
    [entry] = cache_entries(tmp_path)
    damage(entry)
    pattern = rf"npy cache for pics at {re.escape(str(entry))} is damaged \({re.escape(reason)}"
    with pytest.warns(UserWarning, match=pattern):
        rebuilt, status = cache.load_cached(catalog.resolve(f"npz:{images_npz}"))
    assert status == "miss"
    assert_same(rebuilt, expected)
    again, status = cache.load_cached(catalog.resolve(f"npz:{images_npz}"))
    assert status == "hit"
    assert_same(again, expected)
    assert cache_entries(tmp_path) == [entry]
    assert [p.name for p in entry.parent.iterdir()] == [entry.name]  # no trash left over


def test_leftover_staging_folder_is_removed_when_its_entry_is_written(tmp_path, images_npz):
    source = catalog.resolve(f"npz:{images_npz}")
    npy = tmp_path / "cache" / "npy"
    leftover = npy / f".tmp-{cache.entry_dir(source, tmp_path / 'cache').name}-crashed"
    leftover.mkdir(parents=True)
    (leftover / "x_train.npy").write_bytes(b"half written")
    assert [cache.load_cached(source)[1] for _ in range(2)] == ["miss", "hit"]
    ds, _ = cache.load_cached(source)
    with np.load(images_npz) as raw:
        np.testing.assert_array_equal(ds.x_train, raw["x_train"])
    assert not leftover.exists() and len(cache_entries(tmp_path)) == 1


def test_a_killed_writer_leaves_nothing_behind_and_a_live_one_is_left_alone(tmp_path, images_npz):
    """The kernel kills the first writer half-way through its first file (SIGXFSZ past a
    1 kB file-size limit); the second is alive, holding its entry and its staging folder,
    when a third process writes the cache."""
    killed = subprocess.run(
        [sys.executable, "-B", "-c", KILLED_MID_WRITE, f"npz:{images_npz}"],  # -B: no .pyc
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert killed.returncode == -signal.SIGXFSZ, killed.stderr[-2000:]
    npy = tmp_path / "cache" / "npy"
    [dead] = npy.glob(".tmp-pics-*")
    live = subprocess.Popen(
        [sys.executable, "-c", LIVE_WRITER, str(npy / "live-0123")],
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        staging = Path(live.stdout.readline().strip())
        assert staging.is_dir()
        source, _ = counting_source()
        assert cache.load_cached(source)[1] == "miss"
        assert not dead.exists()
        assert staging.is_dir()
    finally:
        live.communicate("", timeout=60)
    assert cache.load_cached(catalog.resolve(f"npz:{images_npz}"))[1] == "miss"
    assert not staging.exists()  # its writer gone, the next write removed it
    assert [p.name for p in npy.iterdir() if p.name.startswith(".")] == []


KILLED_MID_WRITE = """
import resource, signal, sys
from steps.data import cache, catalog
signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # Python ignores it: then writes just fail
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # killed, with no core file left behind
source = catalog.resolve(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (1024, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
cache.load_cached(source)
"""

LIVE_WRITER = """
import sys
from dataclasses import replace
from pathlib import Path
from steps.data import cache
entry = Path(sys.argv[1])
with cache.building(entry):
    print(cache.staging_dir(entry), flush=True)
    sys.stdin.read()
"""


def test_entry_written_meanwhile_by_another_process_is_kept(tmp_path):
    """Two runs converting the same data set at once: the second rename keeps the first."""
    other = Dataset("race", "regression", np.ones((4, 2)), np.ones(4))

    def load() -> Dataset:
        cache.write_entry(other, cache.entry_dir(source, tmp_path / "cache"), source.key)
        return Dataset("race", "regression", np.ones((4, 2)), np.ones(4))

    source = Source(name="race", key="k", load=load)
    ds, status = cache.load_cached(source)
    assert status == "miss"
    np.testing.assert_array_equal(ds.x_train, np.ones((4, 2)))
    assert len(cache_entries(tmp_path)) == 1
    assert not [p for p in (tmp_path / "cache" / "npy").iterdir() if p.name.startswith(".")]


def test_changed_csv_content_gets_its_own_entry(tmp_path):
    path = write_csv(tmp_path / "prices.csv", "rooms,price\n1,10.5\n2,20.5\n3,30.25\n")
    first, status = cache.load_cached(catalog.resolve(f"csv:{path}", target="price"))
    assert status == "miss"
    np.testing.assert_array_equal(first.y_train, [10.5, 20.5, 30.25])
    path.write_text("rooms,price\n1,11.5\n2,21.5\n3,31.25\n4,41.75\n")
    second, status = cache.load_cached(catalog.resolve(f"csv:{path}", target="price"))
    assert status == "miss"
    np.testing.assert_array_equal(second.y_train, [11.5, 21.5, 31.25, 41.75])
    assert len(cache_entries(tmp_path)) == 2
    path.write_text("rooms,price\n1,10.5\n2,20.5\n3,30.25\n")
    assert cache.load_cached(catalog.resolve(f"csv:{path}", target="price"))[1] == "hit"


def test_keras_data_set_through_the_cache(offline, tmp_path):
    first, status = cache.load_cached(catalog.resolve("cifar10"))
    assert status == "miss"
    second, status = cache.load_cached(catalog.resolve("cifar10"))
    assert status == "hit"
    assert second.x_train.shape == (20, 32, 32, 3) and second.class_names[0] == "airplane"
    np.testing.assert_array_equal(second.x_train, first.x_train)


def test_a_copied_back_entry_is_checked_by_checksum_even_with_its_old_times(tmp_path, images_npz):
    """Unchanged stat stamps skip the CRC; a copy has new inodes, so a byte flipped in it is
    found even when the copy keeps the original modification times (cp -p, rsync -t)."""
    ds, _ = cache.load_cached(catalog.resolve(f"npz:{images_npz}"))
    expected = copies(ds)
    del ds
    [entry] = cache_entries(tmp_path)
    backup = tmp_path / "backup"
    shutil.copytree(entry, backup)  # copy2: modification times kept
    path = backup / "x_train.npy"
    times = path.stat()
    flip_last_byte(backup)
    os.utime(path, ns=(times.st_atime_ns, times.st_mtime_ns))
    shutil.rmtree(entry)
    backup.rename(entry)
    with pytest.warns(UserWarning, match=r"x_train\.npy fails its checksum"):
        rebuilt, status = cache.load_cached(catalog.resolve(f"npz:{images_npz}"))
    assert status == "miss"
    assert_same(rebuilt, expected)
