"""steps/files.py: locks, atomic writes and local paths, checked with real processes."""

from __future__ import annotations

import ast
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from steps import files

from helpers.runs import REPO

# Holds the lock file argv[1] in role argv[2], says so, and keeps it until its stdin closes.
# Its last argument puts "pipelines" in its command line, as in a pipeline's: `holder` names
# only a live pipeline process, never a recycled pid.
HOLD = """
import sys
from pathlib import Path
from steps import files
with files.lock(Path(sys.argv[1]), wait=False, role=sys.argv[2]) as held:
    print(held, flush=True)
    sys.stdin.read()
"""

# Tries the lock file argv[1]: whether it got it, then who holds it when it did not.
TRY = """
import sys
from pathlib import Path
from steps import files
with files.lock(Path(sys.argv[1]), wait=False) as held:
    print(held, *([] if held else files.holder(Path(sys.argv[1]))), flush=True)
"""

# Waits for the lock file argv[1], then says it has it.
WAIT = """
import sys
from pathlib import Path
from steps import files
with files.lock(Path(sys.argv[1])) as held:
    print(held, flush=True)
"""


def python(code: str, *args: str, **kwargs) -> subprocess.Popen:
    env = os.environ | {"PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], env=env, text=True, stdout=subprocess.PIPE, **kwargs
    )


def holding(path: Path, role: str) -> subprocess.Popen:
    process = python(HOLD, str(path), role, "pipelines", stdin=subprocess.PIPE)
    assert process.stdout.readline() == "True\n"
    return process


def answer(process: subprocess.Popen) -> str:
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    return out.strip()


def test_a_held_lock_is_refused_to_another_process_which_sees_its_holder(tmp_path):
    path = tmp_path / "deep" / "lock"
    holder = holding(path, "training")
    try:
        assert answer(python(TRY, str(path))) == f"False {holder.pid} training"
        with files.lock(path, wait=False) as held:
            assert not held
    finally:
        holder.communicate("", timeout=60)
    assert answer(python(TRY, str(path))) == "True"


def test_a_waiting_lock_is_taken_when_its_holder_lets_go(tmp_path):
    path = tmp_path / "lock"
    holder = holding(path, "building")
    waiter = python(WAIT, str(path))
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            waiter.wait(timeout=1)
    finally:
        holder.communicate("", timeout=60)
    assert answer(waiter) == "True"


def test_the_lock_of_a_killed_holder_is_free_and_names_no_one(tmp_path):
    path = tmp_path / "lock"
    holder = holding(path, "resuming")
    holder.kill()
    holder.communicate(timeout=60)
    assert holder.returncode == -signal.SIGKILL
    with files.lock(path, wait=False) as held:
        assert held
    assert files.holder(path) == ("(not known)", "resuming")  # its pid is not named


def test_locked_refuses_a_second_process_naming_the_holder(tmp_path):
    holder = holding(tmp_path / "run" / "lock", "training")
    try:
        refused = pytest.raises(BlockingIOError, match=rf"run is held by process {holder.pid}$")
        with refused, files.locked(tmp_path / "run"):
            pass
    finally:
        holder.communicate("", timeout=60)
    with files.locked(tmp_path / "run"):
        assert (tmp_path / "run" / "lock").read_text() == f"{os.getpid()} training\n"


# Replaces argv[1] with 64 kB, past a 1 kB file-size limit: the kernel kills it mid-write.
KILLED_MID_WRITE = """
import resource, signal, sys
from pathlib import Path
from steps import files
signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # Python ignores it: then writes just fail
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # killed, with no core file left behind
resource.setrlimit(resource.RLIMIT_FSIZE, (1024, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
files.replace_atomically(Path(sys.argv[1]), b"new" * 65536)
"""

# Writes half of argv[1]'s new content in `replacing`, says so and waits to be killed.
KILLED_IN_BLOCK = """
import sys
from pathlib import Path
from steps import files
with files.replacing(Path(sys.argv[1])) as temporary:
    temporary.write_text("half of the")
    print(temporary, flush=True)
    sys.stdin.read()
"""


def test_an_atomic_write_killed_mid_way_leaves_the_old_content(tmp_path):
    target = tmp_path / "state.json"
    target.write_text("old")
    killed = python(KILLED_MID_WRITE, str(target))
    killed.communicate(timeout=60)
    assert killed.returncode == -signal.SIGXFSZ
    assert target.read_text() == "old"
    [left] = tmp_path.glob(".state.json-*.json")  # for its caller to clean
    assert 0 < left.stat().st_size <= 1024


