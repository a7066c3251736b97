"""The ingest wire format: store-writer calls as JSON batches (shared by the remote writer and the server).

A batch is ``{"id": "<writer uuid>:<seq>", "op": "create_run" | "write" | "end", ...}``; value
chunks travel as base64 of the same packed little-endian arrays the store keeps, so a chunk is
stored byte for byte as the client packed it.

The decoders the server uses (``*_from``) are a door into the store: they check run ids, sources,
keys, steps, states, media paths and texts with the same :mod:`rltrack.validate` functions as
``init()``/``log()`` (every text field lands in a text column of its own, so it passes
:func:`~rltrack.validate.check_label`: no NUL, which a PostgreSQL store cannot keep), and a
chunk's statistics (count, step and time range, value range) are recomputed from its arrays,
never taken from the sender.
"""

from __future__ import annotations

import base64
from dataclasses import asdict
from typing import Any

from rltrack.errors import RltrackError
from rltrack.store.chunks import pack
from rltrack.store.writer import Attached, NewRun, Owner, WriterInfo
from rltrack.types import MediaRecord, SeriesBatch
from rltrack.validate import (
    check_key,
    check_label,
    check_media_path,
    check_run_id,
    check_source,
    check_step,
    check_text,
    portable,
)

__all__ = [
    "MAX_NAME",
    "MAX_TEXT",
    "OPS",
    "WireError",
    "attached_from",
    "attached_to",
    "batch_from",
    "batch_to",
    "media_from",
    "media_to",
    "new_run_from",
    "new_run_to",
    "owner_from",
    "owner_to",
    "portable",
    "who_from",
    "who_to",
]

OPS = ("create_run", "write", "end")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
#: Longest free text (names, notes, captions, host names) a batch may carry, in characters.
MAX_TEXT = 10_000
#: Longest run name or project, in characters (what ``init()`` takes).
MAX_NAME = 128


