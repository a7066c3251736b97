"""Jupyter: ``show()`` embeds the dashboard in a notebook cell; ``run_html()`` is a run's compact summary.

``show()`` starts the dashboard on a loopback port in a background thread the first time (one
server per store folder, reused afterwards) and returns an object that renders as an iframe.
"""

from __future__ import annotations

import html
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["Embed", "run_html", "show"]

_servers: dict[Path, Any] = {}
_lock = threading.Lock()
#: Config and summary entries ``run_html`` lists before cutting off.
SHOWN_ITEMS = 8


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
            server = _servers[key] = BackgroundServer(ServerSettings(root=root))
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
    return Embed(f"{server.url}/runs/{run_id}" if run_id else f"{server.url}/", height)


def run_html(run: Any) -> str:
    """Return a compact HTML card of a run (name, id, state, config, summary) for ``Run._repr_html_``."""
    finished = getattr(run, "finished", None)
    state = getattr(run, "state", None) or ("finished" if finished else "running")
    rows = [
        ("project", getattr(run, "project", "")),
        ("id", getattr(run, "id", "")),
        ("group", getattr(run, "group", None) or ""),
        ("source", getattr(run, "source", None) or getattr(run, "primary_source", "")),
        ("state", state),
    ]
    body = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                   for k, v in rows if v)
    parts = [f"<div class='rltrack-run'><b>{html.escape(str(getattr(run, 'name', '')))}</b>",
             f"<table>{body}</table>"]
    for title, data in (("config", getattr(run, "config", {})), ("summary", getattr(run, "summary", {}))):
        items = _items(data)
        if items:
            cells = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(_short(v))}</td></tr>"
                            for k, v in items[:SHOWN_ITEMS])
            more = f"<tr><td colspan=2>… {len(items) - SHOWN_ITEMS} more</td></tr>" if len(items) > SHOWN_ITEMS else ""
            parts.append(f"<details><summary>{title} ({len(items)})</summary><table>{cells}{more}</table></details>")
    parts.append("</div>")
    return "".join(parts)


def _items(data: Any) -> list[tuple[str, Any]]:
    try:
        mapping = dict(data) if not isinstance(data, Mapping) else data
    except (TypeError, ValueError):
        return []
    return sorted((str(k), v) for k, v in mapping.items() if not str(k).startswith("_"))


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."
