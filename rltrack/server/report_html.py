"""A report as one offline HTML file: its text, its panels' data and plotly.js inlined, no request needed to open it.

Every panel type is drawn from data written into the file (:mod:`rltrack.server.report_embed`): media as
``data:`` URIs up to a budget, anything over it named in a note.

The file runs the dashboard's own ``report.js`` (the same drawing code as the report page): the
script finds the report's data in a ``<script type="application/json">`` element instead of asking the
server. Every inline script is allowed by its SHA-256 in the file's own Content-Security-Policy, so
nothing else can run in it, and the JSON is written with ``<``, ``>`` and ``&`` escaped, so no text of
a run or a report can close its element.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from functools import cache
from typing import Any

from fastapi import Request

from rltrack.server.cache import ReadCache
from rltrack.server.dashboards import Dashboard, report_panels
from rltrack.server.dashboards_view import rendered
from rltrack.server.report_embed import EXPORT_POINTS, export_points, line_names, panel_data, series_name
from rltrack.server.routes_series import XAxis
from rltrack.server.static_files import STATIC_DIR, plotly_js
from rltrack.server.workspace import parse_layout, parse_panel
from rltrack.server.workspace_data import layout_run_ids, project_runs, run_keys, series_of, workspace_payload
from rltrack.server.workspace_resolve import resolve_panels
from rltrack.store.reader import StoreReader

__all__ = ["EXPORT_POINTS", "embedded_json", "report_data", "report_html"]

_SCRIPTS = ("common.js", "charts.js", "groups.js", "panels.js", "panels_table.js", "panels_edit.js", "report.js")
_STYLES = ("style.css", "workspace.css")


@cache
def _asset(name: str) -> str:
    return (STATIC_DIR / name).read_text(encoding="utf-8")


@cache
def _plotly() -> str:
    return plotly_js().read_text(encoding="utf-8")


def embedded_json(data: Any) -> str:
    """Return ``data`` as JSON safe inside a ``<script>`` element (``<``, ``>``, ``&`` written as escapes)."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").replace(
        "\u2028", "\\u2028").replace("\u2029", "\\u2029")


def report_data(request: Request, reader: StoreReader, cache: ReadCache, dashboard: Dashboard) -> dict[str, Any]:
    """Return what ``report.js`` draws: the report (markdown as safe HTML), its runs, and each panel's data.

    ``series`` holds the line-by-key panels' series (``"<key>|<source>"``); ``panels`` every panel block's data
    by block index (:func:`rltrack.server.report_embed.panel_data`: regex lines, compare, sim-vs-real, media
    as ``data:`` URIs within a budget, a table's first page).
    """
    layout = parse_layout(dashboard.layout)
    rows = project_runs(reader, cache, dashboard.project)
    ids = layout_run_ids(layout, rows)
    hidden = set(layout.hidden)
    visible = [r for r in ids if r not in hidden]
    logged = run_keys(reader, cache, dashboard.project, ids)
    panels = [parse_panel(p) for p in report_panels(dashboard)]
    resolved = resolve_panels(reader, dashboard.project, panels, logged)
    line_keys = {k for p in resolved if p["type"] == "line" and not p.get("error") for k in p["keys"]}
    workspace = workspace_payload(request, reader, cache, dashboard.project, layout, allowed_runs=ids,
                                  allowed_keys=line_keys) if ids else {"runs": [], "keys": []}
    workspace["panels"] = resolved
    x: XAxis = "step" if layout.x_axis == "step" else "t_ns"
    # Every line series once, at as many points as the file's budget gives the lot (report_embed.export_points).
    names = [(k, s) for k, s in line_names(resolved) if k in logged] if visible else []
    simreal = sum(2 * len(p["keys"]) for p in resolved if p["type"] == "simreal" and not p.get("error"))
    points, fits = export_points(len(names) * len(visible), simreal)
    series: dict[str, Any] = {}
    for key, source in names[: max(0, fits - simreal) // max(1, len(visible))]:
        series[series_name(key, source)] = series_of(reader, cache, dashboard.project, key, ",".join(visible),
                                                     source=source, points=points, x=x, allowed_runs=ids)
    data = panel_data(reader, cache, dashboard.project, dashboard.blocks, resolved, rows, visible, x, series, points)
    return {"dashboard": rendered(dashboard, private=False), "workspace": workspace, "series": series,
            "panels": data}


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def report_html(request: Request, reader: StoreReader, cache: ReadCache, dashboard: Dashboard) -> tuple[str, str]:
    """Return the report's offline HTML page and its Content-Security-Policy (also in the page's ``<meta>``)."""
    data = embedded_json(report_data(request, reader, cache, dashboard))
    scripts = [_plotly(), *(_asset(name) for name in _SCRIPTS)]
    csp = ("default-src 'none'; script-src " + " ".join(_sha256(s) for s in scripts)
           + "; style-src 'unsafe-inline'; img-src data: blob:; media-src data: blob:; base-uri 'none'; "
           "form-action 'none'")
    styles = "\n".join(_asset(name) for name in _STYLES)
    title = html.escape(dashboard.name)
    page = (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{csp}\">"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{title} · rltrack report</title><style>{styles}</style>"
        f"<script type='application/json' id='report-data'>{data}</script>"
        + "".join(f"<script>{s}</script>" for s in scripts)
        + "</head><body data-offline='1'><header class='top'><span>rltrack report</span>"
        f"<span class='crumbs'>{html.escape(dashboard.project)}</span></header>"
        "<main class='report' id='report'></main><p id='error' class='err'></p></body></html>"
    )
    return page, csp
