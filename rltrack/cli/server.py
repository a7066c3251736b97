"""``rltrack ui``, ``rltrack server`` and ``rltrack sync``: serve a store, accept remote runs, push a run."""

from __future__ import annotations

import os
from pathlib import Path

import click

from rltrack.cli.options import dir_option, missing_store
from rltrack.errors import RltrackError

__all__ = ["register"]

_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def _root(store_dir: str | None) -> Path:
    from rltrack.store.paths import resolve_root

    return resolve_root(store_dir)


def _hosts(host: str, allowed: tuple[str, ...] = ()) -> frozenset[str]:
    """Return the names the server answers to beyond IP addresses and localhost: the bind name, if any."""
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return frozenset((*allowed, host))  # bound by name (e.g. --host lab-server): clients use that name
    return frozenset(allowed)


def _accounts_on(root: Path, db_url: str | None) -> bool:
    """Return whether the store has accounts (a user exists): then keys and logins decide, not the network."""
    from rltrack.errors import StoreError
    from rltrack.server.accounts import open_accounts

    if db_url is None and not (root / "accounts.sqlite").exists():
        return False
    try:
        accounts = open_accounts(root, db_url, create=False)
    except StoreError:
        return False  # no accounts tables yet (or an unusable file, which the server reports on every request)
    try:
        return accounts.has_users()
    except StoreError:
        return False
    finally:
        accounts.db.close()


def _exposure_note(
    host: str, tokens: frozenset[str], root: Path, db_url: str | None, *, public_read: bool, trust_loopback: bool
) -> str | None:
    """Return what a server reachable beyond loopback lets other machines do, when that may surprise; else None.

    Without accounts and tokens other machines may only read (``--public-read``); with accounts every
    client needs an API key or a login, and its teams decide what it reads and writes
    (:mod:`rltrack.server.accounts.gate`).
    """
    if host in _LOOPBACK_HOSTS or tokens:
        return None
    if _accounts_on(root, db_url):
        ignored = "; --public-read has no effect while accounts are on" if public_read else ""
        who = "every client beyond loopback" if trust_loopback else "every client, loopback included,"
        return (f"note: listening on {host} with accounts: {who} needs an API key "
                f"(`rltrack login URL`) or a browser login, and may read and write what its teams allow{ignored}")
    return (f"warning: listening on {host} without --token-file or accounts: clients beyond loopback can only "
            "read (with --public-read) and cannot log; create a user (`rltrack server admin create-user NAME`) "
            "to let them log in with API keys, or pass --token-file")


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
    from rltrack.store.paths import DB_FILENAME

    root = _root(store_dir)
    if not (root / DB_FILENAME).is_file():
        # Before the store opens (its own message names `dir=`, the Python API), and before the ui extra is
        # asked for: a wrong folder is the first thing to fix.
        raise click.ClickException(missing_store(store_dir, root))
    _needs_ui()
    from rltrack.server.app import ServerSettings
    from rltrack.server.security import AccessControl
    from rltrack.server.serve import serve
    try:
        settings = ServerSettings(root=root, access=AccessControl(allowed_hosts=_hosts(host)))
        serve(settings, host=host, port=port, open_browser=open_browser)
    except RltrackError as err:
        raise click.ClickException(str(err)) from err


@click.group("server", invoke_without_command=True)
@dir_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every one).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free).")
@click.option("--token-file", type=click.Path(dir_okay=False, exists=True), default=None,
              help="File with one accepted token per line; every client (loopback too) must send one.")
@click.option("--public-read", is_flag=True, help="Let clients without a token read (writes still need one).")
@click.option("--trust-loopback", is_flag=True,
              help="With --token-file, let loopback clients in without a token (unsafe behind a local proxy).")
@click.option("--trusted-proxy", "trusted_proxies", multiple=True, metavar="ADDRESS",
              help="Reverse proxy address or network whose X-Forwarded-For is believed (repeatable).")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="Extra host name clients use to reach this server (Host/Origin check; repeatable).")
@click.option("--max-body-mb", default=32, show_default=True, type=click.IntRange(1),
              help="Largest JSON request body (rltrack sync sends up to about 26 MB).")
@click.option("--max-upload-mb", default=1024, show_default=True, type=click.IntRange(1),
              help="Largest uploaded run file or artifact blob (videos, checkpoints).")
@click.option("--db", "db_url", envvar="RLTRACK_DB", default=None, metavar="URL",
              help="Keep runs and values in PostgreSQL (postgresql://user:password@host:5432/dbname; "
                   "needs rltrack[server]) instead of the SQLite file in --dir; media stay in --dir.")
@click.option("--blobs", "blobs_url", envvar="RLTRACK_BLOBS", default=None, metavar="s3://BUCKET/PREFIX",
              help="Keep uploaded media and artifact blobs in an S3-compatible bucket (needs rltrack[s3]); "
                   "credentials from the standard AWS variables (AWS_ACCESS_KEY_ID, ...). Default: --dir.")
@click.option("--s3-endpoint", envvar="AWS_ENDPOINT_URL", default=None, metavar="URL",
              help="S3-compatible endpoint for --blobs (MinIO, Ceph), e.g. http://minio:9000; default: AWS.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes serving the one port (uvicorn workers); safe on SQLite and PostgreSQL.")
