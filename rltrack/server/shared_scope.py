"""What a share link may serve: the runs, keys, media, tables and sim-vs-real pairs its dashboard's panels show.

A share link's routes (:mod:`rltrack.server.routes_shared`, :mod:`rltrack.server.shared_runs`) read with
the app's own reader (the viewer may be logged out), so this scope is the whole of what protects the rest of
the project: each route asks it before answering, and anything it does not name is a 404, as for a link
that does not exist. The scope is derived from the saved dashboard through the same panel resolution the
page draws from (:func:`rltrack.server.workspace_resolve.resolve_panels`), so the link serves exactly what
the page shows.
"""

from __future__ import annotations

import posixpath
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException

from rltrack.errors import RltrackError
from rltrack.media.table import table_cell_files
from rltrack.server.dashboards import Dashboard, report_panels
from rltrack.server.tables import table_path
from rltrack.server.workspace import AnyPanel, Panel, parse_layout, parse_panel
from rltrack.server.workspace_data import layout_run_ids, project_runs, run_keys, shown_keys
from rltrack.server.workspace_media import media_rows
from rltrack.server.workspace_resolve import resolve_panels
from rltrack.store.reader import StoreReader

__all__ = ["ShareScope", "check_runs", "share_scope", "share_urls"]


@dataclass
class ShareScope:
    """What one shared dashboard shows.

    Attributes:
        project: The dashboard's project.
        runs: The layout's runs (its ``runs``, or its newest ``recent``), in order.
        keys: Keys its line charts draw (per-key and regex panels, a workspace's filtered keys).
        media_keys: Keys of its media panels (their files, for the layout's runs).
        compare_keys: Summary keys of its compare panels.
        pairs: Sim-vs-real panels: panel run -> (keys drawn, the runs of both sides).
        tables: (run, key) of its table panels.
        sources: Key of a line chart -> the sources its charts draw it from (None: each run's primary source).
        pair_sources: (run, source) of both sides of its sim-vs-real panels.
        primary: Run -> its primary source (what a request without ``source`` reads).
        panels: The resolved panels (the workspace's layout panels, or a report's panel blocks).
    """

    project: str
    runs: list[str]
    keys: set[str] = field(default_factory=set)
    media_keys: set[str] = field(default_factory=set)
    compare_keys: set[str] = field(default_factory=set)
    pairs: dict[str, tuple[set[str], set[str]]] = field(default_factory=dict)
    tables: set[tuple[str, str]] = field(default_factory=set)
    sources: dict[str, set[str | None]] = field(default_factory=dict)
    pair_sources: set[tuple[str, str]] = field(default_factory=set)
    primary: dict[str, str] = field(default_factory=dict)
    panels: list[dict[str, Any]] = field(default_factory=list)

    def refuse(self, what: str) -> HTTPException:
        """Return the 404 of something this dashboard does not show."""
        return HTTPException(404, f"{what} is not shown by this shared dashboard")

    def pair_runs(self) -> set[str]:
        """Return every run on either side of a sim-vs-real panel."""
        return {r for _, runs in self.pairs.values() for r in runs}

    def source_allowed(self, run_id: str, keys: Collection[str], source: str | None) -> bool:
        """Return whether a line chart of the link draws these keys of a run from ``source`` (None: primary)."""
        primary = self.primary.get(run_id)
        wanted = source or primary
        for key in keys:
            drawn = self.sources.get(key, {None})
            if wanted not in {s or primary for s in drawn}:
                return False
        return True

    def series_allowed(self, run_id: str, keys: Collection[str], source: str | None = None) -> bool:
        """Return whether the link may serve these keys of one run from ``source`` (None: the run's primary).

        A line chart's keys only from the sources its panels name (a panel without one: the primary source),
        a sim-vs-real panel's keys only from the side a run is on.
        """
        if run_id in self.runs and set(keys) <= self.keys and self.source_allowed(run_id, keys, source):
            return True
        side = source or self.primary.get(run_id)
        return (run_id, side or "") in self.pair_sources and any(
            run_id in runs and set(keys) <= drawn for drawn, runs in self.pairs.values())

    def project_source_allowed(self, key: str, source: str | None) -> bool:
        """Return whether a line chart of the link draws ``key`` from ``source`` over the layout's runs."""
        return all(self.source_allowed(run_id, [key], source) for run_id in self.runs)

    def file_allowed(self, reader: StoreReader, run_id: str, path: str) -> bool:
        """Return whether a run file is media a panel shows (a media panel's, a pair's video, a table's cell)."""
        if run_id in self.runs and any(m.path == path for key in self.media_keys
                                       for m in media_rows(reader, run_id, key)):
            return True
        if run_id in self.pair_runs() and any(m.path == path and m.kind == "video" for m in reader.media(run_id)):
            return True
        keys = {k for r, k in self.tables if r == run_id}
        if keys:
            for m in reader.media(run_id):
                if m.kind != "table" or m.key not in keys:
                    continue
                folder = m.path.rpartition("/")[0]
                file = table_path(reader.db.root, run_id, m)
                try:
                    names = table_cell_files(file, m.meta) if file is not None else []
                except (OSError, ValueError, KeyError, ImportError):
                    names = []
                if path in {posixpath.normpath(posixpath.join(folder, n)) if folder else n for n in names}:
                    return True
        return False


