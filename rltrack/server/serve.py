"""Run the app on uvicorn: in the foreground (``rltrack ui``/``rltrack server``) or on a background thread.

``rltrack server --workers N`` runs N uvicorn worker processes on one listening socket. Each worker
imports :func:`app_from_environment` (uvicorn's app factory, by import string) and reads the settings
from the file named by :data:`SETTINGS_ENV` (a pickle in a private temporary folder, mode 0600: it
holds the tokens). The parent builds the app once before forking, so migrations and the ingest
schema are applied by one process, and a bad ``--db``/``--blobs`` fails at start with one message.

Several workers are safe on both stores: every write runs in one transaction that also records its
batch id, under SQLite's ``BEGIN IMMEDIATE`` (a file lock across processes) or PostgreSQL's advisory
write lock, so a batch retried against another worker is still stored once. SQLite writes do not get
faster with workers (one writer at a time); reads and request parsing do.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from rltrack.errors import RltrackError
from rltrack.server.app import ServerSettings, create_app
from rltrack.server.run_files import BlobSettings
from rltrack.store.liveness import announce_dashboard

__all__ = ["SETTINGS_ENV", "BackgroundServer", "app_from_environment", "bind", "build_app", "serve"]

#: Environment variable naming the settings file the worker processes of ``--workers`` read.
SETTINGS_ENV = "RLTRACK_SERVER_SETTINGS"

#: How long ``BackgroundServer`` waits for uvicorn to accept connections.
START_TIMEOUT_S = 20.0


def bind(host: str, port: int) -> socket.socket:
    """Return a listening socket on ``host:port`` (port 0 picks a free one).

    Raises:
        RltrackError: the address is taken or cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise RltrackError(
            f"cannot listen on {host}:{port} ({err.strerror}); pass another --port (0 picks a free one)"
        ) from err
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _config(app: Any, log_level: str, **options: Any) -> Any:
    """Every uvicorn this module starts (foreground, ``--workers`` processes, background thread) is built here.

    ``proxy_headers=False``: uvicorn's default rewrites the peer and the scheme from ``X-Forwarded-For``/
    ``-Proto`` of any client on 127.0.0.1, so a local process could claim https (Secure cookies) or another
    address; ``--trusted-proxy`` (``AccessControl``) is the only authority on forwarded headers.
    """
    import uvicorn

    return uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off", timeout_graceful_shutdown=2,
                          proxy_headers=False, **options)


def build_app(settings: ServerSettings, blobs: BlobSettings | None = None) -> Any:
    """Return the app for ``settings``, with run files and artifact blobs in S3 when ``blobs`` is given.

    Raises:
        StoreError: the store, the database or the bucket cannot be opened.
    """
    app = create_app(settings)
    if blobs is not None:
        from rltrack.server.run_files import install

        install(app, blobs, Path(settings.root))
    return app


def app_from_environment() -> Any:
    """Build the app of one ``--workers`` process from the settings file named by :data:`SETTINGS_ENV`."""
    path = os.environ.get(SETTINGS_ENV)
    if not path:
        raise RltrackError(f"{SETTINGS_ENV} is not set: this factory serves the workers of `rltrack server --workers`")
    with open(path, "rb") as f:
        settings, blobs = pickle.load(f)  # our own file, in a folder only this user can read
    return build_app(settings, blobs)


def _close(app: Any) -> None:
    db = app.state.reader.db
    close = getattr(db, "close", None)
    if close is not None:
        close()


def serve(
    settings: ServerSettings, *, host: str, port: int, open_browser: bool = False, workers: int = 1,
    blobs: BlobSettings | None = None,
) -> None:
    """Serve until interrupted (Ctrl-C), printing the URL first; ``workers`` > 1 runs that many processes.

    Raises:
        RltrackError: ``workers`` < 1, the address is taken, or the store/database/bucket cannot be opened.
    """
    import uvicorn

    if workers < 1:
        raise RltrackError(f"--workers {workers}: pass 1 or more worker processes")
    app = build_app(settings, blobs)  # in the parent too: migrations run once, bad settings fail here
    sock = bind(host, port)
    url = f"http://{host if ':' not in host else f'[{host}]'}:{sock.getsockname()[1]}/"
    where = f" on {workers} worker processes" if workers > 1 else ""
    print(f"rltrack dashboard for {str(settings.root)!r} at {url}{where}  (Ctrl-C to stop)", flush=True)
    announced = _announce(settings, host, int(sock.getsockname()[1]))
    if open_browser:
        import webbrowser

        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    private: str | None = None
    try:
        if workers == 1:
            uvicorn.Server(_config(app, "warning")).run(sockets=[sock])
        else:
            from uvicorn.supervisors import Multiprocess

            _close(app)
            private = tempfile.mkdtemp(prefix="rltrack-server-")  # mode 0700
            path = os.path.join(private, "settings.pickle")
            with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
                pickle.dump((settings, blobs), f)
            os.environ[SETTINGS_ENV] = path  # the spawned workers inherit it
            config = _config("rltrack.server.serve:app_from_environment", "warning", factory=True, workers=workers)
            Multiprocess(config, sockets=[sock]).run()
    except KeyboardInterrupt:
        # uvicorn shuts down cleanly on Ctrl-C, then re-raises it; stopping is what the user asked.
        pass
    finally:
        print("rltrack dashboard stopped", flush=True)
        _withdraw(announced)
        if private is not None:
            shutil.rmtree(private, ignore_errors=True)


def _announce(settings: ServerSettings, host: str, port: int) -> Path | None:
    """Record this dashboard's URL in the store folder, so ``init()`` can print where to look.

    A wildcard bind is announced by its loopback address (init() runs on this host). A store
    folder that cannot be written (read-only media) only loses the hint.
    """
    local = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    url = f"http://{local if ':' not in local else f'[{local}]'}:{port}"
    try:
        return announce_dashboard(Path(settings.root), url)
    except OSError:
        return None


def _withdraw(path: Path | None) -> None:
    """Delete the announcement written by :func:`_announce`, if it is still this process's."""
    if path is None:
        return
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass


class BackgroundServer:
    """The dashboard on a daemon thread, bound to ``host`` on ``port`` (0: a free port).

    Example:
        >>> server = BackgroundServer(ServerSettings(root=path))  # doctest: +SKIP
        >>> server.url  # doctest: +SKIP
        'http://127.0.0.1:43125'
        >>> server.stop()  # doctest: +SKIP
    """

    def __init__(
        self, settings: ServerSettings, *, host: str = "127.0.0.1", port: int = 0, blobs: BlobSettings | None = None
    ) -> None:
        import uvicorn

        self.settings = settings
        self.app = build_app(settings, blobs)
        self._sock = bind(host, port)
        self.host = host
        self.port = int(self._sock.getsockname()[1])
        self.url = f"http://{host}:{self.port}"
        self._server = uvicorn.Server(_config(self.app, "error"))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name="rltrack-ui", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RltrackError(f"the dashboard server on {self.url} did not start; see the log above")
            time.sleep(0.01)
        self._announced = _announce(settings, host, self.port)

    def stop(self) -> None:
        """Stop serving and close the socket (open connections are dropped)."""
        self._server.should_exit = True
        self._server.force_exit = True
        self._thread.join(timeout=10)
        self._sock.close()
        _withdraw(self._announced)
        self._announced = None

    def __enter__(self) -> BackgroundServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
