"""Dashboards that answer only to their own host names.

A server bound to 127.0.0.1 still answers a page of another site whose DNS name was made to
point at 127.0.0.1 (DNS rebinding). Refusing a request whose Host header is not one of the
server's own names stops that, as MLflow's `--allowed-hosts` does for its UI."""

from __future__ import annotations

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
