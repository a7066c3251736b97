"""Saved project dashboards: workspaces and reports stored on the server, with read-only share links.

A dashboard belongs to one project. A *workspace* is a saved layout of the project page
(:mod:`rltrack.server.workspace`); a *report* is a layout (which runs, x-axis, smoothing) plus a page of
blocks, each a markdown text (:mod:`rltrack.server.markdown`) or a panel (one key's chart). Saving is
optimistic: each save names the version it edits, and a save over a newer version is refused with
:class:`StaleDashboardError`, naming who saved since, instead of silently overwriting a teammate's work.

A share link is a random token (:func:`secrets.token_urlsafe`, 32 bytes); only its SHA-256 is stored,
so a copy of the database does not hold working links. A link can be revoked, and dies with its dashboard.

Two backends hold the same tables: a SQLite file beside the store (``<root>/dashboards.sqlite``) and,
for a server on PostgreSQL (``--db``), tables in that database (:mod:`rltrack.server.dashboards_sql`).

Example:
    >>> spec = parse_dashboard({"kind": "report", "name": "Week 3", "blocks": [{"markdown": "# Results"}]})
    >>> spec.kind, spec.blocks[0]
    ('report', {'markdown': '# Results'})
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rltrack.errors import RltrackError
from rltrack.server.workspace import layout_json, panel_json, parse_layout, parse_panel
from rltrack.server.workspace_panels import MAX_PANELS

__all__ = [
    "KINDS",
    "MAX_BLOCKS",
    "MAX_MARKDOWN",
    "MAX_NAME",
    "Dashboard",
    "DashboardNotFoundError",
    "DashboardSpec",
    "Share",
    "StaleDashboardError",
    "parse_dashboard",
    "report_panels",
]

#: What a dashboard can be: a saved workspace layout, or a report (a layout plus text and panel blocks).
KINDS = ("workspace", "report")
#: Longest name, in characters.
MAX_NAME = 200
#: Most blocks on a report page, and the longest markdown block, in characters.
MAX_BLOCKS = 200
MAX_MARKDOWN = 20_000
#: Largest stored dashboard (its JSON), in characters: a layout naming 1,000 runs is about 70 kB.
MAX_BODY = 512 * 1024


class DashboardNotFoundError(RltrackError, LookupError):
    """No such dashboard (or share link) in this project; answered as 404."""


class StaleDashboardError(RltrackError):
    """A save named an older version than the stored one; answered as 409.

    Attributes:
        current: The dashboard as it is stored now (who saved it, when, its version).
    """

    def __init__(self, message: str, current: Dashboard) -> None:
        super().__init__(message)
        self.current = current


@dataclass(frozen=True)
class DashboardSpec:
    """What a client sends to save a dashboard: validated, defaults filled in.

    Attributes:
        kind: ``workspace`` or ``report``.
        name: Shown in lists and as the report's title (any text; escaped wherever it is drawn).
        layout: The workspace layout (every field present, see :func:`rltrack.server.workspace.layout_json`).
        blocks: A report's blocks, ``{"markdown": text}`` or ``{"panel": <panel>}`` (any panel type of
            :mod:`rltrack.server.workspace_panels`, every field present); empty for a workspace.
    """

    kind: str
    name: str
    layout: dict[str, Any]
    blocks: list[dict[str, Any]] = field(default_factory=list)

    def body(self) -> str:
        """Return the stored JSON of the layout and blocks."""
        return json.dumps({"layout": self.layout, "blocks": self.blocks}, separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True)
class Dashboard:
    """A stored dashboard.

    Attributes:
        id: Its id in URLs (random, 16 hex digits).
        project: The project it belongs to.
        kind, name, layout, blocks: As in :class:`DashboardSpec`.
        created_by, updated_by: The user who created it and who saved it last (None without accounts).
        created_ns, updated_ns: When, in nanoseconds since the epoch.
        version: Starts at 1; each save adds one.
    """

    id: str
    project: str
    kind: str
    name: str
    layout: dict[str, Any]
    blocks: list[dict[str, Any]]
    created_by: str | None
    created_ns: int
    updated_by: str | None
    updated_ns: int
    version: int

    def summary(self) -> dict[str, Any]:
        """Return the fields a list shows (no layout or blocks)."""
        return {
            "id": self.id, "project": self.project, "kind": self.kind, "name": self.name,
            "created_by": self.created_by, "created_ns": self.created_ns, "updated_by": self.updated_by,
            "updated_ns": self.updated_ns, "version": self.version,
        }  # fmt: skip

    def as_json(self) -> dict[str, Any]:
        """Return every field as a JSON object."""
        return {**self.summary(), "layout": self.layout, "blocks": self.blocks}


@dataclass(frozen=True)
class Share:
    """A read-only share link of a dashboard (the token itself is shown once, when it is made).

    Attributes:
        id: The link's id (to revoke it), not the token.
        dashboard: The dashboard's id.
        created_by: Who made it (None without accounts).
        created_ns: When.
        revoked_ns: When it was revoked, or None while it works.
    """

    id: str
    dashboard: str
    created_by: str | None
    created_ns: int
    revoked_ns: int | None = None

    def as_json(self) -> dict[str, Any]:
        """Return the link's fields as a JSON object."""
        return {"id": self.id, "dashboard": self.dashboard, "created_by": self.created_by,
                "created_ns": self.created_ns, "revoked_ns": self.revoked_ns}


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RltrackError(f"dashboard name {value!r} is invalid; give a non-empty text such as 'PPO sweep'")
    name = value.strip()
    if len(name) > MAX_NAME:
        raise RltrackError(f"dashboard name of {len(name)} characters is too long; use at most {MAX_NAME}")
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in name):
        raise RltrackError(f"dashboard name {name!r} holds control characters; use printable text")
    return name


