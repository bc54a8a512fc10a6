"""The dashboards answer only to their own host names (no DNS rebinding), served for real."""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import optuna
import pytest

from tools.host_check import allowed_hosts, host_name

from helpers.runs import REPO
from helpers.servers import LOADING_LINES, Server, free_port, start, stop


def status(port: int, path: str, host: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers={"Host": host})
        return connection.getresponse().status
    finally:
        connection.close()


@contextmanager
def serving(*args: str, env: dict[str, str] | None = None) -> Iterator[int]:
    """`python -m tools.servers ARGS` on a free port, until it answers; stopped afterwards."""
    port = free_port()
    command = [sys.executable, "-m", "tools.servers", *args, "--port", str(port)]
    server = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"server did not start: {server.stdout.read()}") from None
                time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.parametrize(
    ("header", "name"),
    [("127.0.0.1:6006", "127.0.0.1"), ("[::1]:6006", "[::1]"), ("a.example", "a.example")],
)
def test_host_name_drops_the_port(header, name):
    assert host_name(header) == name


def test_allowed_hosts_are_the_local_names_the_bound_address_and_those_given():
    assert allowed_hosts("0.0.0.0", ["board.example", " "]) == {
        "localhost",
        "127.0.0.1",
        "[::1]",
        "0.0.0.0",
        "board.example",
    }
    assert "[::1]" in allowed_hosts("::1")


@pytest.mark.slow
def test_tensorboard_refuses_a_foreign_host_name(tmp_path):
    with serving("tensorboard", "--logdir", str(tmp_path)) as port:
        assert status(port, "/", f"127.0.0.1:{port}") == 200
        assert status(port, "/", f"localhost:{port}") == 200
        assert status(port, "/", f"rebound.example:{port}") == 403
        assert status(port, "/data/runs", "rebound.example") == 403


