"""Starting a dashboard (MLflow's UI, TensorBoard, Optuna's) on a free local port, and always
stopping it with every process it started."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

# What TensorFlow's libraries print while loading, whatever TF_CPP_MIN_LOG_LEVEL says.
LOADING_LINES = ("All log messages before absl::InitializeLog()", "Could not find cuda drivers")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    """A server process (in its own process group) on 127.0.0.1:`port`, its output in `log`."""

    process: subprocess.Popen
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready(self, path: str = "/", timeout: float = 120) -> str:
        """The server's URL once `path` answers 200; fails with the server's output if the
        process ends or `timeout` passes first."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.url + path, timeout=5) as answer:
                    if answer.status == 200:
                        return self.url
            except (OSError, urllib.error.URLError):
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                state = "exited" if self.process.poll() is not None else "did not answer"
                output = self.log.read_text(errors="replace")[-3000:]
                raise AssertionError(f"{self.url}{path}: the server {state}:\n{output}")
            time.sleep(0.2)

    def signal(self, sig: int) -> bool:
        """Send `sig` to the server's whole process group (MLflow's UI runs its web server as
        a child); False once none of it is left."""
        try:
            os.killpg(self.process.pid, sig)
            return True
        except ProcessLookupError:
            return False


def stop(*servers: Server) -> None:
    """SIGTERM to every server at once, then SIGKILL to whatever is left of each once its
    first process ended, or after 20 s."""
    running = [server for server in servers if server.signal(signal.SIGTERM)]
    for server in running:
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.process.wait(timeout=20)
        if server.signal(signal.SIGKILL):
            server.process.wait()


def start(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> Server:
    """`command` with `--port P` appended for a free port P, started without waiting for it."""
    port = free_port()
    with log.open("w") as output:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            cwd=cwd,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as one
        )
    return Server(process, port, log)


# What `make serve MODEL=...` runs, less the port (start() appends a free one).
SERVE = [sys.executable, "-m", "tools.servers", "serve", "--model"]


def post(url: str, body: bytes) -> tuple[int, dict]:
    """POST `body` as JSON to `url`: (HTTP status, the JSON answer), 4xx and 5xx included."""
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)
