"""`evidence serve`: the web app over the same store as every other command."""

from __future__ import annotations

import socket

import click

from evidence.app import App
from evidence.cli.params import read_only
from evidence.errors import InputError
from evidence.support.collection import collect_in_batches
from evidence.web.settings import DEFAULT_MAX_UPLOAD_MB


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback unless told).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port to listen on.")
@click.option(
    "--behind-tls",
    is_flag=True,
    help="Served through an HTTPS reverse proxy: session cookies are Secure [env: EVIDENCE_WEB_SECURE_COOKIES=1].",
)
@click.option(
    "--forwarded-allow-ips",
    default="127.0.0.1",
    show_default=True,
    metavar="IPS",
    help="Proxies whose X-Forwarded-For/-Proto are believed (comma-separated, or *).",
)
@click.option(
    "--max-upload-mb",
    type=click.IntRange(1, 1024 * 1024),
    default=DEFAULT_MAX_UPLOAD_MB,
    show_default=True,
    metavar="MB",
    help="Refuse a request body (an upload) larger than this many MiB with 413.",
)
@read_only
@click.pass_obj
def serve(app: App, host: str, port: int, behind_tls: bool, forwarded_allow_ips: str, max_upload_mb: int) -> None:
    """Serve the web app: dashboards, uploads, corrections, packets, retention, the REST API.

    Uses the same home, database and store settings as every command, and only a store that
    exists. Users sign in with the names and passwords of `evidence user add`; API clients
    send `Authorization: Bearer` with a token of `evidence token create`. Behind a reverse
    proxy with TLS, see docs/DEPLOYMENT.md.

    \b
    Example:
        evidence serve --port 8000
    """
    import uvicorn

    from evidence.web.app import create_app
    from evidence.web.settings import web_settings

    app.require_existing_store()
    listener = _listen(host, port)  # a bad address or a port in use is one line, before the app opens
    web = create_app(web_settings(app.settings, behind_tls=behind_tls, max_upload_mb=max_upload_mb))
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"Serving evidence at http://{shown}:{port}/ (Ctrl+C stops)", err=False)
    config = uvicorn.Config(
        web,
        host=host,
        port=port,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        server_header=False,
        log_level="info",
    )
    # The server keeps each page's report until the store changes: several hundred thousand objects
    # that every full collection would walk again. main() has set it already; this keeps the server's
    # need visible where it is started.
    collect_in_batches()
    with listener:
        uvicorn.Server(config).run(sockets=[listener])


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket on host:port, or InputError naming what is wrong with them."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise InputError(f"--host {host[:80]!r} is not an address this machine can listen on ({exc})") from None
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(2048)
    except OSError as exc:
        listener.close()
        raise InputError(f"cannot listen on {host[:80]}:{port}: {exc.strerror or exc}") from None
    listener.set_inheritable(True)
    return listener
