"""Photo archives fetched from upstream and read as folders of class sub-folders (lessons 64,
78).

`cats_vs_dogs`: the 3,000 photos of Kaggle's Dogs vs. Cats that TensorFlow's transfer-learning
tutorial downloads (`cats_and_dogs_filtered.zip`, 65 MB): `cats_and_dogs_filtered/train/
{cats,dogs}/*.jpg` (1,000 photos each) and `cats_and_dogs_filtered/validation/{cats,dogs}/*.jpg`
(500 each). The archive is fetched once with Keras's download function, as every other named
set, and extracted into `$KERAS_HOME/datasets/cats_and_dogs_filtered/`; each half is then read
by the same reader as `-P dataset=dir:PATH` (every file decoded up front, resized to
`-P image_size=`). The archive's own split is kept: its validation half is the test split.
Upstream pins no checksum for this file, so its content key is the archive's own SHA-256.
"""

from __future__ import annotations

import hashlib
import json

from steps.data.dataset import Dataset, Source
from steps.data.sources.image_folder import (
    DEFAULT_IMAGE_SIZE,
    image_folder_source,
    scan_image_folder,
)
from steps.data.sources.remote import Remote, fetch, remote_key
from steps.errors import UserError

CATS_AND_DOGS = Remote(
    "cats_and_dogs_filtered",
    "https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip",
    extract=True,
)


def split_folders(
    name: str,
    remote: Remote,
    top: str,
    *,
    train: str = "train",
    test: str = "test",
    size: tuple[int, int] = DEFAULT_IMAGE_SIZE,
) -> Source:
    """An archive of `top/<train>/<class>/...` and `top/<test>/<class>/...`: two image
    folders, read as `dir:PATH` reads one, kept as the train and test splits."""
    described = json.dumps({"archive": remote_key(name, (remote,)), "size": list(size)})
    key = hashlib.sha256(described.encode()).hexdigest()

    def load() -> Dataset:
        root = fetch(name, remote) / top
        halves = []
        for half in (train, test):
            folder = scan_image_folder(root / half)
            if folder.skipped:
                print(
                    f"skipped {len(folder.skipped)} unreadable or non-image files in {folder.root}"
                )
            halves.append((folder.class_names, image_folder_source(folder, size).load()))
        (train_classes, train_set), (test_classes, test_set) = halves
        if train_classes != test_classes:
            raise UserError(
                f"{name}: {train}/ holds classes {', '.join(train_classes)} but {test}/ holds "
                f"{', '.join(test_classes)}; the archive in {root.parent} is not the upstream one"
            )
        return Dataset(
            name=name,
            task="classification",
            x_train=train_set.x_train,
            y_train=train_set.y_train,
            x_test=test_set.x_train,
            y_test=test_set.y_train,
            class_names=train_classes,
            pixel_max=255.0,
        )

    return Source(name=name, key=key, load=load)


def cats_vs_dogs(size: tuple[int, int] = DEFAULT_IMAGE_SIZE) -> Source:
    """Lesson 78's dogs and cats (and lesson 64's two classes of photos)."""
    return split_folders(
        "cats_vs_dogs", CATS_AND_DOGS, "cats_and_dogs_filtered", test="validation", size=size
    )
