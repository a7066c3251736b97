"""A layout's panels resolved against the project's data: which keys each draws, which runs it names.

The workspace bootstrap sends this list (``"panels"``), a share link derives what it may serve from it
(:mod:`rltrack.server.shared_scope`), and the offline export draws from it: one resolution, so the page,
the link and the file agree on what a panel shows. A panel that cannot be drawn (its run left the
project, its regex runs out of time) carries an ``error`` naming why instead of failing the whole page.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from typing import Any

from rltrack.errors import RltrackError
from rltrack.server.key_regex import MATCH_BUDGET_S, match_keys
from rltrack.server.workspace import AnyPanel, Layout, Panel
from rltrack.server.workspace_panels import (
    MAX_REGEX_KEYS,
    MAX_SIMREAL_KEYS,
    ComparePanel,
    MediaPanel,
    RegexPanel,
    SimRealPanel,
    TablePanel,
    panel_json,
)
from rltrack.store.reader import RunRow, StoreReader

__all__ = ["PANELS_BUDGET_S", "resolve_panel", "resolve_panels", "simreal_sides"]

#: Seconds all the regex panels of one page may search for together.
PANELS_BUDGET_S = 1.0


def simreal_sides(reader: StoreReader, project: str, run_id: str) -> dict[str, Any]:
    """Return the sim-vs-real answer of a run of ``project`` (as the run page gets it).

    Raises:
        RltrackError: the run, or its linked counterpart, is not a run of ``project`` (a panel never reaches
            into another project, whose runs a share link's viewer may not see).
    """
    from rltrack.server.routes_simreal import simreal

    try:
        row = reader.run(run_id)
    except RltrackError:
        row = None
    if row is None or row.project != project:
        raise RltrackError(f"run {run_id!r} is not a run of project {project!r}; pick one of its runs")
    info: dict[str, Any] = simreal(run_id, reader)
    for side in ("sim_run", "real_run"):
        other = info.get(side)
        if other and other != run_id and reader.run(other).project != project:
            raise RltrackError(f"run {run_id!r} names {side.replace('_', ' ')} {other!r} of another project; "
                               "the panel draws pairs within one project only")
    return info


def _own_run(reader: StoreReader, project: str, run_id: str) -> None:
    try:
        row = reader.run(run_id)
    except RltrackError:
        row = None
    if row is None or row.project != project:
        raise RltrackError(f"run {run_id!r} is not a run of project {project!r}; pick one of its runs")


def resolve_panel(reader: StoreReader, project: str, panel: AnyPanel, logged: Collection[str], *,
                  budget_s: float = MATCH_BUDGET_S) -> dict[str, Any]:
    """Return one panel's JSON with what it draws: ``keys`` (and ``more``), a simreal panel's sides, or ``error``.

    Args:
        reader: The store reader.
        project: The project the layout belongs to.
        panel: The validated panel.
        logged: Every key the layout's runs logged (what regex and per-key panels can draw).
        budget_s: Seconds a regex panel's search may take.
    """
    out: dict[str, Any] = {**panel_json(panel), "error": None}
    try:
        if isinstance(panel, Panel):
            out["keys"] = [panel.key] if panel.key in logged else []
        elif isinstance(panel, RegexPanel):
            if budget_s <= 0:
                raise RltrackError(f"key regex {panel.regex!r} was not searched: this page's regex panels took "
                                   f"their {PANELS_BUDGET_S:g} s together; write them without nested quantifiers")
            matched, total = match_keys(panel.regex, sorted(logged), budget_s=min(budget_s, MATCH_BUDGET_S))
            out["keys"], out["more"] = matched[:MAX_REGEX_KEYS], max(0, total - MAX_REGEX_KEYS)
        elif isinstance(panel, ComparePanel):
            pass  # the saved summary keys, as they are: a run without one shows an empty cell
        elif isinstance(panel, SimRealPanel):
            info = simreal_sides(reader, project, panel.run)
            shared = list(info.get("shared") or [])
            signals = [k for k in info.get("signals") or [] if k in shared]
            ordered = signals + [k for k in shared if k not in signals]
            keys = list(panel.keys) if panel.keys is not None else ordered[:MAX_SIMREAL_KEYS]
            out.update(keys=keys, more=0 if panel.keys is not None else max(0, len(ordered) - MAX_SIMREAL_KEYS),
                       available=bool(info.get("available")),
                       **{name: info.get(name) for name in ("sim_run", "real_run", "sim", "real")})
        elif isinstance(panel, MediaPanel):
            out["keys"] = [panel.key]
        elif isinstance(panel, TablePanel):
            _own_run(reader, project, panel.run)
            out["keys"] = [panel.key]
    except RltrackError as err:
        out["error"] = str(err)
        if not isinstance(out.get("keys"), list) or not isinstance(panel, ComparePanel):
            out["keys"] = []  # nothing is drawn; a compare panel keeps its saved columns
    return out


def resolve_panels(reader: StoreReader, project: str, panels: Sequence[AnyPanel],
                   logged: Collection[str]) -> list[dict[str, Any]]:
    """Return every panel resolved (:func:`resolve_panel`), in page order, each with its ``index``.

    The regex panels share one time budget (:data:`PANELS_BUDGET_S`): each may take up to
    :data:`~rltrack.server.key_regex.MATCH_BUDGET_S`, so 100 slow ones would otherwise hold a request (and
    every request of a share link, which resolves them again) for 50 s; the ones left once it is spent
    answer an ``error`` instead.
    """
    deadline = time.monotonic() + PANELS_BUDGET_S
    out = []
    for i, p in enumerate(panels):
        left = deadline - time.monotonic()
        out.append({**resolve_panel(reader, project, p, logged, budget_s=left), "index": i})
    return out


def visible_rows(layout: Layout, rows: Sequence[RunRow], ids: Sequence[str]) -> list[RunRow]:
    """Return the rows of the layout's runs that are not toggled off, in the layout's order."""
    by_id = {r.id: r for r in rows}
    hidden = set(layout.hidden)
    return [by_id[i] for i in ids if i in by_id and i not in hidden]
