"""The panels a workspace or report shows: per-key line options and the typed panels, validated from JSON.

A layout's ``panels`` list holds one object per panel, each with a ``type`` (``line`` when left out, so
every layout saved before the types existed still reads):

- ``{"type": "line", "key", "source", "log_y"}``: options of one key's chart (:class:`Panel`);
- ``{"type": "line", "regex", "source", "log_y", "title"}``: one chart of every key the regex matches;
- ``{"type": "compare", "keys", "config", "title"}``: a table of the visible runs' summaries and config;
- ``{"type": "simreal", "run", "keys", "title"}``: a run's sim and real sides overlaid, with the gap table;
- ``{"type": "media", "key", "step", "title"}``: the visible runs' images, videos, audio or histograms;
- ``{"type": "table", "run", "key", "step", "title"}``: one ``rltrack.Table`` of one run.

:func:`parse_panel` refuses anything else with an :class:`~rltrack.errors.RltrackError` naming the field
and what to write; :func:`panel_json` writes a panel back (every field present), and :data:`PANEL_SCHEMA`
is the JSON Schema of one entry.

Example:
    >>> parse_panel({"type": "media", "key": "video/eval"})
    MediaPanel(key='video/eval', step=None, title=None)
    >>> panel_json(parse_panel({"key": "train/loss"}))
    {'type': 'line', 'key': 'train/loss', 'source': None, 'log_y': None}
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Union

from rltrack.errors import RltrackError
from rltrack.server.key_regex import MAX_PATTERN, check_pattern
from rltrack.validate import check_key, check_run_id, check_source

__all__ = ["MAX_PANELS", "MAX_REGEX_KEYS", "PANEL_SCHEMA", "PANEL_TYPES", "AnyPanel", "ComparePanel", "MediaPanel",
           "Panel", "RegexPanel", "SimRealPanel", "TablePanel", "panel_json", "parse_panel"]

#: Panel types a layout may hold.
PANEL_TYPES = ("line", "compare", "simreal", "media", "table")
#: Most panels in one layout.
MAX_PANELS = 100
#: Keys a regex panel draws at most (sorted; the rest are counted in the answer's ``more``).
MAX_REGEX_KEYS = 20
#: Summary keys a compare panel lists at most, and config keys it names at most.
MAX_COMPARE_KEYS = 20
MAX_CONFIG_KEYS = 50
#: Keys a sim-vs-real panel draws at most.
MAX_SIMREAL_KEYS = 12
MAX_TITLE = 200
_MAX_STEP = 2**63 - 1


@dataclass(frozen=True)
class Panel:
    """Options of one key's line chart; keys without an entry use the workspace's defaults.

    Attributes:
        key: The logged key the panel draws.
        source: ``sim``, ``real`` or another source; ``None`` = each run's primary source.
        log_y: Log y-axis for this panel only (``None`` = the workspace's setting).
    """

    key: str
    source: str | None = None
    log_y: bool | None = None


@dataclass(frozen=True)
class RegexPanel:
    """One line chart overlaying every logged key a regular expression matches (at most :data:`MAX_REGEX_KEYS`).

    Attributes:
        regex: The pattern (searched in each key, case-sensitive; see :mod:`rltrack.server.key_regex`).
        source, log_y: As in :class:`Panel`.
        title: Shown above the chart (``None`` = the pattern).
    """

    regex: str
    source: str | None = None
    log_y: bool | None = None
    title: str | None = None


@dataclass(frozen=True)
class ComparePanel:
    """A table of the visible runs: name, id, config values, then each key's summary (last, min, max).

    Attributes:
        keys: Summary keys, one column each.
        config: Config keys shown (dots for nesting); ``None`` = the keys whose values differ between the runs.
        title: Shown above the table.
    """

    keys: tuple[str, ...]
    config: tuple[str, ...] | None = None
    title: str | None = None


@dataclass(frozen=True)
class SimRealPanel:
    """One run's sim and real sources overlaid, one chart per key, with the gap table of ``rltrack.sim2real``.

    Attributes:
        run: The run (its linked real or sim run is found as on the run page).
        keys: Keys drawn; ``None`` = the first :data:`MAX_SIMREAL_KEYS` keys both sides logged.
        title: Shown above the panel.
    """

    run: str
    keys: tuple[str, ...] | None = None
    title: str | None = None


@dataclass(frozen=True)
class MediaPanel:
    """The media (images, videos, audio, histograms) each visible run logged under one key.

    Attributes:
        key: The media key.
        step: The step shown first; ``None`` = each run's latest.
        title: Shown above the panel.
    """

    key: str
    step: int | None = None
    title: str | None = None


@dataclass(frozen=True)
class TablePanel:
    """One ``rltrack.Table`` of one run, sorted and paged by the server.

    Attributes:
        run: The run.
        key: The table's key.
        step: Which step's table; ``None`` = the latest.
        title: Shown above the table.
    """

    run: str
    key: str
    step: int | None = None
    title: str | None = None


AnyPanel = Union[Panel, RegexPanel, ComparePanel, SimRealPanel, MediaPanel, TablePanel]  # noqa: UP007  # 3.10 runtime

_TYPE_OF: dict[type, str] = {Panel: "line", RegexPanel: "line", ComparePanel: "compare", SimRealPanel: "simreal",
                             MediaPanel: "media", TablePanel: "table"}
_FIELDS: dict[str, tuple[str, ...]] = {
    "line": ("type", "key", "source", "log_y"),
    "regex": ("type", "regex", "source", "log_y", "title"),
    "compare": ("type", "keys", "config", "title"),
    "simreal": ("type", "run", "keys", "title"),
    "media": ("type", "key", "step", "title"),
    "table": ("type", "run", "key", "step", "title"),
}
_EXAMPLES = {
    "line": '{"type": "line", "key": "train/loss"} or {"type": "line", "regex": "^eval/"}',
    "regex": '{"type": "line", "regex": "^eval/", "title": "eval"}',
    "compare": '{"type": "compare", "keys": ["eval/return"], "config": null}',
    "simreal": '{"type": "simreal", "run": "<run id>", "keys": null}',
    "media": '{"type": "media", "key": "video/eval", "step": null}',
    "table": '{"type": "table", "run": "<run id>", "key": "eval/episodes", "step": null}',
}


def _bad(index: int | None, kind: str, name: str, value: Any, want: str) -> RltrackError:
    where = "workspace panel" if index is None else f"workspace panel {index}"
    shown = repr(value)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    return RltrackError(f"{where} ({kind}): field {name!r}={shown} is invalid; write {want} "
                        f"(e.g. {_EXAMPLES[kind]})")


def _title(index: int | None, kind: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_TITLE:
        raise _bad(index, kind, "title", value, f"text of at most {MAX_TITLE} characters, or null")
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
        raise _bad(index, kind, "title", value, "printable text without control characters")
    return value


def _key(index: int | None, kind: str, name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _bad(index, kind, name, value, "a logged key as text, such as 'train/loss'")
    try:
        return check_key(value, allow_reserved=True)
    except RltrackError as err:
        raise _bad(index, kind, name, value, f"a valid key ({err})") from None


def _keys(index: int | None, kind: str, name: str, value: Any, most: int, *, nullable: bool) -> tuple[str, ...] | None:
    if value is None and nullable:
        return None
    if not isinstance(value, list) or len(value) > most:
        raise _bad(index, kind, name, value, f"a list of at most {most} keys" + (", or null" if nullable else ""))
    return tuple(dict.fromkeys(_key(index, kind, name, v) for v in value))


def _run(index: int | None, kind: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _bad(index, kind, "run", value, "a run id of this project")
    try:
        return check_run_id(value)
    except RltrackError as err:
        raise _bad(index, kind, "run", value, f"a valid run id ({err})") from None


def _step(index: int | None, kind: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_STEP:
        raise _bad(index, kind, "step", value, "a step (an integer from 0), or null for the latest")
    return value


def _line_options(index: int | None, kind: str, value: Mapping[str, Any]) -> tuple[str | None, bool | None]:
    source = value.get("source")
    if source is not None:
        if not isinstance(source, str):
            raise _bad(index, kind, "source", source, "a source such as 'sim' or 'real', or null")
        try:
            source = check_source(source)
        except RltrackError as err:
            raise _bad(index, kind, "source", source, f"a valid source ({err})") from None
    log_y = value.get("log_y")
    if log_y is not None and not isinstance(log_y, bool):
        raise _bad(index, kind, "log_y", log_y, "true, false or null")
    return source, log_y


def parse_panel(value: Any, index: int | None = None) -> AnyPanel:
    """Return the validated panel of one JSON entry of a layout's ``panels`` (``type`` defaults to ``line``).

    Args:
        value: The JSON object.
        index: Its position in the list, named in error messages.

    Raises:
        RltrackError: not an object, an unknown type or field, or a field with a wrong value (the message names it).
    """
    where = "workspace panel" if index is None else f"workspace panel {index}"
    if not isinstance(value, Mapping):
        raise RltrackError(f"{where} {str(value)[:80]!r} is invalid; write an object such as {_EXAMPLES['line']}")
    given = value.get("type", "line")
    if given not in PANEL_TYPES:
        raise RltrackError(f"{where}: type {str(given)[:80]!r} is unknown; write one of {', '.join(PANEL_TYPES)}")
    kind = "regex" if given == "line" and "regex" in value else str(given)
    unknown = sorted(set(value) - set(_FIELDS[kind]))
    if unknown:
        raise RltrackError(f"{where} ({kind}) has unknown field(s) {unknown}; a {kind} panel has "
                           f"{', '.join(_FIELDS[kind])}")
    if kind == "line":
        source, log_y = _line_options(index, kind, value)
        return Panel(_key(index, kind, "key", value.get("key")), source, log_y)
    if kind == "regex":
        pattern = value["regex"]
        if not isinstance(pattern, str) or not pattern:
            raise _bad(index, kind, "regex", pattern, f"a regular expression of 1 to {MAX_PATTERN} characters")
        try:
            check_pattern(pattern)
        except RltrackError as err:
            raise RltrackError(f"{where} (regex): {err}") from None
        source, log_y = _line_options(index, kind, value)
        return RegexPanel(pattern, source, log_y, _title(index, kind, value.get("title")))
    if kind == "compare":
        keys = _keys(index, kind, "keys", value.get("keys"), MAX_COMPARE_KEYS, nullable=False)
        config = _keys(index, kind, "config", value.get("config"), MAX_CONFIG_KEYS, nullable=True)
        return ComparePanel(keys or (), config, _title(index, kind, value.get("title")))
    if kind == "simreal":
        return SimRealPanel(_run(index, kind, value.get("run")),
                            _keys(index, kind, "keys", value.get("keys"), MAX_SIMREAL_KEYS, nullable=True),
                            _title(index, kind, value.get("title")))
    if kind == "media":
        return MediaPanel(_key(index, kind, "key", value.get("key")), _step(index, kind, value.get("step")),
                          _title(index, kind, value.get("title")))
    return TablePanel(_run(index, kind, value.get("run")), _key(index, kind, "key", value.get("key")),
                      _step(index, kind, value.get("step")), _title(index, kind, value.get("title")))


def panel_json(panel: AnyPanel) -> dict[str, Any]:
    """Return a panel as its JSON entry, every field present and ``type`` first; :func:`parse_panel` reads it back."""
    data = asdict(panel)
    for name in ("keys", "config"):
        if isinstance(data.get(name), tuple):
            data[name] = list(data[name])
    return {"type": _TYPE_OF[type(panel)], **data}


def _typed(kind: str, required: list[str], props: dict[str, Any], what: str) -> dict[str, Any]:
    type_prop: dict[str, Any] = {"const": "line" if kind == "regex" else kind}
    if kind == "line":
        type_prop["default"] = "line"  # an entry without type is a line-by-key panel (layouts saved before types)
    return {"type": "object", "additionalProperties": False, "description": what,
            "required": required if kind == "line" else ["type", *required],
            "properties": {"type": type_prop, **props}}


_TEXT_OR_NULL = {"type": ["string", "null"], "maxLength": MAX_TITLE, "description": "shown above the panel"}
_STEP = {"type": ["integer", "null"], "minimum": 0, "description": "null = the latest"}
_SOURCE = {"type": ["string", "null"], "description": "sim, real, ...; null = each run's primary source"}

#: JSON Schema of one entry of a layout's ``panels`` (one alternative per type).
PANEL_SCHEMA: dict[str, Any] = {"oneOf": [
    _typed("line", ["key"], {"key": {"type": "string"}, "source": _SOURCE, "log_y": {"type": ["boolean", "null"]}},
           "options of one key's line chart (an entry without type is this)"),
    _typed("regex", ["regex"], {
        "regex": {"type": "string", "minLength": 1, "maxLength": MAX_PATTERN,
                  "description": f"searched in each key on the server; at most {MAX_REGEX_KEYS} keys drawn"},
        "source": _SOURCE, "log_y": {"type": ["boolean", "null"]}, "title": _TEXT_OR_NULL},
        "one chart of every key a regular expression matches"),
    _typed("compare", ["keys"], {
        "keys": {"type": "array", "items": {"type": "string"}, "maxItems": MAX_COMPARE_KEYS},
        "config": {"type": ["array", "null"], "items": {"type": "string"}, "maxItems": MAX_CONFIG_KEYS,
                   "description": "null = the config keys whose values differ between the runs"},
        "title": _TEXT_OR_NULL}, "a table of the visible runs' summaries and config"),
    _typed("simreal", ["run"], {
        "run": {"type": "string"},
        "keys": {"type": ["array", "null"], "items": {"type": "string"}, "maxItems": MAX_SIMREAL_KEYS},
        "title": _TEXT_OR_NULL}, "one run's sim and real sides overlaid, with the gap table"),
    _typed("media", ["key"], {"key": {"type": "string"}, "step": _STEP, "title": _TEXT_OR_NULL},
           "the media each visible run logged under one key"),
    _typed("table", ["run", "key"], {"run": {"type": "string"}, "key": {"type": "string"}, "step": _STEP,
                                     "title": _TEXT_OR_NULL}, "one rltrack.Table of one run"),
]}