def _panels_of(dashboard: Dashboard) -> list[AnyPanel]:
    if dashboard.kind == "report":
        return [parse_panel(p) for p in report_panels(dashboard)]
    return list(parse_layout(dashboard.layout).panels)


def share_scope(reader: StoreReader, cache: Any, dashboard: Dashboard) -> ShareScope:
    """Return what a shared dashboard shows (see :class:`ShareScope`).

    Raises:
        RltrackError: the saved key regex runs out of time (a 400 naming it).
    """
    layout = parse_layout(dashboard.layout)
    rows = project_runs(reader, cache, dashboard.project)
    ids = layout_run_ids(layout, rows)
    logged = run_keys(reader, cache, dashboard.project, ids)
    scope = ShareScope(dashboard.project, ids)
    panels = _panels_of(dashboard)
    named: dict[str, set[str | None]] = {}
    if dashboard.kind == "workspace":
        scope.keys = set(shown_keys(layout, logged))
    scope.panels = resolve_panels(reader, dashboard.project, panels, logged)
    for panel, resolved in zip(panels, scope.panels, strict=True):
        if resolved.get("error"):
            continue
        kind = resolved["type"]
        if kind == "line":
            scope.keys.update(resolved["keys"])
            for key in resolved["keys"]:
                named.setdefault(key, set()).add(resolved["source"])
        elif kind == "compare":
            scope.compare_keys.update(resolved["keys"])
        elif kind == "media":
            scope.media_keys.add(resolved["key"])
        elif kind == "table":
            scope.tables.add((resolved["run"], resolved["key"]))
        elif kind == "simreal":
            runs = {resolved["run"], *(r for r in (resolved.get("sim_run"), resolved.get("real_run")) if r)}
            drawn, before = scope.pairs.get(resolved["run"], (set(), set()))
            scope.pairs[resolved["run"]] = (drawn | set(resolved["keys"]), before | runs)
            for side in ("sim", "real"):
                if resolved.get(side + "_run") and resolved.get(side):
                    scope.pair_sources.add((resolved[side + "_run"], resolved[side]))
        if isinstance(panel, Panel) and panel.key not in logged:
            scope.keys.discard(panel.key)
    # A key the filter shows without a panel naming it is drawn from each run's primary source.
    scope.sources = {key: named.get(key, {None}) for key in scope.keys}
    scope.primary = {r.id: r.primary_source for r in rows}
    for run_id in scope.pair_runs() - scope.primary.keys():  # a linked run of another project
        try:
            scope.primary[run_id] = reader.run(run_id).primary_source
        except RltrackError:
            continue
    return scope


def check_runs(scope: ShareScope, ids: Collection[str]) -> None:
    """Refuse (404) run ids the link does not show.

    Raises:
        HTTPException: 404 naming the first such run.
    """
    extra = [r for r in ids if r not in scope.runs]
    if extra:
        raise scope.refuse(f"run {extra[0]!r}")


def share_urls(token: str, data: Any) -> Any:
    """Return ``data`` with every ``url`` of a run file rewritten to the share link's file route."""
    if isinstance(data, dict):
        out = {}
        for name, value in data.items():
            if name == "url" and isinstance(value, str) and value.startswith("/api/runs/"):
                value = f"/api/shared/{quote(token, safe='')}/runs/" + value[len("/api/runs/"):]
            out[name] = share_urls(token, value)
        return out
    if isinstance(data, list):
        return [share_urls(token, v) for v in data]
    return data
