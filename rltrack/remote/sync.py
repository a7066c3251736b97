"""``rltrack sync RUN --to URL``: copy a local run to a server, sending only what it lacks.

Safe to repeat: points go in pieces whose ids name their key and point range, the server's
point counts decide where to resume, and media rows already there are not sent again. Every file
a media row depends on (its own, a table's cell files) and the run's saved files (``files/``,
``code/``) are uploaded unless the server has them with the same size (and sha256, where the
server names it): a file an earlier sync left behind is sent, one already there is not. A run the
server already has from another writer (trained online, its robot logged offline) gets the local
sources beside its own and is not ended by the sync.
"""

from __future__ import annotations

import hashlib
import os
import uuid
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rltrack.errors import RltrackError, RltrackWarning
from rltrack.remote import wire
from rltrack.remote.client import SAVED_FOLDERS, IngestClient, Rejected, media_files
from rltrack.remote.fit import fit_extra
from rltrack.validate import check_media_path

__all__ = ["push_run"]

#: Points per sent piece.
PIECE_POINTS = 100_000
#: Pieces per request.
PIECES_PER_REQUEST = 8


def _fit(run_id: str, what: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``values`` as the server takes them; a value over its limits is sent as a note, with a warning."""
    out, noted = fit_extra(values)
    for key, why in noted:
        warnings.warn(f"run {run_id!r}: {what} value {key!r} {why}; the server keeps a note in its place "
                      "(the local store keeps the value)", RltrackWarning, stacklevel=3)
    return out


def push_run(
    run_id: str,
    url: str,
    *,
    dir: str | os.PathLike[str] | None = None,
    api_key: str | None = None,
    transport: Any = None,
) -> dict[str, int]:
    """Copy run ``run_id`` from the local store ``dir`` to the server at ``url``.

    Returns:
        ``{"points": sent, "media": rows sent}``, plus ``"files"`` when any other file was uploaded: a
        table's cell files, saved files (``files/``, ``code/``), a row's file the server lacked.

    Raises:
        RunNotFoundError: no such local run.
        RltrackError: the server is unreachable or refused the data (``Unreachable``/``Rejected``).
    """
    from rltrack.api import Api
    from rltrack.store.chunks import pack
    from rltrack.store.writer import NewRun, WriterInfo

    view = Api(dir).run(run_id)
    client = IngestClient(url, api_key, transport=transport)
    config = _fit(view.id, "config", view.config)
    metadata = _fit(view.id, "metadata", view.metadata)
    sent = {"points": 0, "media": 0}
    try:
        who = WriterInfo(host=os.uname().nodename, pid=0, pid_started_ns=0, now_ns=view.created_ns)
        new = NewRun(
            id=view.id, project=view.project, name=view.name, group=view.group, job_type=view.job_type,
            notes=view.notes, tags=tuple(view.tags), config=config, source=view.primary_source,
        )
        ours = _create(client, view.id, wire.new_run_to(new), wire.who_to(who))
        sources = view.sources or [view.primary_source]
        before = {} if ours else client.get(f"/api/runs/{view.id}")
        there = set(before.get("sources") or ())
        reopened: str | None = None  # a source whose attach took over the server's ended run
        for order, source in enumerate(sources):
            if (ours and source != view.primary_source) or (not ours and source not in there):
                # Registers the source as a writer of the run (the dashboard lists sources from there);
                # later start times keep the local order of sources.
                later = WriterInfo(host=who.host, pid=0, pid_started_ns=0, now_ns=view.created_ns + order + 1)
                attached = client.post("/api/ingest/attach", {"run_id": view.id, "source": source,
                                                              "who": wire.who_to(later), "owner_alive": True})
                if not ours and attached.get("owner") is True and before.get("state") != "running":
                    reopened = source
        for source in sources:
            counts = client.get(f"/api/runs/{view.id}/counts", source=source)
            pending: list[dict[str, Any]] = []
            for key in view.keys(source):
                steps, times, values = view.series(key, source=source)
                for start in range(int(counts.get(key, 0)), int(values.shape[0]), PIECE_POINTS):
                    stop = min(start + PIECE_POINTS, int(values.shape[0]))
                    chunk = pack(source, key, steps[start:stop], times[start:stop], values[start:stop])
                    pending.append({"id": f"sync:{view.id}:{source}:{key}:{start}:{stop}", "op": "write",
                                    "run_id": view.id, "source": source, "batches": [wire.batch_to(chunk)]})
                    sent["points"] += stop - start
                    if len(pending) >= PIECES_PER_REQUEST:
                        client.send(pending)
                        pending = []
            if pending:
                client.send(pending)
            rows, files = _push_media(client, view, source, Path(view.dir))
            sent["media"] += rows
            sent["files"] = sent.get("files", 0) + files
            client.send([{"id": f"sync:{view.id}:{source}:state:{uuid.uuid4().hex}", "op": "write",
                          "run_id": view.id, "source": source,
                          "summary": _fit(view.id, f"summary of source {source!r}", view.summary_of(source)),
                          "config": config, "metadata": metadata, "owner": False}])
        # Before the end: a run the server shows as ended has all its files.
        sent["files"] = sent.get("files", 0) + _push_files(client, view.id, Path(view.dir), _saved(Path(view.dir)))
        for source in [s for s in sources if s != view.primary_source] + [view.primary_source]:
            if view.state != "running":
                client.send([{"id": f"sync:{view.id}:{source}:end:{uuid.uuid4().hex}", "op": "end",
                              "run_id": view.id, "source": source, "state": view.state, "reason": view.reason,
                              "exit_code": view.exit_code, "ended_ns": view.ended_ns or view.heartbeat_ns,
                              "owner": ours and source == view.primary_source}])
        if reopened is not None:
            # Attaching to a run that had ended made it running again: end it as it was.
            client.send([{"id": f"sync:{view.id}:{reopened}:restore:{uuid.uuid4().hex}", "op": "end",
                          "run_id": view.id, "source": reopened, "state": before["state"],
                          "reason": before.get("reason"), "exit_code": before.get("exit_code"),
                          "ended_ns": before.get("ended_ns") or view.created_ns, "owner": True}])
    finally:
        client.close()
    if not sent.get("files"):
        sent.pop("files", None)
    return sent


def _create(client: IngestClient, run_id: str, run: dict[str, Any], who: dict[str, Any]) -> bool:
    """Create the run on the server; return False when the server already had it from another writer.

    A run a sync created before (same batch id) counts as ours. A run that exists for another reason
    (a robot's offline ``real`` source of a run trained online on the server) gets the local sources
    beside its own, and the sync never ends it: its owner does.
    """
    try:
        client.send([{"id": f"sync:{run_id}:create", "op": "create_run", "run": run, "who": who}])
    except Rejected as err:
        if err.status != 409:
            raise
        return False
    return True


def _push_media(client: IngestClient, view: Any, source: str, run_dir: Path) -> tuple[int, int]:
    """Send the media rows of ``source`` the server lacks, each after its files; return (rows, other files) sent.

    A row already there still gets the cell files the server lacks (syncs before cell files were
    uploaded left a table's cells behind); its own file went before it.
    """
    there = {(m["key"], m["step"], m["path"]) for m in client.get(f"/api/runs/{view.id}/media", source=source)}
    count = files = 0
    for m in view.media(source=source):
        relative = m.path.relative_to(run_dir).as_posix()
        # A table's cells (a row's own file went before the row, in every version): one look per cell.
        cells = [p for p in media_files(run_dir, relative, m.kind, m.meta) if p != relative]
        files += _push_files(client, view.id, run_dir, cells)
        if (m.key, m.step, relative) in there:
            continue
        if m.path.is_file():
            client.upload(view.id, relative, m.path)
        record = {"source": m.source, "key": m.key, "step": m.step, "t_ns": m.t_ns, "kind": m.kind,
                  "path": relative, "caption": m.caption, "meta": m.meta}
        client.send([{"id": f"sync:{view.id}:{source}:media:{relative}", "op": "write", "run_id": view.id,
                      "source": source, "media": [record]}])
        count += 1
    return count, files


def _push_files(client: IngestClient, run_id: str, run_dir: Path, paths: list[str]) -> int:
    """Upload each of ``paths`` (relative to the run's folder) the server lacks or holds different; return how many.

    A file gone from the local folder is left out: the server then shows it missing, as it is.
    """
    sent = 0
    for relative in paths:
        local = run_dir / relative
        if not local.is_file():
            continue
        there = client.probe(run_id, relative)
        if there is not None and _same(local, *there):
            continue
        client.upload(run_id, relative, local)
        sent += 1
    return sent


def _same(local: Path, size: int, digest: str | None) -> bool:
    """Whether a local file has the server's ``size`` (and ``digest``, when the server names one)."""
    if local.stat().st_size != size:
        return False
    if digest is None:
        return True
    h = hashlib.sha256()
    with open(local, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest() == digest


def _saved(run_dir: Path) -> list[str]:
    """Return the run's saved files (``files/``, ``code/``: ``save()``, ``save_code``) as run-relative paths.

    Links are left out (the server serves none); a name the server refuses is named in a warning.
    """
    out: list[str] = []
    for top in SAVED_FOLDERS:
        if (run_dir / top).is_symlink():
            continue
        for folder, dirs, names in os.walk(run_dir / top):
            dirs.sort()
            for name in sorted(names):
                path = Path(folder) / name
                if path.is_symlink() or not path.is_file():
                    continue
                relative = path.relative_to(run_dir).as_posix()
                try:
                    out.append(check_media_path(relative))
                except RltrackError as err:
                    warnings.warn(f"saved file {str(path)!r} is not sent: {err}; rename it and sync again",
                                  RltrackWarning, stacklevel=4)
    return out
