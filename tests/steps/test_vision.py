"""steps.vision and the dir:PATH source: folder checks, content-keyed cache, per-class scores."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from steps import vision
from steps.data import cache, catalog
from steps.data.sources import image_folder
from steps.errors import UserError

from helpers.images import add_bad_files, write_image_folder


def test_scan_skips_unreadable_files_with_reasons(tmp_path):
    root = write_image_folder(tmp_path / "photos", per_class=3)
    add_bad_files(root)
    folder = image_folder.scan_image_folder(root)
    assert folder.class_names == ("cat", "dog")
    assert len(folder.files) == 6
    reasons = dict(folder.skipped)
    assert reasons == {
        "README.md": "not in a class sub-folder",
        "cat/broken.png": "cannot be decoded as an image (corrupt or truncated)",
        "dog/notes.txt": "not an image file (.bmp, .gif, .jpeg, .jpg, .png)",
    }


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ({}, "has no class sub-folders"),
        ({"cat": 2}, "has one class sub-folder (cat); a classifier needs two or more"),
        ({"cat": 2, "dog": 0}, "class folder(s) dog in"),
    ],
)
def test_scan_refuses_folders_it_cannot_classify(tmp_path, layout, message):
    from PIL import Image

    root = tmp_path / "photos"
    root.mkdir()
    for name, count in layout.items():
        (root / name).mkdir()
        (root / name / "readme.txt").write_text("no images here")
        for i in range(count):
            Image.new("RGB", (4, 4)).save(root / name / f"{i}.png")
    with pytest.raises(UserError) as error:
        image_folder.scan_image_folder(root)
    assert message in str(error.value)


def test_missing_folder_says_what_dir_expects(tmp_path):
    with pytest.raises(UserError, match=r"image folder not found: .*one sub-folder of images"):
        catalog.resolve(f"dir:{tmp_path / 'nowhere'}")


def test_folder_loads_resized_through_keras_and_labels_follow_folders(tmp_path):
    root = write_image_folder(tmp_path / "photos", per_class=4, side=16)
    add_bad_files(root)
    dataset = image_folder.image_folder_source(image_folder.scan_image_folder(root), (8, 12)).load()
    assert dataset.x_train.shape == (8, 8, 12, 3) and dataset.x_train.dtype == np.uint8
    assert dataset.class_names == ("cat", "dog")
    assert dataset.y_train.tolist() == [0] * 4 + [1] * 4
    assert dataset.is_image and dataset.pixel_max == 255.0
    # cats are bright top-left, dogs bottom-right: the resize kept that
    cat, dog = dataset.x_train[0].astype(float), dataset.x_train[-1].astype(float)
    assert cat[:2, :2].mean() > cat[-2:, -2:].mean() + 100
    assert dog[-2:, -2:].mean() > dog[:2, :2].mean() + 100


def test_cache_key_follows_contents_and_size_not_paths_or_times(tmp_path):
    root = write_image_folder(tmp_path / "photos", per_class=2)
    key = image_folder.source(root).key
    copy = shutil.copytree(root, tmp_path / "elsewhere" / "photos")  # new times, same bytes
    assert image_folder.source(copy).key == key
    assert image_folder.source(root, size=(32, 32)).key != key
    (copy / "cat" / "extra.png").write_bytes((root / "dog" / "dog_01.png").read_bytes())
    assert image_folder.source(copy).key != key


def test_second_read_of_a_folder_is_a_cache_hit(tmp_path):
    root = write_image_folder(tmp_path / "photos", per_class=2)
    first, status_1 = cache.load_cached(catalog.resolve(f"dir:{root}"), tmp_path / "cache")
    second, status_2 = cache.load_cached(catalog.resolve(f"dir:{root}"), tmp_path / "cache")
    assert (status_1, status_2) == ("miss", "hit")
    np.testing.assert_array_equal(first.x_train, second.x_train)
    assert second.class_names == ("cat", "dog")


def test_per_class_accuracy_counts_each_class():
    truth = np.array([0, 0, 0, 1, 1, 2])
    guess = np.array([0, 1, 0, 1, 1, 1])
    table = vision.per_class_accuracy(truth, guess, ("a", "b", "c", "d"))
    assert table["support"].tolist() == [3, 2, 1, 0]
    assert table["correct"].tolist() == [2, 2, 0, 0]
    np.testing.assert_allclose(table["accuracy"][:3], [2 / 3, 1.0, 0.0])
    assert np.isnan(table["accuracy"][3])  # no test samples: no score, not zero


def test_class_metric_names_are_mlflow_safe():
    assert vision.metric_name("T-shirt/top") == "test_accuracy_T-shirt_top"
    assert vision.metric_name("Ankle boot") == "test_accuracy_Ankle_boot"


def test_augmentation_acts_in_training_only():
    import keras

    inner = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Flatten()])
    model = vision.with_augmentation(inner, seed=1)
    x = np.random.default_rng(0).uniform(0, 255, size=(4, 16, 16, 3)).astype(np.float32)
    np.testing.assert_allclose(model(x, training=False), inner(x), rtol=1e-6)
    assert not np.allclose(model(x, training=True), inner(x))


def test_augmentation_needs_images_with_channels():
    import keras

    inner = keras.Sequential([keras.Input((8, 8)), keras.layers.Flatten()])
    with pytest.raises(UserError, match="augmentation needs images with channels"):
        vision.with_augmentation(inner, seed=1)
