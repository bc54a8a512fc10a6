"""The servers beside the lessons: local dashboards that answer only to their own host
names, TensorBoard over the runs' traces (lesson 33) and Optuna's dashboard over a study
(lesson 66); and the launchers of
MLflow's own servers: its scoring server over a logged model, its tracking server for a team
(a backend database and proxied artifacts), each after a check that says in one line what is
wrong with the model or the store.

TensorBoard reads the tree of links `tools.traces` builds; the host check is `tools.host_check`.

    python -m tools.servers tensorboard [--experiment NAME] [--run ID_OR_NAME] [--logdir DIR]
                                        [--host H --port P --allowed-hosts A,B]
    python -m tools.servers optuna [--storage URL] [--host H --port P --allowed-hosts A,B]
    python -m tools.servers serve --model models:/NAME@champion [--host H --port P]
    python -m tools.servers tracking [--backend URL] [--artifacts DEST]
                                     [--host H --port P --allowed-hosts A,B] [MLFLOW OPTIONS]

(`make tensorboard [EXP=...] [RUN=...]`, `make optuna-dashboard`, `make serve MODEL=...`,
`make server [BACKEND=...] [ARTIFACTS=...]`; the tracking store is MLFLOW_TRACKING_URI's, the
study's URL defaults to OPTUNA_STORAGE.)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urlparse

from tools.host_check import allowed_hosts, host_checked
from tools.traces import trace_tree


def tensorboard(logdir: str, host: str, port: int, allowed: frozenset[str]) -> None:
    from tensorboard import program

    from steps import native_logs

    # TensorBoard imports TensorFlow on its first request, which prints its loading lines then.
    native_logs.import_quietly("tensorflow")

    def server(wsgi_app, flags):
        return program.WerkzeugServer(host_checked(wsgi_app, allowed), flags)

    board = program.TensorBoard(server_class=server)
    board.configure(logdir=logdir, host=host, port=port)
    board.main()


@contextlib.contextmanager
def runs_tree(experiment: str, run: str) -> Iterator[Path]:
    """The runs' traces as a temporary tree of links (`tools.traces`), removed once TensorBoard
    stops: on SIGTERM and Ctrl-C too (the links go, never the traces they point at)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # unwinds: the folder is removed
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # downloads
    with tempfile.TemporaryDirectory(prefix="tensorboard-runs-") as folder:
        count = trace_tree(Path(folder), experiment, run)
        print(f"{count} runs' traces, by experiment and run name, in {folder}", flush=True)
        yield Path(folder)


def mixed_experiments(logdir: Path, url: str) -> list[str]:
    """TensorBoard draws a tag (`epoch_loss`) of every run it shows on one chart: a regression's
    MSE in the thousands beside a classifier's cross-entropy under 1. When the tree holds several
    experiments, say so, and give each experiment's address: TensorBoard's run filter (a regex
    in its `runFilter` query parameter) showing its runs alone."""
    names = sorted(folder.name for folder in logdir.iterdir() if folder.is_dir())
    if len(names) < 2:
        return []
    lines = [
        f"{len(names)} experiments share each chart ({', '.join(names)}): their losses on one "
        "axis; one experiment alone: make tensorboard EXP=NAME, or open"
    ]
    for name in names:
        only = urlencode({"runFilter": f"^{regex_literal(name)}/"})
        lines.append(f"  {url}/?{only}#timeseries")
    return lines


def regex_literal(text: str) -> str:
    """`text` as a JavaScript regex matching it alone: its special characters escaped."""
    return re.sub(r"[\\^$.*+?()[\]{}|/]", lambda found: "\\" + found[0], text)


