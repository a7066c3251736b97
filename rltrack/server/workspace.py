"""The project workspace's layout: a plain JSON object describing what the project page shows.

The page keeps its whole state in this object (serialised into the URL as ``?w=<json>``), so a
saved or shared workspace is exactly this object. Every field is optional in JSON; a missing
field takes its default and :func:`parse_layout` refuses anything else with an
:class:`~rltrack.errors.RltrackError` naming the field and what to write instead.

Example:
    >>> layout = parse_layout({"group_by": "learning_rate", "panels": [{"key": "odom/speed", "source": "real"}]})
    >>> layout.recent, layout.panels[0].source
    (50, 'real')
    >>> layout_json(layout)["group_by"]
    'learning_rate'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from rltrack.errors import RltrackError
from rltrack.server.key_regex import MAX_PATTERN, check_pattern
from rltrack.server.workspace_panels import (
    MAX_PANELS,
    PANEL_SCHEMA,
    AnyPanel,
    Panel,
    panel_json,
    parse_panel,
)
from rltrack.validate import check_run_id

__all__ = ["LAYOUT_SCHEMA", "X_AXES", "AnyPanel", "Layout", "Panel", "layout_json", "panel_json", "parse_layout",
           "parse_panel"]

#: The page's x-axes: training step, wall-clock time, seconds since the run started.
X_AXES = ("step", "wall", "relative")
#: Runs shown by default: the most recent ones (a project of 1,000 runs stays fast).
DEFAULT_RECENT = 50
#: Most runs a workspace may overlay at once (what one series request may ask for).
MAX_RUNS = 1000
_TEXT_LIMIT = 500


@dataclass(frozen=True)
class Layout:
    """What the project page shows.

    Attributes:
        version: Layout format version (1).
        runs: Runs explicitly made visible; ``None`` = the ``recent`` most recent runs.
        recent: How many of the newest runs are visible when ``runs`` is ``None``.
        hidden: Runs toggled off (kept in the legend, not drawn).
        search: Filter of the run selector (substring of name or id).
        group_by: A config key (dots for nesting); runs with one value draw as a mean and a min-max band.
        key_filter: Substring a key must contain to get a panel (a regular expression with ``key_regex``).
        key_regex: ``key_filter`` is a regular expression, searched in each key on the server.
        x_axis: ``step``, ``wall`` or ``relative``.
        smoothing: Exponential moving average weight, 0 (off) to 0.99.
        log_y: Log y-axis on every panel (positive values only).
        collapsed: Key prefixes whose section is folded.
        panels: Per-key line options and the typed panels (:mod:`rltrack.server.workspace_panels`), in page order.
    """

    version: int = 1
    runs: tuple[str, ...] | None = None
    recent: int = DEFAULT_RECENT
    hidden: tuple[str, ...] = ()
    search: str = ""
    group_by: str | None = None
    key_filter: str = ""
    key_regex: bool = False
    x_axis: str = "step"
    smoothing: float = 0.0
    log_y: bool = False
    collapsed: tuple[str, ...] = ()
    panels: tuple[AnyPanel, ...] = field(default_factory=tuple)


_FIELDS = {
    "version": "integer 1",
    "runs": "a list of run ids or null",
    "recent": f"an integer from 1 to {MAX_RUNS}",
    "hidden": "a list of run ids",
    "search": "text",
    "group_by": "a config key or null",
    "key_filter": "text (a regular expression when key_regex is true)",
    "key_regex": "true or false",
    "x_axis": " or ".join(X_AXES),
    "smoothing": "a number from 0 to 0.99",
    "log_y": "true or false",
    "collapsed": "a list of key prefixes",
    "panels": f"a list of at most {MAX_PANELS} panel objects (see /api/workspace/schema)",
}


def _bad(name: str, value: Any) -> RltrackError:
    return RltrackError(f"workspace layout field {name!r}={value!r} is invalid; write {_FIELDS.get(name, name)}")


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or len(value) > _TEXT_LIMIT:
        raise _bad(name, value)
    return value


def _ids(name: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > MAX_RUNS:
        raise _bad(name, value)
    for item in value:
        if not isinstance(item, str):
            raise _bad(name, value)
        check_run_id(item)
    return tuple(dict.fromkeys(value))


def parse_layout(data: Any) -> Layout:
    """Return the validated :class:`Layout` of a JSON object (missing fields take their defaults).

    Raises:
        RltrackError: ``data`` is not an object, has an unknown field, or a field has a wrong value.
    """
    if not isinstance(data, Mapping):
        raise RltrackError(f"a workspace layout is a JSON object, not {type(data).__name__}")
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise RltrackError(f"workspace layout has unknown field(s) {unknown}; known fields: {', '.join(_FIELDS)}")
    out: dict[str, Any] = {}
    if "version" in data and data["version"] != 1:
        raise _bad("version", data["version"])
    if data.get("runs") is not None:
        out["runs"] = _ids("runs", data["runs"])
    if "recent" in data:
        recent = data["recent"]
        if isinstance(recent, bool) or not isinstance(recent, int) or not 1 <= recent <= MAX_RUNS:
            raise _bad("recent", recent)
        out["recent"] = recent
    if "hidden" in data:
        out["hidden"] = _ids("hidden", data["hidden"])
    for name in ("search", "key_filter"):
        if name in data:
            out[name] = _text(name, data[name])
    if data.get("group_by") is not None:
        out["group_by"] = _text("group_by", data["group_by"]) or None
    if "x_axis" in data:
        if data["x_axis"] not in X_AXES:
            raise _bad("x_axis", data["x_axis"])
        out["x_axis"] = data["x_axis"]
    if "smoothing" in data:
        s = data["smoothing"]
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not math.isfinite(s) or not 0 <= s <= 0.99:
            raise _bad("smoothing", s)
        out["smoothing"] = float(s)
    for name in ("log_y", "key_regex"):
        if name in data:
            if not isinstance(data[name], bool):
                raise _bad(name, data[name])
            out[name] = data[name]
    if out.get("key_regex") and out.get("key_filter", "").strip():
        out["key_filter"] = out["key_filter"].strip()
        try:
            check_pattern(out["key_filter"])
        except RltrackError as err:
            raise RltrackError(f"workspace layout field 'key_filter': {err}") from None
    if "collapsed" in data:
        c = data["collapsed"]
        if not isinstance(c, list) or not all(isinstance(p, str) and len(p) <= _TEXT_LIMIT for p in c):
            raise _bad("collapsed", c)
        out["collapsed"] = tuple(dict.fromkeys(c))
    if "panels" in data:
        if not isinstance(data["panels"], list):
            raise _bad("panels", data["panels"])
        if len(data["panels"]) > MAX_PANELS:
            raise RltrackError(f"workspace layout field 'panels' holds {len(data['panels'])} panels; keep at most "
                               f"{MAX_PANELS} (save a second workspace for the rest)")
        panels = [parse_panel(p, i) for i, p in enumerate(data["panels"])]
        keys = [p.key for p in panels if isinstance(p, Panel)]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            raise RltrackError(f"workspace layout lists line options for key(s) {twice[:5]} twice; give each key one "
                               "line entry (a regex panel can draw several keys in one chart)")
        out["panels"] = tuple(panels)
    return Layout(**out)


def layout_json(layout: Layout) -> dict[str, Any]:
    """Return the layout as a plain JSON object (lists, not tuples); ``parse_layout`` reads it back equal."""
    data = asdict(layout)
    for name in ("hidden", "collapsed"):
        data[name] = list(data[name])
    data["runs"] = None if layout.runs is None else list(layout.runs)
    data["panels"] = [panel_json(p) for p in layout.panels]
    return data


#: JSON Schema (draft 2020-12) of a layout, served at ``/api/workspace/schema``.
LAYOUT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "rltrack project workspace layout",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "version": {"const": 1},
        "runs": {"type": ["array", "null"], "items": {"type": "string"}, "maxItems": MAX_RUNS,
                 "description": "runs made visible; null = the `recent` newest runs"},
        "recent": {"type": "integer", "minimum": 1, "maximum": MAX_RUNS, "default": DEFAULT_RECENT},
        "hidden": {"type": "array", "items": {"type": "string"}, "description": "runs toggled off"},
        "search": {"type": "string", "maxLength": _TEXT_LIMIT},
        "group_by": {"type": ["string", "null"], "description": "config key; a group draws its mean and min-max band"},
        "key_filter": {"type": "string", "maxLength": _TEXT_LIMIT,
                       "description": "substring of the keys shown, or a regular expression when key_regex is true"},
        "key_regex": {"type": "boolean", "default": False,
                      "description": f"key_filter is a regular expression (at most {MAX_PATTERN} characters), "
                                     "evaluated on the server"},
        "x_axis": {"enum": list(X_AXES), "default": "step"},
        "smoothing": {"type": "number", "minimum": 0, "maximum": 0.99, "default": 0},
        "log_y": {"type": "boolean", "default": False},
        "collapsed": {"type": "array", "items": {"type": "string"}, "description": "folded key prefixes"},
        "panels": {"type": "array", "maxItems": MAX_PANELS, "items": PANEL_SCHEMA,
                   "description": "line options per key and typed panels (regex, compare, simreal, media, table)"},
    },
}
