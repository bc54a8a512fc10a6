"""Photo archives (`steps.data.sources.photos`): cats_vs_dogs through Keras's real download
function, fed a tiny cats_and_dogs_filtered.zip in the upstream layout."""

from __future__ import annotations

import urllib.request

import numpy as np
import pytest

from steps.data import cache, catalog
from steps.errors import DownloadError

from helpers import upstream_files

ORIGIN = "https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip"


@pytest.fixture
def mirrored(tmp_path, monkeypatch):
    folder = tmp_path / "upstream"
    upstream_files.write_cats_and_dogs_zip(folder, n_train=5, n_validation=3)
    monkeypatch.setenv("KERAS_LESSONS_DATA_ORIGIN", str(folder))
    return folder


def test_cats_vs_dogs_keeps_the_archives_train_and_validation_halves(mirrored, isolated):
    source = catalog.NAMED["cats_vs_dogs"].source((20, 28))
    dataset, status = cache.load_cached(source)
    assert status == "miss"
    assert dataset.class_names == ("cats", "dogs")
    assert dataset.x_train.shape == (10, 20, 28, 3) and dataset.x_train.dtype == np.uint8
    assert dataset.x_test.shape == (6, 20, 28, 3)  # the validation/ half is the test split
    assert np.bincount(dataset.y_train).tolist() == [5, 5]
    assert np.bincount(dataset.y_test).tolist() == [3, 3]
    assert dataset.pixel_max == 255.0
    # extracted where Keras's download function puts it; the archive beside it
    extracted = isolated / "datasets" / "cats_and_dogs_filtered" / "cats_and_dogs_filtered"
    assert sorted(p.name for p in (extracted / "validation" / "dogs").iterdir()) == [
        "dog.2000.jpg",
        "dog.2001.jpg",
        "dog.2002.jpg",
    ]
    assert (isolated / "datasets" / "cats_and_dogs_filtered_archive").is_file()
    # the same archive at the same size is a cache hit; another size is other content
    assert cache.load_cached(catalog.NAMED["cats_vs_dogs"].source((20, 28)))[1] == "hit"
    assert catalog.NAMED["cats_vs_dogs"].source((32, 32)).key != source.key


def test_cats_vs_dogs_without_network_names_the_file_and_where_keras_looks(isolated, monkeypatch):
    for name in ("http_proxy", "https_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    urllib.request.install_opener(None)  # urllib builds its proxies once, from the environment
    try:
        with pytest.raises(DownloadError) as error:
            catalog.resolve("cats_vs_dogs")
    finally:
        urllib.request.install_opener(None)
    message = str(error.value)
    assert message.startswith(f"cannot download cats_vs_dogs from {ORIGIN} (")
    archive = isolated / "datasets" / "cats_and_dogs_filtered_archive"
    assert f"Keras looks for {archive} (a copy of cats_and_dogs_filtered.zip)" in message


def test_only_photo_sets_take_an_image_size():
    assert [name for name, named in catalog.NAMED.items() if named.sized] == ["cats_vs_dogs"]
    assert catalog.is_photos("cats_vs_dogs") and catalog.is_photos("dir:/photos")
    assert not catalog.is_photos("cifar10")