def test_optuna_dashboard_refuses_a_foreign_host_name_and_reads_optuna_storage(tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    optuna.create_study(storage=storage, study_name="served")
    env = {"OPTUNA_STORAGE": storage, "PATH": "/usr/bin:/bin"}
    with serving("optuna", "--allowed-hosts", "board.example", env=env) as port:
        assert status(port, "/api/studies", f"127.0.0.1:{port}") == 200
        assert status(port, "/api/studies", f"board.example:{port}") == 200
        assert status(port, "/api/studies", f"rebound.example:{port}") == 403


# ------------------------------------------------------------------ TensorBoard's run names


def run_with_traces(client, experiment_id: str, name: str, tmp_path, parent: str = "") -> str:
    """A run whose artifacts hold TensorBoard event files, as a lesson's run does."""
    from tensorboard.summary import Writer

    tags = {"mlflow.parentRunId": parent} if parent else {}
    run = client.create_run(experiment_id, run_name=name, tags=tags)
    traces = tmp_path / "traces" / run.info.run_id
    for part in ("train", "validation"):
        writer = Writer(str(traces / part))
        writer.add_scalar("epoch_loss", 1.0, 0)
        writer.close()
    client.log_artifacts(run.info.run_id, str(traces), "tensorboard")
    return run.info.run_id


def tensorboard_runs(folder) -> set[str]:
    from tensorboard.backend.event_processing.plugin_event_multiplexer import EventMultiplexer

    return set(EventMultiplexer().AddRunsFromDirectory(str(folder)).Reload().Runs())


def test_tensorboard_lists_runs_by_experiment_and_run_name(tracking, tmp_path):
    from tools.traces import trace_tree

    tune = tracking.create_experiment("tune", artifact_location=str(tmp_path / "a1"))
    parent = run_with_traces(tracking, tune, "tune dnn", tmp_path)
    run_with_traces(tracking, tune, "trial 0", tmp_path, parent=parent)
    twin = run_with_traces(tracking, tune, "trial 0", tmp_path, parent=parent)  # named the same
    tabular = tracking.create_experiment("tabular", artifact_location=str(tmp_path / "a2"))
    run_with_traces(tracking, tabular, "dnn · iris", tmp_path)
    tracking.create_run(tabular, run_name="no traces")

    assert trace_tree(tmp_path / "all") == 4
    assert tensorboard_runs(tmp_path / "all") == {
        f"{experiment}/{run}/{part}"
        for experiment, run in (
            ("tune", "tune dnn"),
            ("tune", "tune dnn/trial 0"),
            ("tune", f"tune dnn/trial 0 ({twin[:8]})"),
            ("tabular", "dnn · iris"),
        )
        for part in ("train", "validation")
    }
    assert trace_tree(tmp_path / "one", experiment="tabular") == 1
    assert trace_tree(tmp_path / "parent", run="tune dnn") == 3  # with its trials
    assert trace_tree(tmp_path / "child", run=twin) == 1


@pytest.mark.slow
def test_make_tensorboard_serves_the_named_runs_without_tensorflows_loading_lines(
    lesson_env, tracking, tmp_path
):
    import json

    experiment = tracking.create_experiment("tabular", artifact_location=str(tmp_path / "a"))
    run_with_traces(tracking, experiment, "dnn · iris", tmp_path)
    with started_tensorboard(lesson_env, tmp_path, "--experiment", "tabular") as server:
        with urllib.request.urlopen(f"{server.url}/data/runs") as answer:
            runs = json.load(answer)
        for page in ("/data/plugins_listing", "/data/plugin/scalars/tags"):  # TensorFlow loads
            server.ready(page)
    assert sorted(runs) == ["tabular/dnn · iris/train", "tabular/dnn · iris/validation"]
    output = server.log.read_text(errors="replace")
    assert "TensorBoard 2." in output and not any(line in output for line in LOADING_LINES), output


@pytest.mark.slow
def test_make_tensorboard_over_several_experiments_links_to_each_alone(
    lesson_env, tracking, tmp_path
):
    """TensorBoard charts a tag of every run shown on one axis: over two experiments it says
    so, with an address per experiment whose run filter shows its runs alone."""
    from tools.servers import mixed_experiments

    for experiment, name in (("tune", "tune dnn"), ("dnn_regression", "dnn · diabetes")):
        found = tracking.create_experiment(experiment, artifact_location=str(tmp_path / name))
        run_with_traces(tracking, found, name, tmp_path)
    env = lesson_env | {"TMPDIR": str(tmp_path)}
    with started_tensorboard(env, tmp_path) as server:
        pass
    lines = server.log.read_text().splitlines()
    shared = "2 experiments share each chart (dnn_regression, tune): their losses on one axis"
    [at] = [n for n, line in enumerate(lines) if line.startswith(shared)]
    assert lines[at + 1 : at + 3] == [
        f"  {server.url}/?runFilter=%5Ednn_regression%2F#timeseries",
        f"  {server.url}/?runFilter=%5Etune%2F#timeseries",
    ]
    (tmp_path / "one" / "tune").mkdir(parents=True)
    assert mixed_experiments(tmp_path / "one", server.url) == []  # EXP=tune: nothing mixed


@pytest.mark.slow
@pytest.mark.parametrize("stopped_by", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_make_tensorboard_removes_its_tree_of_links_when_stopped(
    stopped_by, lesson_env, tracking, tmp_path
):
    found = tracking.create_experiment("tabular", artifact_location=str(tmp_path / "a"))
    run = run_with_traces(tracking, found, "dnn · iris", tmp_path)
    env = lesson_env | {"TMPDIR": str(tmp_path)}
    with started_tensorboard(env, tmp_path, stopped_by=stopped_by) as server:
        [tree] = tmp_path.glob("tensorboard-runs-*")
        assert (tree / "tabular" / "dnn · iris" / "train").is_symlink()
    assert server.process.returncode is not None
    assert not list(tmp_path.glob("tensorboard-runs-*")), server.log.read_text()[-2000:]
    artifacts = tracking.list_artifacts(run, "tensorboard")  # the traces linked to are kept
    assert [a.path for a in artifacts] == ["tensorboard/train", "tensorboard/validation"]


@contextmanager
def started_tensorboard(
    env, folder, *args: str, stopped_by: int = signal.SIGTERM
) -> Iterator[Server]:
    """`make tensorboard ARGS`'s server over the store, once it serves its runs; then
    `stopped_by` to its process alone (as a terminal's Ctrl-C or a service manager's SIGTERM),
    awaited."""
    command = [sys.executable, "-m", "tools.servers", "tensorboard", *args]
    server = start(command, env, REPO, folder / "tensorboard.log")
    try:
        server.ready("/data/runs")
        yield server
        server.process.send_signal(stopped_by)
        server.process.wait(timeout=30)
    finally:
        stop(server)
