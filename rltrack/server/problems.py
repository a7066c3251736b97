"""One error shape for the whole API, ``{"detail": ...}``, in the answers and in the OpenAPI document.

``detail`` is a sentence saying what is wrong and what to do, except for a refused ingest batch,
where it is an object naming the batch (so a remote writer knows which batches were stored).
:func:`document_errors` replaces FastAPI's default 422 schema (which our handler does not send) with
this one and lists every error status a route can answer, so a client (or a fuzzer) can check them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

__all__ = ["ERROR_STATUSES", "PROBLEM_SCHEMA", "document_errors", "scrub"]

#: Error statuses any route may answer: the guard's (400 bad Host, 401/403 tokens, 413 size, 415
#: content type), a route's own (400, 404, 405, 409, 422, 507), and 503 when the store fails.
ERROR_STATUSES: dict[str, str] = {
    "400": "Bad request: a value is invalid (the message names it)",
    "401": "Missing token",
    "403": "Wrong token, or a cross-origin request",
    "404": "No such run or file",
    "405": "Method not allowed (the Allow header lists the allowed ones)",
    "409": "Conflicts with what is stored",
    "413": "Request body too large",
    "415": "Request body must be JSON",
    "422": "A parameter is missing or has the wrong type",
    "500": "Internal server error",
    "503": "The store is unavailable (busy, locked or out of space): retry later",
    "507": "The server has no space to store a file",
}

_BATCH_REFUSAL: dict[str, Any] = {
    "type": "object",
    "description": "A refused ingest batch: earlier batches of the request were stored.",
    "required": ["message", "index", "applied"],
    "properties": {
        "message": {"type": "string"},
        "batch_id": {},
        "index": {"type": "integer", "minimum": 0},
        "applied": {"type": "integer", "minimum": 0},
    },
}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"anyOf": [{"type": "string"}, {"$ref": "#/components/schemas/BatchRefusal"}]}},
}


def scrub(detail: Any, root: Path) -> Any:
    """Return ``detail`` with the store's absolute path replaced by ``<store>`` (in strings, also nested)."""
    if isinstance(detail, str):
        for form in {str(root), str(root.resolve()), str(root.absolute())}:
            if len(form) > 1:
                detail = detail.replace(form, "<store>")
        return detail
    if isinstance(detail, dict):
        return {k: scrub(v, root) for k, v in detail.items()}
    if isinstance(detail, list):
        return [scrub(v, root) for v in detail]
    return detail


def document_errors(app: FastAPI) -> None:
    """Make ``app.openapi()`` document :data:`PROBLEM_SCHEMA` for every error status of every route."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, summary=app.summary, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        components["Problem"] = PROBLEM_SCHEMA
        components["BatchRefusal"] = _BATCH_REFUSAL
        problem = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for status, description in ERROR_STATUSES.items():
                    responses[status] = {"description": description, "content": problem}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI documents this override
