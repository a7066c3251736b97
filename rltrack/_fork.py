"""``init(fork_from=...)`` and ``init(resume_from=...)``: branch a stored run at a step, as wandb does.

Both take ``"RUNID?_step=N"`` and work on the local store (offline mode):

- **fork_from** starts a NEW run whose history is the source run's values with ``step <= N``,
  under every source (``sim`` and ``real`` alike: a real robot's values sit at the training step
  of the policy it ran, so the ones up to ``N`` belong to the history the fork shares). Media up
  to ``N`` are copied too. The config is the source's, updated by ``init(config=...)``; the
  run's metadata holds ``fork = {"run", "step", "project"}``, shown by ``Api().run(id).metadata``.
- **resume_from** rewinds the SAME run to ``N`` and continues it at ``N + 1``. Nothing is lost:
  first the whole run (every source, value, media file, config and summary) is copied into an
  archive run ``<id>-rewound-<k>`` (metadata ``rewound = {"run", "step"}``, tag ``rewound``);
  then the values and media after ``N`` are removed from the run, and its metadata ``rewinds``
  lists each rewind with its archive's id. Read the archived history with
  ``Api().run(archive_id).history()``.

Summaries of a branched run are recomputed: each key's last value at or before ``N``.
Artifacts, saved files and code stay with the run that made them.
"""

from __future__ import annotations

import contextlib
import re
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rltrack import _live
from rltrack._fork_files import copy_media, remove_media
from rltrack._metadata import collect_metadata
from rltrack._run import Run
from rltrack.errors import InvalidValueError, RltrackError, RltrackWarning, RunExistsError, RunNotFoundError
from rltrack.store.chunks import pack, split
from rltrack.store.reader import MediaRow, RunRow, StoreReader
from rltrack.store.writer import NewRun, StoreWriter, WriterInfo
from rltrack.types import MediaRecord, SeriesBatch
from rltrack.validate import MAX_STEP

__all__ = ["Branch", "Start", "fork", "open_branch", "parse_branch", "rewind"]

_SPEC = re.compile(r"([A-Za-z0-9_-]{1,64})\?_step=([0-9]{1,19})")
#: Points per stored chunk when a history is copied (a long run is not one huge row).
_CHUNK = 65_536
_MAX_NAME = 128


@dataclass(frozen=True, slots=True)
class Branch:
    """A parsed ``fork_from`` / ``resume_from``: which argument, the run and the step."""

    kind: str
    run_id: str
    step: int

    @property
    def spec(self) -> str:
        return f"init({self.kind}='{self.run_id}?_step={self.step}')"


@dataclass(frozen=True, slots=True)
class Start:
    """What ``init()`` needs to build the branched run."""

    id: str
    name: str
    project: str
    group: str | None
    config: dict[str, Any]
    summary: dict[str, Any]
    step: int
    owner: bool


def parse_branch(fork_from: object, resume_from: object) -> Branch | None:
    """Return the branch asked for, or None.

    Raises:
        InvalidValueError: both are given, or one is not ``"RUNID?_step=N"``.
    """
    if fork_from is not None and resume_from is not None:
        raise InvalidValueError(
            f"init() got fork_from={fork_from!r} and resume_from={resume_from!r}: pass one — fork_from starts a "
            "new run from another's history, resume_from rewinds that same run"
        )
    kind, spec = ("fork_from", fork_from) if fork_from is not None else ("resume_from", resume_from)
    if spec is None:
        return None
    match = _SPEC.fullmatch(spec) if isinstance(spec, str) else None
    if match is None or int(match.group(2)) > MAX_STEP:
        raise InvalidValueError(
            f"init({kind}={spec!r}) must be 'RUNID?_step=N' (a run id of letters, digits, '-' or '_' and a step "
            f"from 0 to {MAX_STEP}), such as 'a1b2c3d4?_step=200'"
        )
    return Branch(kind, match.group(1), int(match.group(2)))