def test_a_replacing_block_killed_mid_way_leaves_the_old_content(tmp_path):
    target = tmp_path / "predictions.csv"
    target.write_text("an earlier result\n")
    writer = python(KILLED_IN_BLOCK, str(target), stdin=subprocess.PIPE)
    temporary = Path(writer.stdout.readline().strip())
    assert temporary.parent == tmp_path and temporary.name.startswith(".predictions.csv-")
    assert temporary.suffix == ".csv" and temporary.read_text() == "half of the"
    writer.kill()
    writer.communicate(timeout=60)
    assert target.read_text() == "an earlier result\n"


def test_a_replacing_block_renames_into_place_or_leaves_nothing(tmp_path):
    target = tmp_path / "out" / "model.keras"
    with files.replacing(target) as temporary:
        assert temporary.exists() and temporary.suffix == ".keras"
        temporary.write_text("first")
    assert target.read_text() == "first"
    with pytest.raises(ValueError), files.replacing(target) as temporary:
        temporary.write_text("second, half")
        raise ValueError
    assert target.read_text() == "first"
    assert sorted(p.name for p in target.parent.iterdir()) == ["model.keras"]


def test_a_replaced_file_gets_the_mode_a_plain_write_gives(tmp_path):
    mask = os.umask(0o027)
    try:
        files.replace_atomically(tmp_path / "a.txt", "text")
        (tmp_path / "b.txt").write_text("text")
    finally:
        os.umask(mask)
    modes = {stat.S_IMODE((tmp_path / name).stat().st_mode) for name in ("a.txt", "b.txt")}
    assert modes == {0o640}
    assert (tmp_path / "a.txt").read_bytes() == b"text"


def test_a_folder_already_in_place_is_kept_and_the_staging_one_removed(tmp_path):
    target = tmp_path / "npy" / "entry"
    staging = files.beside(target, folder=True, prefix=".tmp-entry-")
    assert staging.is_dir() and staging.name.startswith(".tmp-entry-")
    with files.replacing(target, staging) as folder:
        (folder / "mine").write_text("mine")
        target.mkdir()
        (target / "theirs").write_text("theirs")  # another process renamed its copy first
    assert [p.name for p in target.parent.iterdir()] == ["entry"]
    assert [p.name for p in target.iterdir()] == ["theirs"]


def test_a_failed_write_names_the_target(tmp_path):
    target = tmp_path / "out" / "full.bin"
    process = python(
        "import resource, signal, sys\n"
        "from pathlib import Path\n"
        "from steps import files\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1024, hard))\n"
        "try:\n"
        "    files.replace_atomically(Path(sys.argv[1]), b'x' * 65536)\n"
        "except OSError as exc:\n"
        "    print(exc.filename)\n",
        str(target),
    )
    assert answer(process) == str(target)
    assert not list(target.parent.iterdir())


@pytest.mark.parametrize(
    ("location", "folder"),
    [
        ("file:///a%20b", Path("/a b")),
        ("file:///srv/mlruns/1/abc/artifacts", Path("/srv/mlruns/1/abc/artifacts")),
        ("/plain/folder", Path("/plain/folder")),
        ("s3://bucket/artifacts", None),
        ("mlflow-artifacts:/1/abc/artifacts", None),
    ],
)
def test_local_folder_decodes_local_locations_only(location, folder):
    assert files.local_folder(location) == folder


def test_no_other_module_locks_replaces_or_reads_a_file_uri_itself():
    """One home for file safety: a lock, an atomic rename or a file: URI decoded elsewhere
    would be a second copy, with its own mistakes."""
    found = []
    for path in [p for top in ("steps", "pipelines", "tools") for p in REPO.glob(f"{top}/**/*.py")]:
        if path == Path(files.__file__).resolve():
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                names += [alias.name for alias in node.names]
                found += [(path.name, name) for name in names if name in {"fcntl", "url2pathname"}]
            elif (
                isinstance(node, ast.Attribute)
                and node.attr in {"flock", "lockf", "replace", "rename"}
                and isinstance(node.value, ast.Name)
                and node.value.id in {"os", "fcntl"}
            ):
                found.append((path.name, f"{node.value.id}.{node.attr}"))
    assert found == []