@click.pass_context
def server(
    ctx: click.Context, store_dir: str | None, host: str, port: int, token_file: str | None, public_read: bool,
    trust_loopback: bool, trusted_proxies: tuple[str, ...], allowed_hosts: tuple[str, ...], max_body_mb: int,
    max_upload_mb: int, db_url: str | None, blobs_url: str | None, s3_endpoint: str | None, workers: int,
) -> None:
    """Serve the dashboard and accept runs logged remotely (rltrack.init(mode="online", url=...)).

    With a subcommand (``rltrack server admin ...``) it runs that instead of serving.
    """
    if ctx.invoked_subcommand is not None:
        return
    _needs_ui()
    from rltrack.server.app import ServerSettings
    from rltrack.server.security import AccessControl, read_tokens
    from rltrack.server.serve import serve

    try:
        tokens = read_tokens(token_file) if token_file else frozenset()
        note = _exposure_note(host, tokens, _root(store_dir), db_url, public_read=public_read,
                              trust_loopback=trust_loopback)
        if note:
            click.echo(note, err=True)
        access = AccessControl(
            tokens=tokens, public_read=public_read, trust_loopback=trust_loopback,
            trusted_proxies=trusted_proxies, allowed_hosts=_hosts(host, allowed_hosts),
            max_body_bytes=max_body_mb * 1024 * 1024, max_upload_bytes=max_upload_mb * 1024 * 1024,
        )
        settings = ServerSettings(root=_root(store_dir), ingest=True, access=access, db=db_url)
        blobs = None
        if blobs_url:
            from rltrack.server.run_files import BlobSettings

            blobs = BlobSettings(blobs_url, s3_endpoint)
            # Artifact code on this server (and its workers) finds the bucket the same way a client does.
            os.environ["RLTRACK_BLOBS"] = blobs_url
        serve(settings, host=host, port=port, workers=workers, blobs=blobs)
    except RltrackError as err:
        raise click.ClickException(str(err)) from err


@click.command("sync")
@click.argument("run_id", metavar="[RUN_ID|DIR]", required=False)
@click.option("--to", "url", default=None, help="Server URL, e.g. http://lab-server:8080.")
@dir_option
@click.option("--api-key", envvar="RLTRACK_API_KEY", default=None, help="Token (default: $RLTRACK_API_KEY).")
@click.option("--retry", is_flag=True, help="Send dead letters (of RUN_ID, or all) again, to --to or their server.")
@click.option("--discard", is_flag=True, help="Delete dead letters (of RUN_ID, or all) for good.")
def sync(
    run_id: str | None, url: str | None, store_dir: str | None, api_key: str | None, retry: bool, discard: bool
) -> None:
    """Copy a store folder (DIR --to URL) or a run (RUN_ID --to URL) to a server; list/--retry/--discard dead letters.

    DIR is a store folder (an offline robot's, a laptop's): every run, its values, media and
    artifacts go to the server exactly once; run it again after an interruption and it sends only
    what the server lacks. Dead letters are batches of online runs (init(mode="online", dir=...))
    that the server refused or kept failing on; they wait in <dir>/spool/dead/. Copying a run again sends only what the
    server lacks.
    """
    from rltrack.remote import deadletters

    if retry and discard:
        raise click.UsageError("pass --retry or --discard, not both")
    root = _root(store_dir)
    try:
        if discard:
            batches, values = deadletters.discard(root, run_id=run_id)
            whose = f" of run {run_id}" if run_id else ""
            click.echo(f"discarded {batches} dead letter{'s' if batches != 1 else ''}{whose} ({values} values) "
                       f"from {deadletters.dead_dir(root)}")
        elif retry:
            report = deadletters.retry(root, run_id=run_id, url=url, api_key=api_key)
            click.echo(f"sent {report.stored} dead letter{'s' if report.stored != 1 else ''} "
                       f"({report.values} values): the server stored them")
            for letter in report.refused:
                click.echo(f"still refused: run {letter.run_id} batch {letter.batch_id} "
                           f"({letter.status}: {letter.reason}); kept in {letter.path}")
            if report.unreachable:
                click.echo(f"stopped with {report.not_tried} not sent: {report.unreachable}")
            if report.refused or report.unreachable:
                raise SystemExit(1)
        elif url is not None and run_id is not None and _is_store(run_id):
            from rltrack.remote import push_store

            done = push_store(run_id, url, api_key=api_key, progress=click.echo)
            click.echo(f"synced {run_id} to {url}: {done.runs} runs ({done.points} points, {done.media} media files, "
                       f"{done.files} other files sent), {done.versions} new artifact versions, {done.blobs} blobs "
                       f"({done.blob_bytes} bytes)")
        elif url is not None:
            if run_id is None:
                raise click.UsageError("give the RUN_ID to copy to --to (or --retry to send dead letters there)")
            from rltrack.remote import push_run

            sent = push_run(run_id, url, dir=store_dir, api_key=api_key)
            click.echo(f"run {run_id}: sent {sent['points']} points, {sent['media']} media files and "
                       f"{sent.get('files', 0)} other files (table cells, saved files) to {url}")
        else:
            for line in deadletters.describe(root, run_id=run_id):
                click.echo(line)
            if run_id is not None:
                click.echo(f"(to copy local run {run_id} to a server: rltrack sync {run_id} --to URL)")
            elif deadletters.load(root):
                click.echo(f"send them again: rltrack sync --retry --dir {root}   "
                           f"delete them: rltrack sync --discard --dir {root}")
    except RltrackError as err:
        raise click.ClickException(str(err)) from err


def _is_store(arg: str) -> bool:
    """Return whether ``rltrack sync ARG`` names a store folder rather than a run id."""
    from rltrack.store.paths import DB_FILENAME

    return Path(arg, DB_FILENAME).is_file() or "/" in arg or os.sep in arg


def register(group: click.Group) -> None:
    """Add ``ui``, ``server`` and ``sync`` to the ``rltrack`` command group."""
    for command in (ui, server, sync):
        group.add_command(command)
