"""Dead letters: spooled batches a server refused (4xx) or failed on again and again (5xx).

The remote writer moves such a batch out of its spool into ``<spool_dir>/spool/dead/``, one JSON
file per batch holding the batch and the server's answer, so one poison batch never holds up the
batches behind it and is never lost either. ``rltrack sync`` lists them (:func:`describe`), sends
them again (:func:`retry`) or deletes them (:func:`discard`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rltrack.remote.client import IngestClient, Rejected, ServerError, Unreachable, upload_media

__all__ = [
    "DeadLetter",
    "RetryReport",
    "batch_run_id",
    "batch_values",
    "bury",
    "damaged",
    "dead_dir",
    "describe",
    "discard",
    "load",
    "reason_of",
    "retry",
]

#: Reasons shown per run by :func:`describe`.
REASONS_SHOWN = 3


def dead_dir(spool_dir: Path) -> Path:
    """The dead-letter folder of a spool folder (what ``init(dir=...)`` was given)."""
    return spool_dir / "spool" / "dead"


@dataclass(frozen=True)
class DeadLetter:
    """One refused batch as kept on disk."""

    path: Path
    run_id: str
    batch_id: str
    values: int
    status: int | None
    reason: str
    tries: int
    url: str
    dead_ns: int
    batch: dict[str, Any] = field(repr=False)


def batch_run_id(batch: dict[str, Any]) -> str:
    """The run a spooled batch writes to (``?`` when the batch does not say)."""
    run = batch.get("run")
    run_id = run.get("id") if batch.get("op") == "create_run" and isinstance(run, dict) else batch.get("run_id")
    return run_id if isinstance(run_id, str) and run_id else "?"


def batch_values(batch: dict[str, Any]) -> int:
    """How many values (points of value chunks) a spooled batch carries."""
    chunks = batch.get("batches")
    if not isinstance(chunks, list):
        return 0
    return sum(c["count"] for c in chunks if isinstance(c, dict) and type(c.get("count")) is int and c["count"] > 0)


def bury(folder: Path, batch: dict[str, Any], *, url: str, status: int | None, reason: str, tries: int) -> DeadLetter:
    """Write one dead letter (atomically, synced to disk) and return it.

    The file name comes from the run, the batch id and a hash of the batch, so burying the same
    batch twice (the writer died between burying and acknowledging it) keeps one file.

    Raises:
        OSError: the folder cannot be written (the caller keeps the batch in its spool).
    """
    run_id = batch_run_id(batch)
    batch_id = batch.get("id")
    batch_id = batch_id if isinstance(batch_id, str) else "?"
    digest = hashlib.sha256(json.dumps(batch, sort_keys=True, allow_nan=True).encode()).hexdigest()[:12]
    name = f"{_safe(run_id)}.{_safe(batch_id)}.{digest}.json"
    letter = DeadLetter(
        path=folder / name, run_id=run_id, batch_id=batch_id, values=batch_values(batch), status=status,
        reason=reason, tries=tries, url=url, dead_ns=time.time_ns(), batch=batch,
    )
    _write(letter)
    return letter


def reason_of(err: ServerError | Rejected) -> str:
    """The server's own words for a refusal (its ``message``, else its whole answer)."""
    body = err.body
    answer = body.get("message", body) if isinstance(body, dict) else body
    return answer if isinstance(answer, str) else json.dumps(answer, allow_nan=True)


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)[:80] or "_"


def _write(letter: DeadLetter) -> None:
    record = {
        "run_id": letter.run_id, "batch_id": letter.batch_id, "values": letter.values, "status": letter.status,
        "reason": letter.reason, "tries": letter.tries, "url": letter.url, "dead_ns": letter.dead_ns,
        "batch": letter.batch,
    }
    letter.path.parent.mkdir(parents=True, exist_ok=True)
    tmp = letter.path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(record, f, allow_nan=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, letter.path)


def load(spool_dir: Path, *, run_id: str | None = None) -> list[DeadLetter]:
    """Read the dead letters of a spool folder (of one run, or all), oldest first.

    A file that is not a readable dead letter (torn or damaged on disk) is left out here, so it
    cannot hide the others; :func:`damaged` lists such files and :func:`discard` removes them.
    """
    letters = []
    for path in sorted(dead_dir(spool_dir).glob("*.json")):
        letter = _read(path)
        if isinstance(letter, DeadLetter) and (run_id is None or letter.run_id == run_id):
            letters.append(letter)
    return sorted(letters, key=lambda x: (x.dead_ns, x.path.name))


def damaged(spool_dir: Path) -> list[tuple[Path, str]]:
    """Files in the dead-letter folder that cannot be read as dead letters, each with why."""
    return [(path, found) for path in sorted(dead_dir(spool_dir).glob("*.json"))
            if path.is_file() and isinstance(found := _read(path), str)]


