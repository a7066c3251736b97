"""Jupyter: ``show()`` embeds the dashboard in a notebook cell; ``run_html()`` is a run's compact summary.

``show()`` starts the dashboard on a loopback port in a background thread the first time (one
server per store folder, reused afterwards) and returns an object that renders as an iframe.
``init()`` in a kernel calls :func:`live_panel`, and a run as a cell's last expression renders
through :func:`run_bundle`: the live panel where the front end shows widgets, the HTML card
elsewhere (both live in ``rltrack._nbpanel``, in the core, so the run API can reach them).
"""

from __future__ import annotations

import html
import os
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

from rltrack._html import run_html
from rltrack._nbpanel import live_panel, run_bundle

__all__ = ["Embed", "live_panel", "run_bundle", "run_html", "show"]

_servers: dict[Path, Any] = {}
_lock = threading.Lock()


class Embed:
    """The dashboard page at ``url``; notebooks render it as an iframe ``height`` pixels high."""

    def __init__(self, url: str, height: int) -> None:
        self.url = url
        self.height = height

    def _repr_html_(self) -> str:
        src = html.escape(self.url, quote=True)
        return f'<iframe src="{src}" width="100%" height="{int(self.height)}" style="border:0"></iframe>'

    def __repr__(self) -> str:
        return f"<rltrack dashboard {self.url}>"


def _server_for(root: Path) -> Any:
    from rltrack.server.app import ServerSettings
    from rltrack.server.serve import BackgroundServer

    key = root.resolve()
    with _lock:
        server = _servers.get(key)
        if server is None:
            from rltrack.server.headers import NOTEBOOK_FRAME_ANCESTORS  # Jupyter shows it in an iframe

            server = _servers[key] = BackgroundServer(
                ServerSettings(root=root, frame_ancestors=NOTEBOOK_FRAME_ANCESTORS)
            )
        return server


def show(
    run: Any = None, height: int = 600, *, dir: str | os.PathLike[str] | None = None
) -> Embed:
    """Embed the dashboard: a run's page when ``run`` (a Run, RunView or id) is given, else the projects.

    Args:
        run: The run to open; default: the current run, or the projects page when there is none.
        height: Height of the iframe in pixels.
        dir: Store folder (default: the run's, else ``$RLTRACK_DIR`` or ``./rltrack-runs``).

    Example:
        >>> rltrack.show(run)  # doctest: +SKIP
    """
    from rltrack.store.paths import resolve_root

    if run is None:
        import rltrack

        run = rltrack.run
    run_id = run if isinstance(run, str) else getattr(run, "id", None)
    run_dir = getattr(run, "dir", None)
    # A run's folder is <root>/runs/<id>.
    root = run_dir.parent.parent if dir is None and isinstance(run_dir, Path) else resolve_root(dir)
    server = _server_for(root)
    # The id is percent-encoded: "../x" or "a?b" must name a run, not another page of the dashboard.
    return Embed(f"{server.url}/runs/{quote(str(run_id), safe='')}" if run_id else f"{server.url}/", height)

