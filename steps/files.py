"""File safety: locks that say who holds them, atomic writes, and local paths.

A lock is an `flock` on a file, which may also name its holder (pid and role); the OS drops it
when the process dies, so a killed run never leaves a lock behind. A write goes to a temporary
beside its target and is renamed over it, so a kill mid-write leaves the old file, never half a
file. (The `filelock` package truncates the lock file on every try, which would blank the
holder's line, and waits by polling: hence this module.)"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname


def local_folder(location: str) -> Path | None:
    """The folder an artifact location names, when it is on this machine."""
    parsed = urlparse(location)
    return Path(url2pathname(parsed.path)) if parsed.scheme in ("", "file") else None


@contextlib.contextmanager
def lock(path: Path, *, wait: bool = True, role: str = "") -> Iterator[bool]:
    """An exclusive lock on the file `path` (made, with its folder, if missing) for the block.
    Yields whether it is held: always when waiting, else only if no other process held it.
    With a `role`, the file then names this process and the role (see `holder`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:  # not "w": that would blank the holder's line
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            held = False
        else:
            held = True
            if role:
                handle.truncate(0)
                handle.write(f"{os.getpid()} {role}\n")
                handle.flush()
        yield held


def holder(path: Path) -> tuple[str, str]:
    """(pid, role) of the live process holding the lock file `path`. It writes them right
    after locking: until then the file is empty or names a holder that died."""
    for _ in range(40):
        with contextlib.suppress(OSError, ValueError):
            pid, role = path.read_text().split()
            if pipeline_alive(int(pid)):
                return pid, role
        time.sleep(0.025)
    return "(not known)", "resuming"


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Held while a process trains a new run into `folder`."""
    with lock(folder / "lock", wait=False, role="training") as held:
        if not held:
            raise BlockingIOError(f"{folder} is held by process {holder(folder / 'lock')[0]}")
        yield


def beside(path: Path, *, folder: bool = False, prefix: str | None = None) -> Path:
    """A new, empty file (or folder) in `path`'s folder that no other process is given: named
    `prefix` (by default `.<name>-`), a random part and, for a file, `path`'s ending (which
    `model.save` checks). A file gets the mode a plain write would give it."""
    prefix = f".{path.name}-" if prefix is None else prefix
    path.parent.mkdir(parents=True, exist_ok=True)
    if folder:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=path.parent))
    while True:
        candidate = path.with_name(f"{prefix}{secrets.token_hex(4)}{path.suffix}")
        with contextlib.suppress(FileExistsError):
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return candidate


@contextlib.contextmanager
def replacing(path: Path, temporary: Path | None = None) -> Iterator[Path]:
    """A temporary beside `path` for the block to write (`temporary`, made by `beside`, else
    a new file), renamed over `path` when the block ends without an error. A folder already in
    place is kept (another process wrote it meanwhile: only an empty one can be replaced). The
    temporary is gone after the block; one a killed process left is the caller's to clean."""
    temporary = beside(path) if temporary is None else temporary
    try:
        yield temporary
        try:
            os.replace(temporary, path)
        except OSError:
            if not (temporary.is_dir() and path.is_dir()):
                raise
    finally:
        if temporary.is_dir() and not temporary.is_symlink():
            shutil.rmtree(temporary, ignore_errors=True)
        else:
            temporary.unlink(missing_ok=True)


def replace_atomically(path: Path, data: bytes | str) -> None:
    """Write `data` (text as UTF-8) beside `path`, then rename it over `path`."""
    with replacing(path) as temporary:
        try:
            temporary.write_bytes(data.encode() if isinstance(data, str) else data)
        except OSError as exc:  # a write to an open file names no file: say which
            raise OSError(exc.errno, exc.strerror, str(path)) from None


def pipeline_alive(pid: int) -> bool:
    """True while `pid` is a live pipeline process (not a recycled pid of something else)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"pipelines" in command