def fork(
    store: StoreWriter, branch: Branch, who: WriterInfo, new: NewRun, *, defaults: Mapping[str, Any],
    run_dir: Callable[[str], Path], name_for: Callable[[str], str],
) -> Start:
    """Create ``new`` holding the source run's history up to the branch step (see the module docstring).

    An empty ``new.project`` means the source's project, an empty ``new.name`` one from
    ``name_for(project)``. The config is ``defaults``, then the source's, then ``new.config``.
    """
    if store.run_exists(new.id):
        raise RunExistsError(
            f"{branch.spec} with id={new.id!r}: that run exists; a fork is a new run, so pass another id or none "
            f"(to rewind run {branch.run_id!r} itself use resume_from=)"
        )
    reader = StoreReader(store.db)
    source = _source_row(reader, branch)
    copy = _read(reader, source, branch, keep_upto=True)
    merged = {**defaults, **source.config, **new.config}
    project = new.project or source.project
    new = NewRun(id=new.id, project=project, name=new.name or name_for(project), group=new.group,
                 job_type=new.job_type, notes=new.notes, tags=new.tags, config=merged, source=new.source)
    store.create_run(new, who)
    link = {"run": source.id, "step": branch.step, "project": source.project}
    try:
        copy_media(run_dir(source.id), run_dir(new.id), copy.media)
        _write_history(store, new.id, new.source, who, copy, metadata={"fork": link})
    except BaseException as err:  # an error or Ctrl-C while copying: the new run says it is partial
        _abandon(store, new.id, new.source, {"fork": {**link, "interrupted": True}},
                 f"the fork from run {source.id!r} stopped ({type(err).__name__}) while copying its history; this "
                 "run may be partial")
        raise
    return Start(
        id=new.id, name=new.name, project=new.project, group=new.group, config=merged,
        summary=copy.summaries.get(new.source, {}), step=branch.step + 1, owner=True,
    )


def rewind(
    store: StoreWriter, branch: Branch, who: WriterInfo, *, source: str, run_dir: Callable[[str], Path],
) -> tuple[Start, str]:
    """Archive the run whole, then cut its history after the branch step; return the start and the archive id.

    Raises:
        RltrackError: the run is still being written.
    """
    reader = StoreReader(store.db)
    row = _source_row(reader, branch)
    if row.state == "running":
        raise RltrackError(
            f"{branch.spec}: run {row.id!r} is still being written (state running); rewind it once it has "
            "finished, or fork it instead: init(fork_from=...)"
        )
    live = _live_writers(reader, row.id)
    if live:
        raise RltrackError(
            f"{branch.spec}: run {row.id!r} is still being written by {', '.join(live)}; rewind it once that "
            "writer has finished (a rewind under a live writer would cut values it is still storing), or fork it "
            "instead: init(fork_from=...)"
        )
    # Claimed first: a second rewind (or resume) of this run, from any process, now finds it running and is refused.
    store.attach_run(row.id, source, who, owner_alive=False)
    archive = ""
    # Not in the run's group: a group's charts (mean over seeds) would count the archived history twice.
    note = {**row.metadata, "rewound": {"run": row.id, "step": branch.step, "archived_ns": time.time_ns(),
                                        "group": row.group}}
    try:
        whole = _read(reader, row, branch, keep_upto=False)
        done = _already_cut(row, branch, whole)
        if done:  # the rerun of a rewind killed after its cut: the archive it made holds everything
            return _attached_start(store, row.id, source, who, whole, branch), done
        _close_interrupted(store, reader, row.id)
        candidate = _archive_id(store, row.id)
        name = f"{row.name} (before rewind to step {branch.step})"
        store.create_run(
            NewRun(id=candidate, project=row.project, name=name[:_MAX_NAME], group=None, job_type=row.job_type,
                   notes=row.notes, tags=(*row.tags, "rewound"), config=row.config, source=row.primary_source),
            who,
        )
        archive = candidate
        copy_media(run_dir(row.id), run_dir(archive), whole.media)
        _write_history(store, archive, row.primary_source, who, whole, metadata=note, summaries=whole.stored)
        store.end(archive, row.primary_source, state=row.state, reason=row.reason, exit_code=row.exit_code,
                  ended_ns=row.ended_ns or time.time_ns(), owner=True)
    except BaseException as err:  # an error or Ctrl-C before the cut: the run keeps all, a partial archive says so
        if archive:
            _abandon(store, archive, row.primary_source, {"rewound": {**note["rewound"], "interrupted": True}},
                     _partial(row.id, type(err).__name__))
        _release(store, row, source)
        raise
    # The archive is complete and stored: only now is anything taken out of the run. The cut, the summaries
    # up to the step and the record naming the archive are one transaction (a crash leaves all or none).
    earlier = row.metadata.get("rewinds")
    rewinds = [*(earlier if isinstance(earlier, list) else []), {
        "step": branch.step, "archive": archive, "removed_values": whole.later, "at_ns": time.time_ns(),
    }]
    StoreWriter(store.db).truncate_after(row.id, branch.step, summaries=whole.summaries,
                                         metadata={"rewinds": rewinds})
    kept = {m.path for m in whole.media if m.step <= branch.step}  # a file two rows share stays with the kept one
    remove_media(run_dir(row.id), [m for m in whole.media if m.step > branch.step and m.path not in kept])
    return _attached_start(store, row.id, source, who, whole, branch), archive


