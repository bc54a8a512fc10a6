"""Ctrl-C and SIGTERM while a backup is being written: acted on once the backup is whole."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

# Ctrl-C and SIGTERM wait for a backup being written (see pipelines/cli.py's handler).
_saving = False


_interrupted = False


def interrupt_now_or_after_saving(signum=None, frame=None) -> None:
    """The signal handler: KeyboardInterrupt now, or as soon as the backup is whole."""
    global _interrupted
    if _saving:
        _interrupted = True
        return
    raise KeyboardInterrupt


def forget_pending_interrupt() -> None:
    """Drop a Ctrl-C or SIGTERM noted while a backup was written but not acted on (the fit
    failed meanwhile): a later run in the same process must not inherit it."""
    global _saving, _interrupted
    _saving = _interrupted = False


@contextlib.contextmanager
def uninterrupted() -> Iterator[None]:
    global _saving, _interrupted
    _saving = True
    try:
        yield
    finally:
        _saving = False
    if _interrupted:
        _interrupted = False
        raise KeyboardInterrupt