class WireError(RltrackError, ValueError):
    """A batch on the wire is malformed (a missing or mistyped field)."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object, field: str) -> bytes:
    if not isinstance(text, str):
        raise WireError(f"field {field!r} must be a base64 string, got {type(text).__name__}")
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as err:
        raise WireError(f"field {field!r} is not valid base64 ({err})") from err


def _get(data: Any, name: str, kind: type | tuple[type, ...], *, optional: bool = False) -> Any:
    if not isinstance(data, dict):
        raise WireError(f"expected a JSON object, got {type(data).__name__}")
    if name not in data or data[name] is None:
        if optional:
            return None
        raise WireError(f"field {name!r} is missing")
    value = data[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise WireError(f"field {name!r} has the wrong type ({type(value).__name__})")
    if isinstance(value, int) and not isinstance(value, bool) and not _INT64_MIN <= value <= _INT64_MAX:
        raise WireError(f"field {name!r} = {value!r} does not fit a 64-bit integer")
    return value


def _text(data: Any, name: str, *, optional: bool = False, limit: int = MAX_TEXT, nul_ok: bool = False) -> Any:
    """Return a string field that is valid Unicode without NUL and at most ``limit`` characters.

    Every such field (notes, group, job type, tags, captions, host) is stored in a text column:
    :func:`check_label` refuses what ``init()``/``log()`` refuse, the same on SQLite and PostgreSQL.
    ``nul_ok`` only for a caller that refuses every control character itself (names: :func:`_printable`).
    """
    value = _get(data, name, str, optional=optional)
    if value is None:
        return None
    (check_text if nul_ok else check_label)(f"field {name!r}", value)
    if len(value) > limit:
        raise WireError(f"field {name!r} is {len(value)} characters long; keep it at most {limit}")
    return value


def batch_to(b: SeriesBatch) -> dict[str, Any]:
    """Encode a value chunk."""
    return {
        "source": b.source, "key": b.key, "count": b.count, "steps": _b64(b.steps), "t_ns": _b64(b.t_ns),
        "values": _b64(b.values), "step_min": b.step_min, "step_max": b.step_max, "t_min_ns": b.t_min_ns,
        "t_max_ns": b.t_max_ns, "vmin": b.vmin, "vmax": b.vmax,
    }


def batch_from(d: Any) -> SeriesBatch:
    """Decode a value chunk: arrays of ``count`` items each, steps in 0 … 2**63-1, statistics recomputed.

    The sender's ``step_min``/``step_max``/``t_*_ns``/``vmin``/``vmax`` are ignored: the store's
    range queries trust them, so they are computed here from the arrays themselves.
    """
    import numpy as np

    count = _get(d, "count", int)
    key = check_key(_get(d, "key", str))
    for name in ("step_min", "step_max", "t_min_ns", "t_max_ns"):  # recomputed below, but typed as documented
        _get(d, name, int, optional=True)
    for name in ("vmin", "vmax"):
        if isinstance(_get(d, name, (int, float), optional=True), bool):
            raise WireError(f"field {name!r} must be a number or null, got a boolean")
    source = check_source(_get(d, "source", str), what="chunk source")
    steps, t_ns, values = (_unb64(_get(d, f, str), f) for f in ("steps", "t_ns", "values"))
    if count <= 0 or not len(steps) == len(t_ns) == len(values) == 8 * count:
        raise WireError(f"chunk of {key!r} declares {count} points but carries other array sizes")
    step_array = np.frombuffer(steps, "<i8")
    if int(step_array.min()) < 0:
        raise WireError(f"chunk of {key!r} holds step {int(step_array.min())}; steps must be in 0 … 2**63-1")
    return pack(source, key, step_array, np.frombuffer(t_ns, "<i8"), np.frombuffer(values, "<f8"))


def media_to(m: MediaRecord) -> dict[str, Any]:
    """Encode a media row (the file itself is uploaded separately); caption and meta as :func:`portable`."""
    out = asdict(m)
    out["caption"] = portable(m.caption)
    out["meta"] = portable(dict(m.meta or {}))
    return out


def media_from(d: Any) -> MediaRecord:
    """Decode a media row."""
    return MediaRecord(
        source=check_source(_get(d, "source", str), what="media source"), key=check_key(_get(d, "key", str)),
        step=check_step(_get(d, "step", int), what="media step"), t_ns=_get(d, "t_ns", int),
        kind=_text(d, "kind", limit=32), path=check_media_path(_get(d, "path", str)),
        caption=_text(d, "caption", optional=True), meta=_get(d, "meta", dict, optional=True) or {},
    )


def new_run_to(r: NewRun) -> dict[str, Any]:
    """Encode what creating a run needs."""
    out = asdict(r)
    out["tags"] = list(r.tags)
    out["config"] = portable(dict(r.config))
    return out


def new_run_from(d: Any) -> NewRun:
    """Decode what creating a run needs."""
    tags = _get(d, "tags", list)
    if not all(isinstance(t, str) for t in tags):
        raise WireError("field 'tags' must be a list of strings")
    for tag in tags:
        _text({"tag": tag}, "tag", limit=256)
    return NewRun(
        id=check_run_id(_get(d, "id", str)), project=_printable(d, "project"), name=_printable(d, "name"),
        group=_text(d, "group", optional=True, limit=256), job_type=_text(d, "job_type", optional=True, limit=256),
        notes=_text(d, "notes", optional=True), tags=tuple(tags), config=_get(d, "config", dict),
        source=check_source(_get(d, "source", str)),
    )


def _printable(data: Any, name: str) -> str:
    """Return a run's name or project as ``init()`` takes it: 1-128 characters, none a control character."""
    value: str = _text(data, name, limit=MAX_NAME, nul_ok=True)  # NUL is a control character: refused below
    if not value or any(ord(c) < 32 for c in value):
        raise WireError(f"field {name!r} = {value!r} must be a non-empty string of at most {MAX_NAME} printable "
                        "characters, as init() takes it")
    return value


def who_to(w: WriterInfo) -> dict[str, Any]:
    """Encode the writing process."""
    return asdict(w)


def who_from(d: Any) -> WriterInfo:
    """Decode the writing process."""
    return WriterInfo(
        host=_text(d, "host", limit=256), pid=_get(d, "pid", int), pid_started_ns=_get(d, "pid_started_ns", int),
        now_ns=_get(d, "now_ns", int),
    )


def attached_to(a: Attached) -> dict[str, Any]:
    """Encode the answer to an attach."""
    return asdict(a)


def attached_from(d: Any) -> Attached:
    """Decode the answer to an attach."""
    return Attached(
        project=_get(d, "project", str), name=_get(d, "name", str), group=_get(d, "group", str, optional=True),
        config=_get(d, "config", dict), summary=_get(d, "summary", dict), owner=_get(d, "owner", bool),
        next_step=_get(d, "next_step", int),
    )


def owner_to(o: Owner | None) -> dict[str, Any] | None:
    """Encode a run's owner."""
    return None if o is None else asdict(o)


def owner_from(d: Any) -> Owner | None:
    """Decode a run's owner."""
    if d is None:
        return None
    return Owner(
        state=_get(d, "state", str), host=_get(d, "host", str), pid=_get(d, "pid", int),
        pid_started_ns=_get(d, "pid_started_ns", int), heartbeat_ns=_get(d, "heartbeat_ns", int),
        source=_get(d, "source", str),
    )
