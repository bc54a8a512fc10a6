"""Keras's download function, the offline mirror, and content keys for its files."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from steps.data.dataset import OFFLINE_HINT, Dataset, Source, file_sha256
from steps.errors import DownloadError

KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
TORONTO_ORIGIN = "https://www.cs.toronto.edu/~kriz/"
# A folder or URL holding copies of the upstream files under their upstream names
# (an offline mirror); such copies are not checked against Keras's pinned hashes.
MIRROR_ENV = "KERAS_LESSONS_DATA_ORIGIN"


@dataclass(frozen=True)
class Remote:
    """One upstream file as Keras's loader names, fetches and pins it."""

    fname: str  # the name get_file gives it under $KERAS_HOME/<subdir>
    url: str
    sha256: str | None = None
    extract: bool = False
    subdir: str = "datasets"


def keras_home() -> Path:
    return Path(os.environ.get("KERAS_HOME", "~/.keras")).expanduser()


def local_copy(remote: Remote) -> Path:
    name = f"{remote.fname}_archive" if remote.extract else remote.fname
    return keras_home() / remote.subdir / name


def fetch(dataset: str, remote: Remote) -> Path:
    """Keras's own download function, pointed at the mirror when one is set."""
    import keras

    mirror = os.environ.get(MIRROR_ENV, "")
    origin, sha = remote.url, remote.sha256
    if mirror:
        base = mirror if "://" in mirror else Path(mirror).resolve().as_uri()
        origin, sha = f"{base.rstrip('/')}/{remote.url.rsplit('/', 1)[-1]}", None
    try:
        path = keras.utils.get_file(
            remote.fname,
            origin=origin,
            file_hash=sha,
            extract=remote.extract,
            cache_subdir=remote.subdir,
            cache_dir=str(keras_home()),  # Keras reads KERAS_HOME only once, at import
        )
    except Exception as exc:
        if "URL fetch failure" not in str(exc) and not isinstance(exc, OSError):
            raise
        raise DownloadError(
            f"cannot download {dataset} from {origin} ({exc}); Keras looks for "
            f"{local_copy(remote)} (a copy of {remote.url.rsplit('/', 1)[-1]}): put it there, "
            f"or set {MIRROR_ENV} to a folder of upstream files, or use {OFFLINE_HINT}"
        ) from None
    return Path(path)


def remote_key(dataset: str, remotes: tuple[Remote, ...]) -> str:
    """Pinned hashes identify official files without touching them; others are hashed."""
    if not os.environ.get(MIRROR_ENV) and all(r.sha256 for r in remotes):
        return "+".join(r.sha256 or "" for r in remotes)
    hashes = []
    for remote in remotes:
        path = fetch(dataset, remote)
        if path.is_dir():  # an extracted archive: hash the archive itself
            path = local_copy(remote)
        hashes.append(file_sha256(path))
    return "+".join(hashes)


def keras_source(
    name: str, remotes: tuple[Remote, ...], parse: Callable[[list[Path]], Dataset]
) -> Source:
    def load() -> Dataset:
        return parse([fetch(name, remote) for remote in remotes])

    return Source(name=name, key=remote_key(name, remotes), load=load)
