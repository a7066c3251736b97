"""A saved dashboard as the API answers it: its page's path and its markdown blocks as safe HTML.

Below the routes (:mod:`rltrack.server.routes_dashboards`, :mod:`rltrack.server.routes_shared`) and the
offline export (:mod:`rltrack.server.report_html`), which all answer dashboards this way.
"""

from __future__ import annotations

from typing import Any

from rltrack.server.dashboards import Dashboard
from rltrack.server.markdown import render_markdown

__all__ = ["page_url", "rendered"]


def page_url(dashboard: Dashboard) -> str:
    """Return the dashboard page's path (the workspace with ``?d=``, or the report page)."""
    from urllib.parse import quote

    project = quote(dashboard.project, safe="")
    if dashboard.kind == "report":
        return f"/projects/{project}/reports/{dashboard.id}"
    return f"/projects/{project}?d={dashboard.id}"


def rendered(dashboard: Dashboard, *, private: bool = True) -> dict[str, Any]:
    """Return a dashboard as JSON with each markdown block's safe HTML (``private=False`` drops user names)."""
    out = dashboard.as_json()
    out["blocks"] = [dict(b, html=render_markdown(b["markdown"])) if "markdown" in b else b for b in dashboard.blocks]
    out["url"] = page_url(dashboard)
    if not private:
        for name in ("created_by", "updated_by", "url"):
            out.pop(name)
    return out
