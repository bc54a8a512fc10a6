"""The exception types for failures the user can fix, and what to say about a place on disk
that cannot be written."""

from __future__ import annotations

import errno


class UserError(Exception):
    """Bad input or missing data: shown as one line on stderr, no traceback, run ends FAILED."""


class DownloadError(UserError):
    """A data set or weights file that is not on disk and cannot be downloaded (no network):
    the command-line exit code says so apart from other errors (see pipelines.cli)."""


class StorageError(UserError):
    """A full, read-only or unwritable place: no data set or parameter will get round it."""


# errno -> what to do; the OS's own words say what happened.
REMEDIES = {
    errno.ENOSPC: "free some space there",
    errno.EDQUOT: "free some space there",
    errno.EFBIG: "raise this shell's file-size limit (ulimit -f)",
    errno.EROFS: "remount it writable",
    errno.EACCES: "check its permissions",
    errno.EPERM: "check its permissions",
    errno.ENOTDIR: "a file stands where a folder is needed: move it",
}


def storage_problem(exc: OSError) -> tuple[str, str] | None:
    """(what happened, what to do) when `exc` is a place the user can fix, else None."""
    if exc.errno is None and " requested and " in str(exc):  # numpy's short write: no errno
        return f"only part of a file was written ({exc}): is the disk full?", REMEDIES[errno.ENOSPC]
    if exc.errno not in REMEDIES:
        return None
    return exc.strerror or errno.errorcode[exc.errno], REMEDIES[exc.errno]
