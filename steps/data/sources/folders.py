"""Image folders written from bundled images, read as a user's `dir:PATH` is (lessons 63-64,
75-78), so the folder lessons run offline.

`digits_folder`: scikit-learn's digits (1,797 real 8x8 scans, bundled with it) as one
sub-folder of PNG files per class, `0/0000.png` ... `9/1796.png` (the number is the sample's
index in scikit-learn's set), enlarged to 64x64 grey images: the size the image lessons read
by default, so Keras's loader reads each file at its own size. The folder is written once into
the cache folder, `<cache>/folders/digits_folder-<key>/`, the key a checksum of the images,
their labels and how they are written (never file times). It is written under a temporary
name and renamed into place, so no reader sees half of one; one that lost files is rebuilt.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np

from steps import files
from steps.data import cache

# Bump when the written files change (side, resampling, names): old folders are then ignored.
FORMAT_VERSION = 1
DIGITS_SIDE = 64


def digits_folder(root: Path | None = None) -> Path:
    """The digits as a folder of class sub-folders of PNG files, written if missing."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images, labels = bunch.images.astype(np.uint8), bunch.target.astype(np.int64)
    described = f"v{FORMAT_VERSION}:side {DIGITS_SIDE}:bilinear:".encode()
    key = hashlib.sha256(described + images.tobytes() + labels.tobytes()).hexdigest()[:20]
    folder = (root or cache.cache_root()) / "folders" / f"digits_folder-{key}"
    if complete(folder, len(images)):
        return folder
    with cache.building(folder):  # another process writing it: wait, then use its folder
        if complete(folder, len(images)):
            return folder
        with cache.writing(folder.parent.parent):
            cache.remove_leftovers(folder)
            if folder.exists():
                warnings.warn(f"{folder} lost some of its files; writing it again", stacklevel=2)
                cache.discard(folder)
            with files.replacing(folder, cache.staging_dir(folder)) as staging:
                write_pngs(staging, images, labels, max_value=16)
    return folder


def complete(folder: Path, count: int) -> bool:
    return folder.is_dir() and sum(1 for _ in folder.glob("*/*.png")) == count


def write_pngs(folder: Path, images: np.ndarray, labels: np.ndarray, *, max_value: int) -> None:
    """One grey PNG per image in `folder/<label>/<index>.png`, 0..max_value made 0..255."""
    from PIL import Image

    for label in np.unique(labels):
        (folder / str(label)).mkdir()
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        grey = np.round(image.astype(np.float64) * 255 / max_value).astype(np.uint8)
        enlarged = Image.fromarray(grey).resize(
            (DIGITS_SIDE, DIGITS_SIDE), Image.Resampling.BILINEAR
        )
        enlarged.save(folder / str(label) / f"{index:04d}.png")