def _attached_start(store: StoreWriter, run_id: str, source: str, who: WriterInfo, whole: _Copy,
                    branch: Branch) -> Start:
    attached = store.attach_run(run_id, source, who, owner_alive=False)
    return Start(
        id=run_id, name=attached.name, project=attached.project, group=attached.group, config=attached.config,
        summary=whole.summaries.get(source, {}), step=branch.step + 1, owner=attached.owner,
    )


def _already_cut(row: RunRow, branch: Branch, whole: _Copy) -> str:
    """The archive of the last rewind when it was to this step and nothing was logged after it since, else ''."""
    records = row.metadata.get("rewinds")
    last = records[-1] if isinstance(records, list) and records and isinstance(records[-1], dict) else {}
    if last.get("step") != branch.step or whole.later or any(m.step > branch.step for m in whole.media):
        return ""
    archive = last.get("archive")
    return archive if isinstance(archive, str) else ""


def open_branch(
    branch: Branch, store: StoreWriter, who: WriterInfo, new: NewRun, *, defaults: dict[str, Any],
    allow_val_change: bool | None, name_for: Callable[[str], str],
) -> Run:
    """Return the run ``branch`` asks for; ``new`` holds init()'s arguments (empty project/name: defaults)."""
    root = store.db.root

    def folder(run_id: str) -> Path:
        return root / "runs" / run_id

    if branch.kind == "fork_from":
        for live in list(_live.live):  # the parent still logging in this process: fork what it logged so far
            same_store = getattr(getattr(live, "_store", None), "db", None) is store.db
            if same_store and getattr(live, "id", None) == branch.run_id:
                live.flush()
        start = fork(store, branch, who, new, defaults=defaults, run_dir=folder, name_for=name_for)
    else:
        if allow_val_change is False:  # refused before the rewind, not after it has cut the run
            _check_config(branch, _source_row(StoreReader(store.db), branch).config, new.config)
        start, archive = rewind(store, branch, who, source=new.source, run_dir=folder)
        warnings.warn(f"rltrack: run {start.id!r} rewound to step {branch.step}; its later history is kept in run "
                      f"{archive!r}", RltrackWarning, stacklevel=3)
        kept = [f"{what}={given!r} (it stays {had!r})" for what, given, had in (
            ("project", new.project, start.project), ("name", new.name, start.name)) if given and given != had]
        if kept:  # said, not silently dropped: a rewind continues the run as it is
            warnings.warn(f"rltrack: {branch.spec} continues run {start.id!r} as it is and ignores "
                          f"{'; '.join(kept)}", RltrackWarning, stacklevel=3)
    run = Run(
        store, id=start.id, name=start.name, project=start.project, group=start.group, source=new.source,
        run_dir=folder(start.id), config=start.config, summary=start.summary, step=start.step, owner=start.owner,
        metadata=collect_metadata if branch.kind == "fork_from" else None,
    )
    if branch.kind == "resume_from":
        run.config.setdefaults(defaults)
        run.config.update(dict(new.config), allow_val_change=allow_val_change)
    return run


