"""JSON Schemas of the ingest request bodies, for the OpenAPI document.

The ingest routes parse their bodies themselves (size and depth limits first, then
:mod:`rltrack.remote.wire`), so FastAPI cannot infer these schemas; they are written here so that
clients and fuzzers see what each route takes. The checks themselves live in the wire decoders and
:mod:`rltrack.validate`; the schema states the same rules where JSON Schema can.
"""

from __future__ import annotations

from typing import Any

from rltrack.remote.wire import MAX_NAME, MAX_TEXT
from rltrack.types import RUN_STATES
from rltrack.validate import MAX_KEY_LENGTH, MAX_STEP

__all__ = ["ATTACH_BODY", "BATCHES_BODY", "OP_FIELDS", "UPLOAD_BODY", "request_body"]

_INT64 = {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}
_NS = {**_INT64, "description": "Time in integer nanoseconds."}
_TEXT = {"type": "string", "maxLength": MAX_TEXT}
_NAME = {"type": "string", "maxLength": 256}
_RUN_NAME = {"type": "string", "pattern": f"^[^\\u0000-\\u001f]{{1,{MAX_NAME}}}$",
             "description": "1-128 characters, no control characters (what init() takes)."}
_RUN_ID = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$", "description": "A run id."}
_SOURCE = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,32}$", "description": "sim, real or another short name."}
_KEY = {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "description": "A key such as train/loss."}
_B64 = {"type": "string", "description": "Base64 of little-endian 8-byte items (int64 steps/t_ns, float64 values)."}
_WHO = {
    "type": "object",
    "description": "The writing process.",
    "required": ["host", "pid", "pid_started_ns", "now_ns"],
    "properties": {"host": _NAME, "pid": _INT64, "pid_started_ns": _NS, "now_ns": _NS},
}
_CHUNK = {
    "type": "object",
    "description": "Points of one key; statistics are recomputed by the server from the arrays.",
    "required": ["source", "key", "count", "steps", "t_ns", "values"],
    "properties": {
        "source": _SOURCE, "key": _KEY, "count": {"type": "integer", "minimum": 1}, "steps": _B64, "t_ns": _B64,
        "values": _B64, "step_min": _INT64, "step_max": _INT64, "t_min_ns": _NS, "t_max_ns": _NS,
        "vmin": {"type": ["number", "null"]}, "vmax": {"type": ["number", "null"]},
    },
}
_MEDIA = {
    "type": "object",
    "description": "A media row; the file is uploaded with PUT /api/ingest/files/{run_id}/{path}.",
    "required": ["source", "key", "step", "t_ns", "kind", "path"],
    "properties": {
        "source": _SOURCE, "key": _KEY, "step": {"type": "integer", "minimum": 0, "maximum": MAX_STEP},
        "t_ns": _NS, "kind": {"type": "string", "maxLength": 32},
        "path": {"type": "string", "maxLength": 1024, "description": "Relative, '/'-separated, no '..'."},
        "caption": {"type": ["string", "null"], "maxLength": MAX_TEXT}, "meta": {"type": ["object", "null"]},
    },
}
_NEW_RUN = {
    "type": "object",
    "required": ["id", "project", "name", "tags", "config", "source"],
    "properties": {
        "id": _RUN_ID, "project": _RUN_NAME, "name": _RUN_NAME, "group": {"type": ["string", "null"], "maxLength": 256},
        "job_type": {"type": ["string", "null"], "maxLength": 256},
        "notes": {"type": ["string", "null"], "maxLength": MAX_TEXT},
        "tags": {"type": "array", "items": _NAME}, "config": {"type": "object"}, "source": _SOURCE,
    },
}
_ID = {"type": "string", "minLength": 1, "maxLength": 256, "description": "<writer uuid>:<sequence>"}
#: What each op takes (:data:`OP_FIELDS` below names the same fields; the server refuses any other).
_OP_PROPERTIES: dict[str, dict[str, Any]] = {
    "create_run": {"run": _NEW_RUN, "who": _WHO},
    "write": {
        "run_id": _RUN_ID, "source": _SOURCE, "owner": {"type": "boolean"},
        "batches": {"type": "array", "items": _CHUNK}, "media": {"type": "array", "items": _MEDIA},
        "summary": {"type": ["object", "null"]}, "config": {"type": ["object", "null"]},
        "metadata": {"type": ["object", "null"]}, "heartbeat_ns": {**_NS, "type": ["integer", "null"]},
    },
    "end": {
        "run_id": _RUN_ID, "source": _SOURCE, "owner": {"type": "boolean"},
        "state": {"type": "string", "enum": [s for s in RUN_STATES if s != "running"]},
        "reason": {"type": ["string", "null"], "maxLength": MAX_TEXT},
        "exit_code": {**_INT64, "type": ["integer", "null"]}, "ended_ns": _NS,
    },
}
_OP_REQUIRED = {"create_run": ["run", "who"], "write": ["run_id", "source"],
                "end": ["run_id", "source", "state", "ended_ns"]}
#: The fields a batch of each op may carry; a batch carrying any other field is refused (400).
OP_FIELDS: dict[str, frozenset[str]] = {op: frozenset({"id", "op", *props}) for op, props in _OP_PROPERTIES.items()}
_BATCH = {
    "description": "One writer call: create_run, write or end, each with its own fields and no others.",
    "oneOf": [
        {
            "type": "object",
            "title": op,
            "required": ["id", "op", *_OP_REQUIRED[op]],
            "properties": {"id": _ID, "op": {"type": "string", "enum": [op]}, **props},
            "additionalProperties": False,
        }
        for op, props in _OP_PROPERTIES.items()
    ],
}
BATCHES_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["batches"],
    "properties": {"batches": {"type": "array", "items": _BATCH, "maxItems": 10_000}},
}
ATTACH_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["run_id", "source", "who"],
    "properties": {"run_id": _RUN_ID, "source": _SOURCE, "who": _WHO, "owner_alive": {"type": "boolean"}},
}
UPLOAD_BODY: dict[str, Any] = {"type": "string", "format": "binary"}


def request_body(
    schema: dict[str, Any], media_type: str = "application/json", *, required: bool = True
) -> dict[str, Any]:
    """Return ``openapi_extra`` that documents a request body of ``media_type``.

    ``required=False`` for uploads: an empty file is a file (HTTP cannot tell no body from an empty one).
    """
    return {"requestBody": {"required": required, "content": {media_type: {"schema": schema}}}}

