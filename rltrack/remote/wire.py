"""The ingest wire format: store-writer calls as JSON batches (shared by the remote writer and the server).

A batch is ``{"id": "<writer uuid>:<seq>", "op": "create_run" | "write" | "end", ...}``; value
chunks travel as base64 of the same packed little-endian arrays the store keeps, so a chunk is
stored byte for byte as the client packed it.
"""

from __future__ import annotations

import base64
from dataclasses import asdict
from typing import Any

from rltrack.errors import RltrackError
from rltrack.store.writer import Attached, NewRun, Owner, WriterInfo
from rltrack.types import MediaRecord, SeriesBatch

__all__ = [
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
    "who_from",
    "who_to",
]

OPS = ("create_run", "write", "end")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


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


def batch_to(b: SeriesBatch) -> dict[str, Any]:
    """Encode a value chunk."""
    return {
        "source": b.source, "key": b.key, "count": b.count, "steps": _b64(b.steps), "t_ns": _b64(b.t_ns),
        "values": _b64(b.values), "step_min": b.step_min, "step_max": b.step_max, "t_min_ns": b.t_min_ns,
        "t_max_ns": b.t_max_ns, "vmin": b.vmin, "vmax": b.vmax,
    }


def batch_from(d: Any) -> SeriesBatch:
    """Decode a value chunk, checking that the arrays hold ``count`` items each."""
    count = _get(d, "count", int)
    steps, t_ns, values = (_unb64(_get(d, f, str), f) for f in ("steps", "t_ns", "values"))
    if count <= 0 or not len(steps) == len(t_ns) == len(values) == 8 * count:
        raise WireError(f"chunk of {_get(d, 'key', str)!r} declares {count} points but carries other array sizes")
    vmin, vmax = (_get(d, f, (int, float), optional=True) for f in ("vmin", "vmax"))
    return SeriesBatch(
        source=_get(d, "source", str), key=_get(d, "key", str), count=count, steps=steps, t_ns=t_ns, values=values,
        step_min=_get(d, "step_min", int), step_max=_get(d, "step_max", int), t_min_ns=_get(d, "t_min_ns", int),
        t_max_ns=_get(d, "t_max_ns", int), vmin=None if vmin is None else float(vmin),
        vmax=None if vmax is None else float(vmax),
    )


def media_to(m: MediaRecord) -> dict[str, Any]:
    """Encode a media row (the file itself is uploaded separately)."""
    return asdict(m)


def media_from(d: Any) -> MediaRecord:
    """Decode a media row."""
    return MediaRecord(
        source=_get(d, "source", str), key=_get(d, "key", str), step=_get(d, "step", int), t_ns=_get(d, "t_ns", int),
        kind=_get(d, "kind", str), path=_get(d, "path", str), caption=_get(d, "caption", str, optional=True),
        meta=_get(d, "meta", dict, optional=True) or {},
    )


def new_run_to(r: NewRun) -> dict[str, Any]:
    """Encode what creating a run needs."""
    out = asdict(r)
    out["tags"] = list(r.tags)
    out["config"] = dict(r.config)
    return out


def new_run_from(d: Any) -> NewRun:
    """Decode what creating a run needs."""
    tags = _get(d, "tags", list)
    if not all(isinstance(t, str) for t in tags):
        raise WireError("field 'tags' must be a list of strings")
    return NewRun(
        id=_get(d, "id", str), project=_get(d, "project", str), name=_get(d, "name", str),
        group=_get(d, "group", str, optional=True), job_type=_get(d, "job_type", str, optional=True),
        notes=_get(d, "notes", str, optional=True), tags=tuple(tags), config=_get(d, "config", dict),
        source=_get(d, "source", str),
    )


def who_to(w: WriterInfo) -> dict[str, Any]:
    """Encode the writing process."""
    return asdict(w)


def who_from(d: Any) -> WriterInfo:
    """Decode the writing process."""
    return WriterInfo(
        host=_get(d, "host", str), pid=_get(d, "pid", int), pid_started_ns=_get(d, "pid_started_ns", int),
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