def _check_config(branch: Branch, stored: Mapping[str, Any], given: Mapping[str, Any]) -> None:
    """Refuse (as ``config.update(allow_val_change=False)`` would) a config that changes a stored value."""
    for key, value in given.items():
        if key in stored and stored[key] != value:
            raise InvalidValueError(
                f"{branch.spec} with config {key!r}={value!r} would change the run's {stored[key]!r}; nothing was "
                "rewound: pass allow_val_change=True to change it"
            )


@dataclass
class _Copy:
    batches: list[SeriesBatch]
    media: list[MediaRow]
    #: Each source's summary recomputed up to the step, and as it is stored.
    summaries: dict[str, dict[str, Any]]
    stored: dict[str, dict[str, Any]]
    sources: list[str]
    #: Points after the step (what a rewind removes).
    later: int = 0


def _source_row(reader: StoreReader, branch: Branch) -> RunRow:
    try:
        row = reader.run(branch.run_id)
    except RunNotFoundError:
        raise RunNotFoundError(
            f"{branch.spec}: no run has id {branch.run_id!r} in {str(reader.db.path)!r}; "
            "check the id (rltrack runs ls) and the store folder (dir=)"
        ) from None
    last = _last_step(reader, row.id)
    live = " (stored so far: it is still running; its writer stores new values every few seconds)" \
        if row.state == "running" else ""
    if last is None:
        raise InvalidValueError(f"{branch.spec}: run {row.id!r} has no logged values to branch from{live}")
    if branch.step > last:
        raise InvalidValueError(
            f"{branch.spec}: run {row.id!r} was logged up to step {last}{live}; pick a step between 0 and {last}"
        )
    return row


def _last_step(reader: StoreReader, run_id: str) -> int | None:
    steps = [s[2] for src in reader.sources(run_id) for key in reader.keys(run_id, src)
             for s in reader.chunk_stats(run_id, src, key)]
    steps += [m.step for m in reader.media(run_id)]
    return max(steps) if steps else None


def _read(reader: StoreReader, row: RunRow, branch: Branch, *, keep_upto: bool) -> _Copy:
    """Read every source's values (all, or those at or before the step) and the summaries up to the step."""
    sources = reader.sources(row.id) or [row.primary_source]
    batches: list[SeriesBatch] = []
    summaries: dict[str, dict[str, Any]] = {}
    stored: dict[str, dict[str, Any]] = {}
    later = 0
    for src in sources:
        stored[src] = reader.summary(row.id, src)
        summary = dict(stored[src])  # _rltrack/ counters stay: they describe the history that is kept
        for key in reader.keys(row.id, src):
            steps, t_ns, values = reader.series(row.id, src, key)
            upto = steps <= branch.step
            later += int(upto.size - np.count_nonzero(upto))
            if upto.any():
                summary[key] = float(values[upto][-1])
            else:
                summary.pop(key, None)
            mask = upto if keep_upto else slice(None)
            if steps[mask].size:
                batches += split(pack(src, key, steps[mask], t_ns[mask], values[mask]), _CHUNK)
        summaries[src] = summary
    media = [m for m in reader.media(row.id) if not keep_upto or m.step <= branch.step]
    return _Copy(batches, media, summaries, stored, sources, later)