def _block(value: Any, index: int) -> dict[str, Any]:
    if isinstance(value, Mapping) and set(value) == {"markdown"}:
        text = value["markdown"]
        if not isinstance(text, str):
            raise RltrackError(f"report block {index}: markdown must be text, not {type(text).__name__}")
        if len(text) > MAX_MARKDOWN:
            raise RltrackError(f"report block {index}: {len(text)} characters of markdown; write at most "
                               f"{MAX_MARKDOWN} per block (split it into several blocks)")
        if "\x00" in text:
            raise RltrackError(f"report block {index}: markdown holds a NUL character; remove it")
        return {"markdown": text}
    if isinstance(value, Mapping) and set(value) == {"panel"}:
        try:
            panel = parse_panel(value["panel"])
        except RltrackError as err:
            raise RltrackError(f"report block {index}: {err}") from err
        return {"panel": panel_json(panel)}
    raise RltrackError(f"report block {index} {str(value)[:80]!r} is invalid; write {{\"markdown\": text}} or "
                       '{"panel": {"type": "line", "key": ...}} (any panel type of /api/workspace/schema)')


def parse_dashboard(data: Any, *, kind: str | None = None) -> DashboardSpec:
    """Return the validated :class:`DashboardSpec` of a JSON object ``{kind, name, layout, blocks}``.

    Args:
        data: The object a client sent (``layout`` and ``blocks`` may be left out).
        kind: The kind already stored (an update cannot change it); ``data["kind"]``, if present, must match.

    Raises:
        RltrackError: a field is missing, unknown or invalid (the message names it), or the whole is too large.
    """
    if not isinstance(data, Mapping):
        raise RltrackError(f"a dashboard is a JSON object, not {type(data).__name__}")
    unknown = sorted(set(data) - {"kind", "name", "layout", "blocks", "version"})
    if unknown:
        raise RltrackError(
            f"dashboard has unknown field(s) {unknown}; known fields: kind, name, layout, blocks, version"
        )
    given = data.get("kind", kind or "workspace")
    if given not in KINDS:
        raise RltrackError(f"dashboard kind {given!r} is invalid; write one of {', '.join(KINDS)}")
    if kind is not None and given != kind:
        raise RltrackError(f"dashboard kind cannot change from {kind!r} to {given!r}; save a new one instead")
    layout = layout_json(parse_layout(data.get("layout") or {}))
    blocks_in = data.get("blocks") or []
    if not isinstance(blocks_in, list):
        raise RltrackError(f"dashboard blocks must be a list, not {type(blocks_in).__name__}")
    if given == "workspace" and blocks_in:
        raise RltrackError("a workspace has no blocks; save a report (kind 'report') for text and panel blocks")
    if len(blocks_in) > MAX_BLOCKS:
        raise RltrackError(f"report has {len(blocks_in)} blocks; use at most {MAX_BLOCKS}")
    spec = DashboardSpec(given, _name(data.get("name")), layout, [_block(b, i) for i, b in enumerate(blocks_in)])
    panels = len(report_panels(spec))
    if panels > MAX_PANELS:
        raise RltrackError(f"report has {panels} panel blocks; use at most {MAX_PANELS} (split it into two reports)")
    size = len(spec.body())
    if size > MAX_BODY:
        raise RltrackError(
            f"dashboard of {size} characters is too large; keep it under {MAX_BODY} (fewer runs or less text)"
        )
    return spec


def report_panels(dashboard: Dashboard | DashboardSpec) -> list[dict[str, Any]]:
    """Return the panels of a report's blocks, in page order (a workspace has none)."""
    return [b["panel"] for b in dashboard.blocks if "panel" in b]
