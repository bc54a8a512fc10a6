"""File safety: locks that say who holds them, atomic writes, and local paths.

A lock is an `flock` on a file that also names its holder (pid and role); the OS drops it when
the process dies, so a killed run never leaves a lock behind. A write goes beside its target and
is renamed over it, so a kill mid-write leaves the old file, never half a file."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO
from urllib.parse import urlparse
from urllib.request import url2pathname


def local_folder(location: str) -> Path | None:
    """The folder an artifact location names, when it is on this machine."""
    parsed = urlparse(location)
    return Path(url2pathname(parsed.path)) if parsed.scheme in ("", "file") else None


def try_lock(folder: Path, role: str) -> IO[str] | None:
    """The lock file of `folder`, now held by this process and saying who holds it and why,
    or None when another process holds it. The OS drops it when the process dies."""
    folder.mkdir(parents=True, exist_ok=True)
    handle = (folder / "lock").open("a+")  # not "w": that would blank the holder's line
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.truncate(0)
    handle.write(f"{os.getpid()} {role}\n")
    handle.flush()
    return handle


def holder(folder: Path) -> tuple[str, str]:
    """(pid, role) of the live process holding `folder`'s lock. It writes them right after
    locking: until then the file is empty or names a holder that died."""
    for _ in range(40):
        with contextlib.suppress(OSError, ValueError):
            pid, role = (folder / "lock").read_text().split()
            if pipeline_alive(int(pid)):
                return pid, role
        time.sleep(0.025)
    return "(not known)", "resuming"


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Held while a process trains a new run into `folder`."""
    handle = try_lock(folder, "training")
    if handle is None:
        raise BlockingIOError(f"{folder} is held by process {holder(folder)[0]}")
    with handle:
        yield


def replace_atomically(path: Path, data: bytes) -> None:
    """Write beside, then rename: a kill mid-write leaves the old file, never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
    except OSError as exc:  # a write to an open file names no file: say which
        os.unlink(temporary)
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    os.replace(temporary, path)


def pipeline_alive(pid: int) -> bool:
    """True while `pid` is a live pipeline process (not a recycled pid of something else)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"pipelines" in command