def _write_history(
    store: StoreWriter, run_id: str, primary: str, who: WriterInfo, copy: _Copy, *, metadata: dict[str, Any],
    summaries: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Store the copied values, media rows, summaries and writer rows of every source in the new run."""
    summaries = copy.summaries if summaries is None else summaries
    for src in copy.sources:
        if src != primary:
            # A writer row, so Api lists the source (after the primary: sources are in order of arrival).
            store.attach_run(run_id, src, replace(who, now_ns=max(time.time_ns(), who.now_ns + 1)), owner_alive=True)
    records = [MediaRecord(m.source, m.key, m.step, m.t_ns, m.kind, m.path, m.caption, m.meta) for m in copy.media]
    store.write(run_id, primary, batches=copy.batches, media=records, metadata=metadata,
                summary=summaries.get(primary, {}))
    for src in copy.sources:
        if src != primary:
            store.write(run_id, src, summary=summaries.get(src, {}), owner=False)
            store.end(run_id, src, state="finished", reason=None, exit_code=None, ended_ns=time.time_ns(),
                      owner=False)


def _archive_ids(run_id: str) -> Iterator[str]:
    for k in range(1, 10_000):
        suffix = f"-rewound-{k}"
        yield run_id[: 64 - len(suffix)] + suffix


def _close_interrupted(store: StoreWriter, reader: StoreReader, run_id: str) -> None:
    """End, as failed and marked, each partial archive a rewind killed before its cut left behind.

    The run still holds everything such an archive holds (the cut comes after the archive is complete),
    so it is kept and labelled, not removed: its ``rewound`` record gains ``interrupted: true``.
    """
    listed = reader.run(run_id).metadata.get("rewinds")
    linked = {r.get("archive") for r in listed if isinstance(r, dict)} if isinstance(listed, list) else set()
    for candidate in _archive_ids(run_id):
        if not store.run_exists(candidate):
            return
        row = reader.run(candidate)
        note = row.metadata.get("rewound")
        if (candidate in linked or row.state != "crashed" or not isinstance(note, dict)
                or note.get("run") != run_id or note.get("interrupted")):
            continue
        _abandon(store, candidate, row.primary_source, {"rewound": {**note, "interrupted": True}},
                 _partial(run_id, "the process ended"))


def _release(store: StoreWriter, row: RunRow, source: str) -> None:
    """Give a run claimed by a rewind that stopped before its cut its state back (best effort)."""
    with contextlib.suppress(Exception):
        store.end(row.id, source, state=row.state, reason=row.reason, exit_code=row.exit_code,
                  ended_ns=row.ended_ns or time.time_ns(), owner=True)


def _partial(run_id: str, why: str) -> str:
    return (f"a rewind of run {run_id!r} stopped ({why}) while copying it here; this copy may be partial, and "
            f"{run_id!r} still holds all of it")


def _abandon(store: StoreWriter, run_id: str, source: str, metadata: dict[str, Any], reason: str) -> None:
    """End a run that a fork or rewind stopped building as failed, with why (best effort: it may be the disk)."""
    with contextlib.suppress(Exception):
        store.write(run_id, source, metadata=metadata, owner=False)
        store.end(run_id, source, state="failed", reason=reason, exit_code=None, ended_ns=time.time_ns(), owner=True)


def _archive_id(store: StoreWriter, run_id: str) -> str:
    for candidate in _archive_ids(run_id):
        if not store.run_exists(candidate):
            return candidate
    raise RltrackError(f"run {run_id!r} has been rewound 10,000 times; fork it instead: init(fork_from=...)")


def _live_writers(reader: StoreReader, run_id: str) -> list[str]:
    """Describe the sources still writing into a run (``"source 'real' (pid 12 on robot)"``).

    The run's owner may have finished while a second source (the robot's ``real`` writer) goes on. A writer
    counts as live while its heartbeat is recent and, on this host, while its process exists.
    """
    import os

    from rltrack.store.reader import CRASH_AFTER_S

    here = os.uname().nodename  # what writers record (rltrack._session)
    now = time.time_ns()
    live = []
    for source, host, pid, heartbeat_ns in reader.running_writers(run_id):
        if now - heartbeat_ns > CRASH_AFTER_S * 1e9:
            continue  # a writer that stopped beating crashed: nothing is coming
        if host == here:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                continue
            except PermissionError:
                pass  # it exists, under another user
        live.append(f"source {source!r} (pid {pid} on {host})")
    return live
