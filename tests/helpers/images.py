"""Folders of images, one sub-folder per class, as `-P dataset=dir:PATH` reads them."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_image_folder(
    root: Path, classes: tuple[str, ...] = ("cat", "dog"), per_class: int = 12, side: int = 16
) -> Path:
    """Learnable photos: each class a bright square at its own corner, as PNG and JPEG."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for index, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            image = rng.integers(0, 60, size=(side, side, 3), dtype=np.uint8)
            corner = (index * side // 2) % side
            image[corner : corner + side // 2, corner : corner + side // 2] = 230
            suffix = "png" if i % 2 else "jpg"
            Image.fromarray(image).save(root / name / f"{name}_{i:02d}.{suffix}")
    return root


def add_bad_files(root: Path) -> None:
    """A corrupt PNG, a text file in a class folder and a stray file outside the classes."""
    (root / "cat" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (root / "dog" / "notes.txt").write_text("not an image")
    (root / "README.md").write_text("photos")
