"""``rltrack ui``, ``rltrack server`` and ``rltrack sync``: serve a store, accept remote runs, push a run."""

from __future__ import annotations

from pathlib import Path

import click

from rltrack.cli.options import dir_option
from rltrack.errors import RltrackError

__all__ = ["register"]

_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def _root(store_dir: str | None) -> Path:
    from rltrack.store.paths import resolve_root

    return resolve_root(store_dir)


def _needs_ui() -> None:
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as err:
        raise click.ClickException(f"the dashboard needs the ui extra ({err}): pip install 'rltrack[ui]'") from err


@click.command("ui")
@dir_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free).")
@click.option("--open", "open_browser", is_flag=True, help="Open the dashboard in a web browser.")
def ui(store_dir: str | None, host: str, port: int, open_browser: bool) -> None:
    """Serve the dashboard of a local store (read-only, no login: keep it on loopback)."""
    _needs_ui()
    from rltrack.server.app import ServerSettings
    from rltrack.server.serve import serve

    try:
        serve(ServerSettings(root=_root(store_dir)), host=host, port=port, open_browser=open_browser)
    except RltrackError as err:
        raise click.ClickException(str(err)) from err


@click.command("server")
@dir_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every one).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free).")
@click.option("--token-file", type=click.Path(dir_okay=False, exists=True), default=None,
              help="File with one accepted token per line; clients beyond loopback must send one.")
@click.option("--public-read", is_flag=True, help="Let clients beyond loopback read without a token.")
@click.option("--max-body-mb", default=256, show_default=True, type=click.IntRange(1), help="Largest request body.")
def server(
    store_dir: str | None, host: str, port: int, token_file: str | None, public_read: bool, max_body_mb: int
) -> None:
    """Serve the dashboard and accept runs logged remotely (rltrack.init(mode="online", url=...))."""
    _needs_ui()
    from rltrack.server.app import ServerSettings
    from rltrack.server.security import AccessControl, read_tokens
    from rltrack.server.serve import serve

    try:
        tokens = read_tokens(token_file) if token_file else frozenset()
        if host not in _LOOPBACK_HOSTS and not tokens:
            click.echo(
                f"warning: listening on {host} without --token-file: clients beyond loopback can only read "
                "(with --public-read) and cannot log",
                err=True,
            )
        access = AccessControl(tokens=tokens, public_read=public_read, max_body_bytes=max_body_mb * 1024 * 1024)
        settings = ServerSettings(root=_root(store_dir), ingest=True, access=access)
        serve(settings, host=host, port=port)
    except RltrackError as err:
        raise click.ClickException(str(err)) from err


@click.command("sync")
@click.argument("run_id")
@click.option("--to", "url", required=True, help="Server URL, e.g. http://lab-server:8080.")
@dir_option
@click.option("--api-key", envvar="RLTRACK_API_KEY", default=None, help="Token (default: $RLTRACK_API_KEY).")
def sync(run_id: str, url: str, store_dir: str | None, api_key: str | None) -> None:
    """Copy a local run to a server; repeating it sends only what the server lacks."""
    from rltrack.remote import push_run

    try:
        sent = push_run(run_id, url, dir=store_dir, api_key=api_key)
    except RltrackError as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"run {run_id}: sent {sent['points']} points and {sent['media']} media files to {url}")


def register(group: click.Group) -> None:
    """Add ``ui``, ``server`` and ``sync`` to the ``rltrack`` command group."""
    for command in (ui, server, sync):
        group.add_command(command)
