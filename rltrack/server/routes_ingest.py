"""Ingest endpoints of ``rltrack server``: batched writes from remote writers, each batch stored once.

Every batch is applied in its own transaction together with its id (see
:mod:`rltrack.store.ingest`), so a batch retried after a lost response is skipped, not stored
twice. Batches of one request are applied in order; the first failing one stops the request with
a 4xx naming its id and how many came before it.

Permissions (with accounts): every run a request touches goes through the caller's scoped reader
(:mod:`rltrack.server.deps`), so a run the caller cannot see is a 404 and one they may only read a 403;
a new run needs write access to its project, and a project nobody owns yet becomes the writer's own
(:meth:`rltrack.server.accounts.service.Accounts.claim_project` explains the rule).

Every value passes the same checks as ``init()``/``log()`` (in :mod:`rltrack.remote.wire`); a body
is parsed only after the size limit (:mod:`rltrack.server.security`), nested at most
:data:`MAX_DEPTH` deep, and a string that is not valid Unicode is a 400, never a 500.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from rltrack.errors import RltrackError, RunExistsError, RunNotFoundError, StoreError
from rltrack.remote import wire
from rltrack.remote.fit import MAX_ENTRIES, count_entries
from rltrack.server.accounts.principal import Principal
from rltrack.server.deps import Cache, Caller, Reader
from rltrack.server.files import run_dir, safe_path
from rltrack.server.ingest_schema import ATTACH_BODY, BATCHES_BODY, OP_FIELDS, UPLOAD_BODY, request_body
from rltrack.store.base import Backend
from rltrack.store.ingest import BoundDatabase, mark_applied, was_applied
from rltrack.store.reader import StoreReader
from rltrack.store.writer import StoreWriter
from rltrack.validate import check_media_path, check_run_id, check_source, check_state, check_text

__all__ = ["apply_batch", "router"]

router = APIRouter(prefix="/api/ingest", tags=["ingest"])
#: Batches one request may carry.
MAX_BATCHES = 10_000
#: Deepest nesting of a JSON body (configs are nested a few levels; 100,000 levels crash a parser).
MAX_DEPTH = 64
#: Most objects and arrays one JSON body may hold, counted (``{``/``[`` bytes, strings included) before parsing.
#: A parsed empty object costs about 64 bytes for 3 bytes of JSON, so 32 MiB of ``{},{},...`` took 1.6 GB of
#: server memory and 27 s of the event loop; a real batch holds a few per value chunk or media row.
MAX_CONTAINERS = 1_000_000
#: Most values (``,`` bytes, strings included) one JSON body may hold: value chunks travel as base64 strings,
#: so only a config or summary lists numbers; 4,000,000 short strings or floats cost a few hundred MB at most.
MAX_VALUES = 4_000_000
# MAX_ENTRIES (rltrack.remote.fit): most values one summary, config or metadata may hold. Reading a run loads
# them all (about 200 bytes of server memory each): a summary of 4,000,000 short strings, within the body
# limits, made one ``GET /api/runs/{id}`` peak at 834 MiB. Large data belongs in an artifact or a media file;
# online runs and ``rltrack sync`` send what exceeds it as a note (rltrack.remote.fit.fit_extra).


def apply_batch(db: Backend, batch: dict[str, Any]) -> bool:
    """Store one batch unless its id was stored before; return whether it was new.

    Raises:
        WireError: the batch is malformed.
        RunExistsError, RunNotFoundError: the operation does not fit the store.
    """
    batch_id = wire._text(batch, "id", limit=256)
    op = wire._get(batch, "op", str)
    if op not in wire.OPS:
        raise wire.WireError(f"batch {batch_id!r} has unknown op {op!r}; expected one of {', '.join(wire.OPS)}")
    others = sorted(set(batch) - OP_FIELDS[op])
    if others:
        # What the OpenAPI document says (additionalProperties: false): a field the op does not take is
        # a mistake of the sender, not something to store or drop unseen.
        raise wire.WireError(f"batch {batch_id!r} ({op}) carries {', '.join(map(repr, others))}, which {op} does "
                             f"not take; it takes {', '.join(sorted(OP_FIELDS[op]))}")
    _check_sizes(batch_id, op, batch)
    with db.transaction() as conn:
        if was_applied(conn, batch_id):
            return False
        store = StoreWriter(BoundDatabase(db, conn))  # type: ignore[arg-type]  # same interface, one transaction
        run_id: str
        if op == "create_run":
            new = wire.new_run_from(batch.get("run"))
            store.create_run(new, wire.who_from(batch.get("who")))
            run_id = new.id
        else:
            run_id = check_run_id(wire._get(batch, "run_id", str))
            source = check_source(wire._get(batch, "source", str))
            if not store.run_exists(run_id):
                raise RunNotFoundError(f"batch {batch_id!r} writes to run {run_id!r}, which this server does not have")
            if op == "write":
                store.write(
                    run_id, source,
                    batches=[wire.batch_from(b) for b in wire._get(batch, "batches", list, optional=True) or ()],
                    media=[wire.media_from(m) for m in wire._get(batch, "media", list, optional=True) or ()],
                    summary=wire._get(batch, "summary", dict, optional=True),
                    config=wire._get(batch, "config", dict, optional=True),
                    metadata=wire._get(batch, "metadata", dict, optional=True),
                    heartbeat_ns=wire._get(batch, "heartbeat_ns", int, optional=True),
                    owner=_owner(batch),
                )
            else:
                store.end(
                    run_id, source, state=_end_state(wire._get(batch, "state", str)),
                    reason=wire._text(batch, "reason", optional=True),
                    exit_code=wire._get(batch, "exit_code", int, optional=True),
                    ended_ns=wire._get(batch, "ended_ns", int), owner=_owner(batch),
                )
        mark_applied(conn, batch_id, run_id, time.time_ns())
    return True


def _check_sizes(batch_id: str, op: str, batch: dict[str, Any]) -> None:
    """Refuse a summary, config or metadata of more than :data:`MAX_ENTRIES` values (before any is stored)."""
    run = batch.get("run") if op == "create_run" else None
    fields = {"config": run.get("config")} if isinstance(run, dict) else {}
    if op == "write":
        fields = {name: batch.get(name) for name in ("summary", "config", "metadata")}
    for name, value in fields.items():
        if isinstance(value, dict) and count_entries(value) > MAX_ENTRIES:
            raise wire.WireError(f"batch {batch_id!r}: its {name} holds over {MAX_ENTRIES:,} values (nested ones "
                                 "counted), the most a run's summary, config or metadata may hold; log large data "
                                 "as an artifact or a media file")


def _end_state(state: str) -> str:
    """Return the state an ``end`` batch names: one ``finish()`` takes (never ``running``)."""
    if check_state(state) == "running":
        raise wire.WireError("an 'end' batch must name how the run ended (finished, failed, crashed, pruned), "
                             "not 'running'")
    return state


def _owner(batch: dict[str, Any]) -> bool:
    owner = batch.get("owner", True)
    if not isinstance(owner, bool):
        raise wire.WireError(f"field 'owner' must be true or false, got {owner!r}")
    return owner


def parse_json(body: bytes) -> Any:
    """Parse a request body: valid UTF-8 JSON, nested at most :data:`MAX_DEPTH`, every string valid Unicode.

    Raises:
        HTTPException: 400 naming what is wrong.
    """
    containers = body.count(b"{") + body.count(b"[")
    if containers > MAX_CONTAINERS or body.count(b",") > MAX_VALUES:
        raise HTTPException(413, f"request body holds over {MAX_CONTAINERS:,} JSON objects and arrays or over "
                                 f"{MAX_VALUES:,} values; send it in smaller requests")
    try:
        # Strict UTF-8 (json.loads of bytes would also take UTF-16/32 and a BOM); NaN/inf are
        # allowed: summaries store them faithfully.
        data = json.loads(body.decode("utf-8"))
    except RecursionError:
        raise HTTPException(400, f"request body is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as err:  # UnicodeDecodeError included: the body is not UTF-8
        raise HTTPException(400, f"request body is not valid UTF-8 JSON ({err})") from err
    _check_tree(data)
    return data


def _check_tree(data: Any) -> None:
    # Iterative, so a deep body cannot exhaust the stack here either; one iterator per open level
    # (not one entry per value), so a wide body costs no memory here.
    if isinstance(data, str):
        _check_string(data)
    if not isinstance(data, (dict, list)):
        return
    stack: list[Iterator[tuple[Any, Any]]] = [_items(data)]
    while stack:
        pair = next(stack[-1], None)
        if pair is None:
            stack.pop()
            continue
        key, value = pair
        if isinstance(key, str):
            _check_string(key)
        if isinstance(value, str):
            _check_string(value)
        elif isinstance(value, (dict, list)):
            if len(stack) + 1 > MAX_DEPTH:
                raise HTTPException(400, f"request body is nested deeper than {MAX_DEPTH} levels")
            stack.append(_items(value))


def _items(node: dict[str, Any] | list[Any]) -> Iterator[tuple[Any, Any]]:
    return iter(node.items()) if isinstance(node, dict) else enumerate(node)


def _check_string(text: str) -> None:
    try:
        check_text("string", text)
    except RltrackError as err:
        raise HTTPException(400, f"request body holds a {err}") from None


async def _json(request: Request) -> Any:
    # Parsed in a worker thread: a 32 MiB body must not stop the event loop (and every other request).
    return await run_in_threadpool(parse_json, await request.body())


@router.post(
    "/batches",
    summary="Store batches of writer calls (create_run, write, end), each once",
    openapi_extra=request_body(BATCHES_BODY),
)
async def batches(request: Request, reader: Reader, cache: Cache, caller: Caller) -> dict[str, Any]:
    """Apply ``{"batches": [...]}`` in order; return ``{"applied": n, "duplicates": [ids]}``."""
    body = await _json(request)
    items = body.get("batches") if isinstance(body, dict) else None
    if not isinstance(items, list) or len(items) > MAX_BATCHES:
        raise HTTPException(400, f"body must be {{'batches': [...]}} with at most {MAX_BATCHES} batches")
    permit = None if caller.everything else _Permit(request, reader, caller)
    try:
        return await run_in_threadpool(_apply_all, reader.db, items, permit)
    finally:
        cache.bump()


class _Permit:
    """Whether the caller may apply a batch (accounts on, for a caller who does not see everything)."""

    def __init__(self, request: Request, reader: StoreReader, caller: Principal) -> None:
        self.gate = request.app.state.accounts_gate
        self.reader = reader
        self.caller = caller

    def check(self, batch: Any) -> None:
        op = batch.get("op") if isinstance(batch, dict) else None
        if op == "create_run":
            run = batch.get("run")
            project = run.get("project") if isinstance(run, dict) else None
            if isinstance(project, str):
                self._project(project)
        elif op in wire.OPS and isinstance(batch.get("run_id"), str):
            self.reader.run(batch["run_id"])  # scoped: 404 unseen, 403 read-only

    def _project(self, project: str) -> None:
        caller = self.caller
        if caller.can_write(project):
            return
        if caller.can_read(project):
            raise HTTPException(403, f"you may read project {project!r} but not write into it (ask a team admin)")
        accounts = self.gate.accounts()
        if caller.user is None or accounts is None or project in caller.projects():
            raise RunNotFoundError(f"no project {project!r} you may write into on this server")
        if StoreWriter(self.reader.db).count_runs(check_text("project", project)) > 0:
            # Runs from before accounts, nobody's yet: a write must not be a way to read them.
            raise RunNotFoundError(f"no project {project!r} you may write into on this server; an admin can give "
                                   "it an owner (rltrack server admin set-project)")
        caller.remember(accounts.claim_project(project, caller.user))
        if not caller.can_write(project):  # another user claimed it a moment before
            raise RunNotFoundError(f"no project {project!r} you may write into on this server")


def _apply_all(db: Backend, items: list[Any], permit: _Permit | None = None) -> dict[str, Any]:
    applied = 0
    duplicates: list[str] = []
    for index, batch in enumerate(items):
        try:
            if permit is not None:
                permit.check(batch)
            if apply_batch(db, batch):
                applied += 1
            else:
                duplicates.append(str(batch["id"]))
        except StoreError:
            raise  # the store failed (disk full, locked): a 503 the writer retries, not a refusal
        except (RltrackError, KeyError, TypeError) as err:
            status = 409 if isinstance(err, RunExistsError) else 404 if isinstance(err, RunNotFoundError) else 400
            batch_id = batch.get("id") if isinstance(batch, dict) else None
            raise HTTPException(
                status, {"message": str(err), "batch_id": batch_id, "index": index, "applied": applied}
            ) from err
        except HTTPException as err:
            batch_id = batch.get("id") if isinstance(batch, dict) else None
            raise HTTPException(
                err.status_code, {"message": err.detail, "batch_id": batch_id, "index": index, "applied": applied}
            ) from err
    return {"applied": applied, "duplicates": duplicates}


@router.post(
    "/attach",
    summary="Attach a writer to an existing run (returns what it needs to continue)",
    openapi_extra=request_body(ATTACH_BODY),
)
async def attach(request: Request, reader: Reader, cache: Cache) -> dict[str, Any]:
    """Attach ``{"run_id", "source", "who", "owner_alive"}`` like :meth:`StoreWriter.attach_run`."""
    body = await _json(request)
    run_id = check_run_id(wire._get(body, "run_id", str))
    reader.run(run_id)  # scoped to the caller: 404 unseen, 403 read-only
    source = check_source(wire._get(body, "source", str))
    who = wire.who_from(body.get("who"))
    owner_alive = body.get("owner_alive", False)
    if not isinstance(owner_alive, bool):
        raise wire.WireError(f"field 'owner_alive' must be true or false, got {owner_alive!r}")
    attached = await run_in_threadpool(
        StoreWriter(reader.db).attach_run, run_id, source, who, owner_alive=owner_alive
    )
    cache.bump()
    return wire.attached_to(attached)


@router.get("/runs/{run_id}/owner", summary="The process that owns a run (null when the run does not exist)")
def owner(run_id: str, reader: Reader) -> dict[str, Any] | None:
    """Return the owner as stored, or null (also for a run the caller cannot see)."""
    if not _visible(reader, run_id):
        return None
    return wire.owner_to(StoreWriter(reader.db).owner_of(run_id))


@router.get("/runs/{run_id}/exists", summary="Whether a run exists")
def exists(run_id: str, reader: Reader) -> bool:
    """Return true when the server has this run (and the caller may see it)."""
    return StoreWriter(reader.db).run_exists(run_id) and _visible(reader, run_id)


def _visible(reader: StoreReader, run_id: str) -> bool:
    try:
        reader.run(run_id)
    except RunNotFoundError:
        return False
    return True


@router.get("/count", summary="How many runs a project holds")
def count(project: str, reader: Reader, caller: Caller) -> int:
    """Return the project's run count (remote writers name new runs with it); 0 for a project the caller cannot see."""
    project = check_text("project", project)
    if not caller.can_read(project):
        return 0
    return StoreWriter(reader.db).count_runs(project)


@router.put(
    "/files/{run_id}/{path:path}",
    summary="Upload a file into a run's folder (idempotent)",
    openapi_extra=request_body(UPLOAD_BODY, "application/octet-stream", required=False),
)
async def upload(run_id: str, path: str, request: Request, reader: Reader) -> dict[str, Any]:
    """Store the request body as ``runs/<run_id>/<path>``, replacing it atomically.

    ``path`` is a media path (:func:`rltrack.validate.check_media_path`) under the folder of a run
    that exists, so an upload can never reach the store's database or another run's folder.
    """
    reader.run(check_run_id(run_id))
    check_media_path(path)
    target = safe_path(run_dir(reader.db.root, run_id), path)
    if target.is_dir():
        raise HTTPException(409, f"file path {path!r} is a folder in this run; upload to a file path")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    except OSError as err:
        raise HTTPException(409, f"cannot store {path!r} in this run's folder: {err.strerror}") from err
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            async for piece in request.stream():
                out.write(piece)
                size += len(piece)
        os.replace(tmp, target)
    except OSError as err:
        raise HTTPException(507, f"cannot store {path!r}: {err.strerror}") from err
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return {"path": path, "bytes": size}
