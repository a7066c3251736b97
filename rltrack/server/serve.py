"""Run the app on uvicorn: in the foreground (``rltrack ui``) or on a background thread (notebooks, tests)."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from rltrack.errors import RltrackError
from rltrack.server.app import ServerSettings, create_app
from rltrack.store.liveness import announce_dashboard

__all__ = ["BackgroundServer", "bind", "serve"]

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


def _config(app: Any, log_level: str) -> Any:
    import uvicorn

    return uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off", timeout_graceful_shutdown=2)


def serve(settings: ServerSettings, *, host: str, port: int, open_browser: bool = False) -> None:
    """Serve until interrupted (Ctrl-C), printing the URL first."""
    import uvicorn

    app = create_app(settings)
    sock = bind(host, port)
    url = f"http://{host if ':' not in host else f'[{host}]'}:{sock.getsockname()[1]}/"
    print(f"rltrack dashboard for {str(settings.root)!r} at {url}  (Ctrl-C to stop)", flush=True)
    announced = _announce(settings, host, int(sock.getsockname()[1]))
    if open_browser:
        import webbrowser

        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    try:
        uvicorn.Server(_config(app, "warning")).run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn shuts down cleanly on Ctrl-C, then re-raises it; stopping is what the user asked.
        print("rltrack dashboard stopped", flush=True)
    finally:
        _withdraw(announced)


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

    def __init__(self, settings: ServerSettings, *, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        self.settings = settings
        self.app = create_app(settings)
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
