"""A compare panel's table: one row per run with its config values and each key's summary.

The numbers are the runs' stored summaries (what ``run.summary`` and the runs table show), never
recomputed; a config column left unnamed (``config`` null) is one whose values differ between the runs,
so the table shows what sets the runs apart.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from rltrack.errors import RltrackError, RunNotFoundError
from rltrack.server.run_filters import lookup
from rltrack.server.workspace import MAX_RUNS
from rltrack.server.workspace_panels import MAX_COMPARE_KEYS, MAX_CONFIG_KEYS
from rltrack.store.reader import RunRow, StoreReader
from rltrack.validate import check_key

__all__ = ["compare_rows", "rows_of", "run_list", "split_list", "varying_config"]

#: Fields a summary entry that is an object may hold beside its last value.
_STATS = ("min", "max", "mean")


def split_list(text: str | None, name: str, most: int) -> list[str]:
    """Return the items of a query parameter, without repeats: comma-separated (stripped) or a JSON list.

    The JSON form (``["a,b", "c"]``) is how a client names keys that hold commas, which keys may.

    Raises:
        RltrackError: more than ``most`` items, or a JSON form that is not a list of texts.
    """
    if text and text.lstrip().startswith("["):
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: [[[...]]] a thousand deep
            parsed = None
        if not isinstance(parsed, list) or not all(isinstance(p, str) for p in parsed):
            raise RltrackError(f"{name}= {text[:80]!r} is not a JSON list of texts; write [\"a\", \"b\"] or a,b")
        items = list(dict.fromkeys(p for p in parsed if p))
    else:
        items = list(dict.fromkeys(p.strip() for p in (text or "").split(",") if p.strip()))
    if len(items) > most:
        raise RltrackError(f"{name}= names {len(items)} items; ask for at most {most}")
    return items


def run_list(text: str | None) -> list[str]:
    """Return the run ids of a project route's ``runs=`` (see :func:`split_list`), refusing none or too many."""
    ids = split_list(text, "runs", MAX_RUNS)
    if not ids:
        raise RltrackError("runs= is empty; pass comma-separated run ids of the project")
    return ids


def _flat(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(_flat(value, name + "."))
        else:
            out[name] = value
    return out


def varying_config(rows: Sequence[RunRow]) -> list[str]:
    """Return the config keys (dots for nesting) whose values are not the same in every run, sorted."""
    flats = [_flat(r.config) for r in rows]
    names = sorted({k for f in flats for k in f})
    out = []
    for name in names:
        seen = {json.dumps(f[name], sort_keys=True, default=str) if name in f else "\0missing" for f in flats}
        if len(seen) > 1:
            out.append(name)
    return out[:MAX_CONFIG_KEYS]


def _number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return json.dumps(value, default=str)[:200]


def _entry(summary: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    found, value = lookup(summary, [key])
    if not found:
        return None
    if isinstance(value, Mapping):
        out = {"last": _number(value.get("last", value.get("value")))}
        out.update({s: _number(value[s]) for s in _STATS if s in value})
        return out
    out = {"last": _number(value)}
    for stat in _STATS:  # define_metric(summary=...) keeps e.g. "eval/return.max" beside the last value
        for name in (f"{key}.{stat}", f"{key}/{stat}"):
            if name in summary:
                out[stat] = _number(summary[name])
                break
    return out


def compare_rows(
    reader: StoreReader, rows: Sequence[RunRow], keys: Sequence[str], config: Sequence[str] | None
) -> dict[str, Any]:
    """Return ``{"config_keys", "keys", "runs": [{id, name, state, config, summary}]}`` for these runs, in order.

    Args:
        reader: The store reader.
        rows: The runs, in the order the table lists them.
        keys: Summary keys (one column each); a run without one gets null.
        config: Config keys shown; None = those whose values differ between the runs.

    Raises:
        RltrackError: too many keys, or an invalid one.
    """
    if len(keys) > MAX_COMPARE_KEYS:
        raise RltrackError(f"{len(keys)} keys asked for; a compare table has at most {MAX_COMPARE_KEYS}")
    if len(rows) > MAX_RUNS:
        raise RltrackError(f"{len(rows)} runs asked for; compare at most {MAX_RUNS}")
    for key in keys:
        check_key(key, allow_reserved=True)
    config_keys = varying_config(rows) if config is None else list(config)[:MAX_CONFIG_KEYS]
    out = []
    for row in rows:
        summary = reader.summary(row.id, row.primary_source)
        values = {}
        for name in config_keys:
            found, value = lookup(row.config, name.split("."))
            values[name] = _number(value) if found else None
        out.append({"id": row.id, "name": row.name, "state": row.state, "config": values,
                    "summary": {k: _entry(summary, k) for k in keys}})
    return {"config_keys": config_keys, "keys": list(keys), "runs": out}


def rows_of(all_rows: Sequence[RunRow], ids: Sequence[str], project: str) -> list[RunRow]:
    """Return the rows of ``ids`` in that order.

    Raises:
        RunNotFoundError: an id is not a run of ``all_rows`` (the project's, or a share link's runs).
    """
    by_id = {r.id: r for r in all_rows}
    missing = [r for r in ids if r not in by_id]
    if missing:
        raise RunNotFoundError(f"run(s) {missing[:5]} are not in project {project!r}; list them at /api/runs")
    return [by_id[r] for r in ids]
