"""npy cache step (lessons 54-57): convert a data set once, then read `.npy` files.

Layout: `<root>/npy/<name>-<key>/` holds one `.npy` per array and `manifest.json` with
each file's size, CRC-32 and stat stamp (size, mtime, inode). The folder is written under a
temporary name and renamed into place, so readers never see half a cache; a file whose size
or checksum does not match is reported and the entry rebuilt. As git's index does, a file
whose stamp is unchanged since it was written is trusted without reading it for the CRC
(25 of the 31 ms a CIFAR-10-sized hit took); any write, copy or restore changes the stamp.
The staging folder of a writer that was killed is removed by the next write to the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np

from steps import files
from steps.data.dataset import Dataset, Source
from steps.errors import StorageError, storage_problem

# Bump when the stored layout or a loader's output changes: old entries are then ignored.
FORMAT_VERSION = 1
CacheStatus = Literal["hit", "miss"]


def cache_root() -> Path:
    if env := os.environ.get("KERAS_LESSONS_CACHE"):
        return Path(env).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser()
    return base / "keras-lessons"


def content_key(source: Source) -> str:
    """What names the source's entry: its files (or download) and the cache format."""
    return hashlib.sha256(f"v{FORMAT_VERSION}:{source.key}".encode()).hexdigest()[:20]


def entry_dir(source: Source, root: Path) -> Path:
    return root / "npy" / f"{source.name}-{content_key(source)}"


def crc32(array: np.ndarray) -> int:
    return zlib.crc32(memoryview(np.ascontiguousarray(array)).cast("B"))


def stamp(path: Path) -> list[int]:
    info = path.stat()
    return [info.st_size, info.st_mtime_ns, info.st_ino]


class CorruptCache(Exception):
    """A cache entry that exists but cannot be trusted."""


def read_entry(folder: Path) -> Dataset:
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise CorruptCache(f"manifest unreadable: {exc}") from None
    try:
        return read_arrays(folder, manifest)
    except (KeyError, TypeError, AttributeError) as exc:  # valid JSON, not our manifest
        raise CorruptCache(f"manifest has the wrong shape ({type(exc).__name__}: {exc})") from None


def read_arrays(folder: Path, manifest: dict) -> Dataset:
    if manifest.get("format_version") != FORMAT_VERSION:
        raise CorruptCache(f"format version {manifest.get('format_version')}")
    arrays = {}
    for name, info in manifest["arrays"].items():
        path = folder / info["file"]
        if not path.is_file() or path.stat().st_size != info["bytes"]:
            raise CorruptCache(f"{path.name} is missing or has the wrong size")
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise CorruptCache(f"{path.name}: {exc}") from None
        if stamp(path) != info.get("stamp") and crc32(array) != info["crc32"]:
            raise CorruptCache(f"{path.name} fails its checksum")
        arrays[name] = array
    return Dataset.from_parts(manifest["meta"], arrays)


@contextlib.contextmanager
def writing(root: Path) -> Iterator[None]:
    """A full, read-only or unwritable cache folder: one line naming it and what to do."""
    try:
        yield
    except OSError as exc:
        if (problem := storage_problem(exc)) is None:
            raise
        happened, remedy = problem
        raise StorageError(
            f"cannot write the npy cache in {root}: {happened}; {remedy}, "
            "or point KERAS_LESSONS_CACHE elsewhere"
        ) from None


def staging_dir(folder: Path) -> Path:
    """A new, empty folder beside `folder` to write its entry in, named for
    `remove_leftovers`; only its entry's lock holder makes one (see `building`)."""
    return files.beside(folder, folder=True, prefix=f".tmp-{folder.name}-")


def write_entry(dataset: Dataset, folder: Path, key: str) -> None:
    """Written in a staging folder renamed into place; an entry another process renamed into
    place first is kept."""
    with files.replacing(folder, staging_dir(folder)) as staging:
        manifest: dict = {"format_version": FORMAT_VERSION, "key": key, "arrays": {}}
        for name, array in dataset.arrays().items():
            array = np.ascontiguousarray(array)
            np.save(staging / f"{name}.npy", array, allow_pickle=False)
            manifest["arrays"][name] = {
                "file": f"{name}.npy",
                "bytes": (staging / f"{name}.npy").stat().st_size,
                "crc32": crc32(array),
                "stamp": stamp(staging / f"{name}.npy"),  # renaming the folder keeps it
            }
        manifest["meta"] = dataset.meta()
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=1))


def discard(folder: Path) -> None:
    """Move a bad entry aside first, so no reader picks up a folder being deleted."""
    trash = folder.with_name(f".trash-{folder.name}-{os.getpid()}")
    try:
        folder.rename(trash)
    except OSError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def load_cached(source: Source, root: Path | None = None) -> tuple[Dataset, CacheStatus]:
    """The data set from the cache when intact, else from its source (then cached).

    Processes building the same entry at once take turns: the second finds the first's.
    """
    folder = entry_dir(source, root or cache_root())
    if cached := read_intact(folder, source.name):
        return cached, "hit"
    with building(folder):
        if cached := read_intact(folder, source.name):
            return cached, "hit"
        dataset = source.load()
        with writing(folder.parent.parent):
            remove_leftovers(folder)
            write_entry(dataset, folder, source.key)
    return read_entry(folder), "miss"


def read_intact(folder: Path, name: str) -> Dataset | None:
    if not folder.is_dir():
        return None
    try:
        return read_entry(folder)
    except CorruptCache as problem:
        warnings.warn(
            f"npy cache for {name} at {folder} is damaged ({problem}); rebuilding it",
            stacklevel=3,
        )
        discard(folder)
        return None


def lock_file(folder: Path) -> Path:
    return folder.parent.parent / "locks" / f"{folder.name}.lock"


@contextlib.contextmanager
def building(folder: Path, *, wait: bool = True) -> Iterator[bool]:
    """An exclusive lock per entry, released by the OS if the process dies. Yields whether
    it is held: always when waiting, else only if no other process held it."""
    with contextlib.ExitStack() as stack:
        with writing(folder.parent.parent):  # making the lock file: the cache's first write
            held = stack.enter_context(files.lock(lock_file(folder), wait=wait))
        yield held


def remove_leftovers(building_now: Path) -> None:
    """Staging folders of writers that died (a kill mid-write), and half-deleted entries.
    A writer holds its entry's lock as long as its staging folder exists, so a staging
    folder whose lock is free (or is ours: `building_now`) has no live writer."""
    for leftover in building_now.parent.glob(".tmp-*"):
        entry = leftover.with_name(leftover.name.removeprefix(".tmp-").rpartition("-")[0])
        if entry == building_now:
            shutil.rmtree(leftover, ignore_errors=True)
            continue
        with building(entry, wait=False) as free:
            if free:
                shutil.rmtree(leftover, ignore_errors=True)
    for trash in building_now.parent.glob(".trash-*"):  # never read; removing twice is harmless
        shutil.rmtree(trash, ignore_errors=True)
