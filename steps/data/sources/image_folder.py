"""Folders of class sub-folders of images: `dir:PATH` (lessons 63-64, 78)."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from steps.data.dataset import Dataset, Source, file_sha256
from steps.errors import UserError

# What Keras's directory loader reads; it passes over other files silently, we count them.
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
DEFAULT_IMAGE_SIZE = (64, 64)


@dataclass(frozen=True)
class ImageFolder:
    """A checked folder of class sub-folders: the readable images and the files passed over."""

    root: Path
    class_names: tuple[str, ...]
    files: tuple[tuple[str, int, str], ...]  # (path under root, bytes, sha256) per readable image
    skipped: tuple[tuple[str, str], ...]  # (path under root, why)


def image_problem(path: Path) -> str:
    """Why Keras's loader could not use this file, or '' when it decodes as an image."""
    import tensorflow as tf

    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        return f"not an image file ({', '.join(IMAGE_EXTENSIONS)})"
    try:  # the decoder Keras's loader uses, so a file passed here cannot fail it later
        tf.io.decode_image(tf.io.read_file(str(path)), channels=3, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.OutOfRangeError, tf.errors.DataLossError):
        return "cannot be decoded as an image (corrupt or truncated)"
    return ""


def scan_image_folder(path: Path) -> ImageFolder:
    """Check every file up front, so a bad one is skipped and counted, never a crash mid-load."""
    from steps.backends import require_tensorflow_installed

    # TensorFlow's decoder checks each file, Keras's directory loader is built on tf.data.
    require_tensorflow_installed("reading a dir: image folder")
    root = path.expanduser()
    if not root.is_dir():
        raise UserError(
            f"image folder not found: {root}; give dir:PATH, a folder with one sub-folder of "
            "images per class (an absolute path: mlflow run works in the project folder)"
        )
    root = root.resolve()
    if root == Path(root.anchor):  # its sub-folders are the system's, and hold no classes
        raise UserError(
            f"{root} is the file system's root, not a folder of class sub-folders of images; "
            "give dir:PATH, the folder that holds one sub-folder of images per class"
        )
    entries = sorted(root.iterdir())
    classes = tuple(p.name for p in entries if p.is_dir() and not p.name.startswith("."))
    skipped = [(p.name, "not in a class sub-folder") for p in entries if p.is_file()]
    if not classes:
        raise UserError(f"{root} has no class sub-folders; put each class's images in its own")
    if len(classes) == 1:
        raise UserError(
            f"{root} has one class sub-folder ({classes[0]}); a classifier needs two or more"
        )
    files, counts = [], dict.fromkeys(classes, 0)
    for name in classes:
        for file in sorted(p for p in (root / name).rglob("*") if p.is_file()):
            relative = file.relative_to(root).as_posix()
            if problem := image_problem(file):
                skipped.append((relative, problem))
                continue
            files.append((relative, file.stat().st_size, file_sha256(file)))
            counts[name] += 1
    empty = [name for name, count in counts.items() if count == 0]
    if empty:
        raise UserError(
            f"class folder(s) {', '.join(empty)} in {root} hold no readable images; "
            "add images (.png, .jpg, .bmp, .gif) or remove the folder"
        )
    return ImageFolder(root, classes, tuple(files), tuple(skipped))


def image_folder_source(folder: ImageFolder, size: tuple[int, int] = DEFAULT_IMAGE_SIZE) -> Source:
    """Lessons 63-64: Keras's directory loader, resized; the key hashes contents, not times."""
    description = json.dumps(
        {"classes": folder.class_names, "files": folder.files, "size": size, "color": "rgb"}
    )
    key = hashlib.sha256(description.encode()).hexdigest()

    def load() -> Dataset:
        import keras

        with tempfile.TemporaryDirectory() as staging:  # only the files that passed the scan
            for relative, _, _ in folder.files:
                link = Path(staging, relative)
                link.parent.mkdir(parents=True, exist_ok=True)
                try:
                    link.symlink_to(folder.root / relative)
                except OSError:
                    shutil.copyfile(folder.root / relative, link)
            images = keras.utils.image_dataset_from_directory(
                staging,
                labels="inferred",
                label_mode="int",
                class_names=list(folder.class_names),
                color_mode="rgb",
                image_size=size,
                batch_size=256,
                shuffle=False,
                verbose=False,
            )
            batches = [(np.asarray(x), np.asarray(y)) for x, y in images]
        x = np.concatenate([x for x, _ in batches])
        return Dataset(
            name=folder.root.name,
            task="classification",
            x_train=np.clip(np.round(x), 0, 255).astype(np.uint8),
            y_train=np.concatenate([y for _, y in batches]).astype(np.int64),
            class_names=folder.class_names,
            pixel_max=255.0,
        )

    return Source(name=folder.root.name, key=key, load=load)


def source(path: Path, target: str = "", size: tuple[int, int] = DEFAULT_IMAGE_SIZE) -> Source:
    """`-P dataset=dir:PATH` for any pipeline (the sub-folders are the classes, so `target`
    means nothing here); files that cannot be read are skipped."""
    folder = scan_image_folder(path)
    if folder.skipped:
        print(f"skipped {len(folder.skipped)} unreadable or non-image files in {folder.root}")
    return image_folder_source(folder, size)