def optuna(storage: str, host: str, port: int, allowed: frozenset[str]) -> None:
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIServer, make_server

    from optuna_dashboard import wsgi

    from steps.secrets import redacted
    from steps.train.search import storage_url

    class ThreadingServer(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    url = storage_url(storage)
    app = host_checked(wsgi(url), allowed)
    with make_server(host, port, app, server_class=ThreadingServer) as server:
        print(f"Optuna dashboard over {redacted(url)} at http://{host}:{port}/", flush=True)
        server.serve_forever()


def serve(model: str, host: str, port: int) -> int:
    """MLflow's scoring server (`mlflow models serve --env-manager local`: this environment)
    over `model`, once MLflow finds it; one `error:` line and exit 2 when it does not."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.models import get_model_info

    from steps import native_logs
    from steps.secrets import redacted

    if not model:
        return refuse(
            "give the model to serve: MODEL=models:/NAME@champion, models:/NAME/3, "
            "models:/m-<id> or runs:/<run id>/<model name>"
        )
    try:
        flavors = get_model_info(model).flavors
    except (MlflowException, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return refuse(
            f"cannot serve {model}: {redacted(reason)} (tracking store "
            f"{redacted(mlflow.get_tracking_uri())})"
        )
    if "python_function" not in flavors:
        return refuse(f"cannot serve {model}: it has no python_function flavour")
    # uvicorn, which MLflow starts by name, is in this environment's bin folder; TensorFlow's
    # C++ lines stay hidden as in the pipelines unless the caller chose a level: the model is
    # loaded in MLflow's processes, whose stderr is read through a filter.
    bin_folder = str(Path(sys.executable).parent)
    os.environ["PATH"] = os.pathsep.join([bin_folder, os.environ.get("PATH", "")])
    print(
        f"serving {model} at http://{host}:{port}/invocations "
        f"(POST JSON: dataframe_split, dataframe_records, instances or inputs)",
        flush=True,
    )
    command = [str(Path(bin_folder, "mlflow")), "models", "serve", "-m", model]
    command += ["--env-manager", "local", "--host", host, "--port", str(port)]
    return native_logs.run_quietly(command)


def tracking_server(
    backend: str, artifacts: str, host: str, port: int, extra_hosts: list[str], options: list[str]
) -> int:
    """MLflow's tracking server (`mlflow server`) for a team: runs and models in `backend`
    (a database URL), artifacts proxied by the server to `artifacts` (a folder, or any MLflow
    artifact URI: s3://, gs://, ...), so clients need only its http:// address; `options` go
    to `mlflow server` as they are (`--app-name basic-auth`, `--workers 8`, ...). The store is
    created or migrated here first, once, rather than by each of the server's workers."""
    from steps.secrets import redacted
    from steps.track.store import lock_path, open_store

    if lock_path(backend) is None:
        return refuse(
            f"the backend store must be a database URL, not {redacted(backend)}: "
            "postgresql://USER@HOST:5432/DB (password in PGPASSWORD or ~/.pgpass), "
            "mysql://..., or sqlite:///FILE"
        )
    try:
        from sqlalchemy import create_engine

        engine = create_engine(backend)  # reached once here; MLflow retries for minutes
        with engine.connect():
            pass
        engine.dispose()
        open_store(backend)
    except Exception as exc:  # MLflow and SQLAlchemy raise many kinds; the first line says it
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return refuse(f"cannot open the backend store {redacted(backend)}: {redacted(reason)}")
    if not urlparse(artifacts).scheme:  # a folder: where this command was started
        artifacts = str(Path(artifacts).expanduser().absolute())
    bin_folder = str(Path(sys.executable).parent)
    os.environ["PATH"] = os.pathsep.join([bin_folder, os.environ.get("PATH", "")])
    command = [str(Path(bin_folder, "mlflow")), "server", "--backend-store-uri", backend]
    command += ["--serve-artifacts", "--artifacts-destination", artifacts]
    command += ["--host", host, "--port", str(port)]
    names = [name.strip() for name in extra_hosts if name.strip()]
    if names:  # MLflow's defaults (local and private addresses) are replaced: keep them
        from mlflow.server.security_utils import get_default_allowed_hosts

        # A Host header is matched whole, port included.
        given = [f"{name},{name}:*" for name in (host, *names)]
        command += ["--allowed-hosts", ",".join([*get_default_allowed_hosts(), *given])]
    command += options
    print(
        f"MLflow tracking server over {redacted(backend)}, artifacts in {redacted(artifacts)}: "
        f"MLFLOW_TRACKING_URI=http://{host}:{port}",
        flush=True,
    )
    os.execv(command[0], command)
    return 0  # not reached


def refuse(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.servers", description=__doc__)
    parser.add_argument("dashboard", choices=("tensorboard", "optuna", "serve", "tracking"))
    parser.add_argument(
        "--logdir", default="", help="tensorboard: a folder of traces (default: the runs')"
    )
    parser.add_argument("--experiment", default="", help="tensorboard: one experiment's runs")
    parser.add_argument("--run", default="", help="tensorboard: one run (id or name)")
    parser.add_argument(
        "--storage", default="", help="optuna: the study's URL (default: OPTUNA_STORAGE)"
    )
    parser.add_argument("--model", default="", help="serve: the model's URI")
    parser.add_argument(
        "--backend", default="sqlite:///mlflow-server.db", help="tracking: the backend store"
    )
    parser.add_argument(
        "--artifacts", default="mlartifacts", help="tracking: where the server keeps artifacts"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: 6006, 8080, 5001 or 5000")
    parser.add_argument(
        "--allowed-hosts", default="", help="more host names to answer to, comma-separated"
    )
    parser.epilog = "tracking: any other option is passed to `mlflow server` as it is"
    args, options = parser.parse_known_args(argv)
    if options and args.dashboard != "tracking":
        parser.error(f"unrecognized arguments: {' '.join(options)}")
    allowed = allowed_hosts(args.host, args.allowed_hosts.split(","))
    if args.dashboard == "serve":
        return serve(args.model, args.host, args.port or 5001)
    if args.dashboard == "tracking":
        extra = args.allowed_hosts.split(",")
        port = args.port or 5000
        return tracking_server(args.backend, args.artifacts, args.host, port, extra, options)
    if args.dashboard == "tensorboard":
        port = args.port or 6006
        if args.logdir:
            tensorboard(args.logdir, args.host, port, allowed)
            return 0
        with runs_tree(args.experiment, args.run) as logdir:
            for line in mixed_experiments(logdir, f"http://{args.host}:{port}"):
                print(line, flush=True)
            tensorboard(str(logdir), args.host, port, allowed)
    else:
        optuna(args.storage, args.host, args.port or 8080, allowed)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
