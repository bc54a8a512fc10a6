"""TensorFlow's C++ log lines, kept off the terminal unless the user asks for them.

A plain run would show about ten: CUDA probing ("failed call to cuInit"), oneDNN and CPU
notices, and a NodeDef ERROR line that op determinism triggers on every fit. Level 3 of
TF_CPP_MIN_LOG_LEVEL hides what TensorFlow logs once loaded (2 still lets the ERROR lines
through); what its libraries log while loading, before absl's logging is set up, ignores
the level, so those lines are taken out of what the import writes to stderr. A user who
sets TF_CPP_MIN_LOG_LEVEL (0 shows everything) gets exactly what it says.

The servers do the same: TensorBoard imports TensorFlow on its first request, so it is
imported quietly up front; MLflow's scoring server loads the model in processes of its own,
whose stderr goes through `without_native_lines`.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, MutableMapping

LEVEL = "TF_CPP_MIN_LOG_LEVEL"
QUIET_LEVEL = "3"  # FATAL only
# absl's notice, then its INFO, WARNING and ERROR lines: `E0000 00:00:17.5 123 file.cc:52] ...`
NATIVE_LINE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\)|[IWE]\d{4} [\d:.]+ +\d+ \S+:\d+\]"
)


def quiet_unless_set(environ: MutableMapping[str, str]) -> bool:
    """Sets the quiet level when the user set none; True when it did."""
    if LEVEL in environ:
        return False
    environ[LEVEL] = QUIET_LEVEL
    return True


@contextlib.contextmanager
def native_lines_dropped() -> Iterator[None]:
    """What the process writes to stderr inside the block, less TensorFlow's C++ log lines.

    Those are written by C++ to file descriptor 2, not through `sys.stderr`: the descriptor
    points at a temporary file meanwhile, and the other lines are written back after."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            lines = caught.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(without_native_lines(lines)))
            sys.stderr.flush()


def without_native_lines(lines: Iterable[str]) -> Iterator[str]:
    return (line for line in lines if not NATIVE_LINE.match(line))


def import_quietly(module: str) -> None:
    """Import `module` (Keras, TensorFlow), quietly unless the user set the level."""
    quiet = quiet_unless_set(os.environ)
    if module in sys.modules:
        return
    with native_lines_dropped() if quiet else contextlib.nullcontext():
        importlib.import_module(module)


def import_keras() -> None:
    """Import Keras, and with it its backend, quietly unless the user set the level."""
    import_quietly("keras")


def run_quietly(command: list[str]) -> int:
    """`command`'s exit code; its processes' stderr, less TensorFlow's C++ lines unless the
    user set the level, goes to ours line by line."""
    if not quiet_unless_set(os.environ):
        return subprocess.call(command)
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True, errors="replace") as child:
        try:
            for line in without_native_lines(child.stderr):
                sys.stderr.write(line)
                sys.stderr.flush()
        except KeyboardInterrupt:  # Ctrl-C reached the child too: let it finish stopping
            child.wait()
            return 130
    return child.returncode