def _read(path: Path) -> DeadLetter | str:
    """Return the dead letter in ``path``, or why it cannot be read."""
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        return DeadLetter(
            path=path, run_id=str(d["run_id"]), batch_id=str(d["batch_id"]), values=int(d["values"]),
            status=None if d["status"] is None else int(d["status"]), reason=str(d["reason"]),
            tries=int(d["tries"]), url=str(d["url"]), dead_ns=int(d["dead_ns"]), batch=dict(d["batch"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as err:  # UnicodeDecodeError is a ValueError
        return f"{type(err).__name__}: {err}"


def describe(spool_dir: Path, *, run_id: str | None = None) -> list[str]:
    """Lines for ``rltrack sync``: per run, how many batches and values, to which server, and why."""
    letters = load(spool_dir, run_id=run_id)
    folder = dead_dir(spool_dir)
    whose = f" of run {run_id}" if run_id else ""
    broken = [f"damaged dead letter {str(path)!r} ({why}): its batch cannot be sent; `rltrack sync --discard` "
              "deletes it" for path, why in damaged(spool_dir)]
    if not letters:
        return [f"no dead letters{whose} in {folder}: every batch spooled there reached the server or is still queued",
                *broken]
    lines = [f"dead letters{whose} in {folder} (batches the server refused; their values are not on the server):"]
    by_run: dict[str, list[DeadLetter]] = {}
    for letter in letters:
        by_run.setdefault(letter.run_id, []).append(letter)
    for rid, group in by_run.items():
        values = sum(x.values for x in group)
        servers = ", ".join(sorted({x.url for x in group}))
        lines.append(f"run {rid}: {len(group)} batch{'es' if len(group) != 1 else ''}, {values} values, "
                     f"for {servers}")
        reasons = Counter((x.status, x.reason) for x in group)
        for (status, reason), n in reasons.most_common(REASONS_SHOWN):
            lines.append(f"  {n} x {status if status is not None else 'unsent'}: {reason}")
        if len(reasons) > REASONS_SHOWN:
            lines.append(f"  ... and {len(reasons) - REASONS_SHOWN} other reasons")
    return lines + broken


@dataclass
class RetryReport:
    """What :func:`retry` did: batches now stored, batches refused again, and why it stopped early."""

    stored: int = 0
    values: int = 0
    refused: list[DeadLetter] = field(default_factory=list)
    unreachable: str | None = None
    not_tried: int = 0


def retry(
    spool_dir: Path,
    *,
    run_id: str | None = None,
    url: str | None = None,
    api_key: str | None = None,
    transport: Any = None,
) -> RetryReport:
    """Send dead letters again, one batch per request, oldest first; delete each one the server stores.

    A batch refused again stays, with the new answer. When the server cannot be reached the rest
    stay untouched (``unreachable`` says why).

    Args:
        spool_dir: The folder given to ``init(dir=...)`` for the online runs.
        run_id: Only this run's dead letters.
        url: Send to this server instead of the one each batch was meant for.
        api_key: The server's token.
        transport: An httpx transport (tests).
    """
    report = RetryReport()
    letters = load(spool_dir, run_id=run_id)
    clients: dict[str, IngestClient] = {}
    try:
        for i, letter in enumerate(letters):
            target = url or letter.url
            client = clients.get(target) or clients.setdefault(target, IngestClient(target, api_key,
                                                                                     transport=transport))
            try:
                upload_media(client, spool_dir, letter.batch)
                client.send([letter.batch])
            except (ServerError, Rejected) as err:
                if isinstance(err, Rejected) and err.transient:  # a wrong token: no use trying the others
                    report.unreachable, report.not_tried = str(err), len(letters) - i
                    break
                again = DeadLetter(
                    path=letter.path, run_id=letter.run_id, batch_id=letter.batch_id, values=letter.values,
                    status=err.status, reason=reason_of(err), tries=letter.tries + 1, url=target,
                    dead_ns=letter.dead_ns, batch=letter.batch,
                )
                _write(again)
                report.refused.append(again)
                continue
            except Unreachable as err:
                report.unreachable, report.not_tried = str(err), len(letters) - i
                break
            report.stored += 1
            report.values += letter.values
            with contextlib.suppress(FileNotFoundError):
                letter.path.unlink()
    finally:
        for client in clients.values():
            client.close()
    return report


def discard(spool_dir: Path, *, run_id: str | None = None) -> tuple[int, int]:
    """Delete dead letters (of one run, or all) for good; return how many batches and values went.

    Deleting all of them also deletes damaged files (:func:`damaged`), each counted as one batch.
    """
    letters = load(spool_dir, run_id=run_id)
    paths = [letter.path for letter in letters]
    if run_id is None:
        paths += [path for path, _ in damaged(spool_dir)]
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return len(paths), sum(x.values for x in letters)
