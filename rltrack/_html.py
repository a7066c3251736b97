"""A run's compact HTML card, for notebooks (``Run._repr_html_``) and the dashboard."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

__all__ = ["SHOWN_ITEMS", "run_html"]

#: Config and summary entries ``run_html`` lists before cutting off.
SHOWN_ITEMS = 8


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
