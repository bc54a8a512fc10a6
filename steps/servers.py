"""Local dashboards that answer only to their own host names: TensorBoard over the runs'
traces (lesson 33) and Optuna's dashboard over a study (lesson 66).

A server bound to 127.0.0.1 still answers a page of another site whose DNS name was made to
point at 127.0.0.1 (DNS rebinding). Refusing a request whose Host header is not one of the
server's own names stops that, as MLflow's `--allowed-hosts` does for its UI.

    python -m steps.servers tensorboard --logdir mlruns [--host H --port P --allowed-hosts A,B]
    python -m steps.servers optuna [--storage URL] [--host H --port P --allowed-hosts A,B]

(`make tensorboard`, `make optuna-dashboard`; the study's URL defaults to OPTUNA_STORAGE.)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable

LOCAL_NAMES = ("localhost", "127.0.0.1", "[::1]")


def allowed_hosts(bound: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The local names, the address the server is bound to, and any names given."""
    bound = f"[{bound}]" if ":" in bound and not bound.startswith("[") else bound
    return frozenset({*LOCAL_NAMES, bound, *(name.strip() for name in extra if name.strip())})


def host_name(header: str) -> str:
    """A Host header without its port: `[::1]:6006` -> `[::1]`, `a.b:80` -> `a.b`."""
    if header.startswith("["):
        return header[: header.find("]") + 1]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def host_checked(app: Callable, allowed: frozenset[str]) -> Callable:
    """The WSGI `app`, answering 403 to a request for any other host name."""

    def checked(environ, start_response):
        host = host_name(environ.get("HTTP_HOST", ""))
        if host in allowed:
            return app(environ, start_response)
        body = (
            f"Host {host!r} is not allowed here; start the server with --allowed-hosts {host} "
            "to serve it under that name\n"
        ).encode()
        start_response(
            "403 Forbidden",
            [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]

    return checked


def tensorboard(logdir: str, host: str, port: int, allowed: frozenset[str]) -> None:
    from tensorboard import program

    def server(wsgi_app, flags):
        return program.WerkzeugServer(host_checked(wsgi_app, allowed), flags)

    board = program.TensorBoard(server_class=server)
    board.configure(logdir=logdir, host=host, port=port)
    board.main()


def optuna(storage: str, host: str, port: int, allowed: frozenset[str]) -> None:
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIServer, make_server

    from optuna_dashboard import wsgi

    from steps.search import storage_url
    from steps.secrets import redacted

    class ThreadingServer(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    url = storage_url(storage)
    app = host_checked(wsgi(url), allowed)
    with make_server(host, port, app, server_class=ThreadingServer) as server:
        print(f"Optuna dashboard over {redacted(url)} at http://{host}:{port}/", flush=True)
        server.serve_forever()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m steps.servers", description=__doc__)
    parser.add_argument("dashboard", choices=("tensorboard", "optuna"))
    parser.add_argument("--logdir", default="mlruns", help="tensorboard: the traces' folder")
    parser.add_argument(
        "--storage", default="", help="optuna: the study's URL (default: OPTUNA_STORAGE)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: 6006 or 8080")
    parser.add_argument(
        "--allowed-hosts", default="", help="more host names to answer to, comma-separated"
    )
    args = parser.parse_args(argv)
    allowed = allowed_hosts(args.host, args.allowed_hosts.split(","))
    if args.dashboard == "tensorboard":
        tensorboard(args.logdir, args.host, args.port or 6006, allowed)
    else:
        optuna(args.storage, args.host, args.port or 8080, allowed)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
