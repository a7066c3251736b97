"""Serve the dashboard on the demo's run until Ctrl-C: 127.0.0.1 only, the run page's URL printed once it serves."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rltrack.errors import RltrackError

__all__ = ["HOST", "serve_run"]

HOST = "127.0.0.1"


def serve_run(
    store: Path,
    run_id: str,
    *,
    port: int,
    fallback_port: bool = False,
    open_browser: bool = False,
    echo: Callable[[str], None] = print,
) -> None:
    """Serve ``store``'s dashboard on ``HOST:port`` and print the run page's URL; return after Ctrl-C.

    Args:
        store: The store folder.
        run_id: The run whose page is printed (and opened).
        port: Port to listen on (0: any free one).
        fallback_port: When ``port`` is taken, listen on a free one instead of failing.
        open_browser: Open the run page in a web browser.
        echo: Where the URL line goes.

    Raises:
        RltrackError: ``port`` is taken (and ``fallback_port`` is off) or cannot be bound.
    """
    import uvicorn

    from rltrack.server.app import ServerSettings, create_app
    from rltrack.server.serve import bind

    try:
        sock = bind(HOST, port)
    except RltrackError:
        if not fallback_port:
            raise
        sock = bind(HOST, 0)  # the default port is taken (another dashboard?): any free one will do
    url = f"http://{HOST}:{sock.getsockname()[1]}/runs/{run_id}"
    try:
        app = create_app(ServerSettings(root=store))
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2,
            proxy_headers=False,  # as rltrack server: only --trusted-proxy may rewrite the client address
        )
        server = uvicorn.Server(config)
        announcer = threading.Thread(
            target=_announce, args=(server, url, open_browser, echo), name="rltrack-demo-url", daemon=True
        )
        announcer.start()
        # uvicorn handles Ctrl-C while it runs (stops accepting, closes connections), then raises
        # it again for the caller; a Ctrl-C before it started lands here too. Either way it is the
        # expected way out, not an error.
        with contextlib.suppress(KeyboardInterrupt):
            server.run(sockets=[sock])
    finally:
        sock.close()
    echo("dashboard stopped")


def _announce(server: Any, url: str, open_browser: bool, echo: Callable[[str], None]) -> None:
    """Print the URL once uvicorn serves, so a Ctrl-C after it always reaches uvicorn's own handler."""
    while not server.started:
        if server.should_exit:
            return
        time.sleep(0.02)
    echo(f"  dashboard   {url}   (Ctrl-C to stop)")
    if open_browser:
        import webbrowser

        webbrowser.open(url)
