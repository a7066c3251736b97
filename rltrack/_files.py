"""Files a run keeps beside its values: ``save()`` (wandb's), ``save_code``, and alert records.

Saved files are copied into ``<run folder>/files/<path relative to base_path>``; the main script
of ``init(save_code=True)`` into ``<run folder>/code/``. The run's metadata lists them, and an
online run uploads each one it names when it changed (:func:`rltrack.remote.client.upload_media`).

``policy="live"`` copies now, then every :data:`LIVE_POLL_S` seconds the matches that changed
(a background thread that only counts its failures), and once more at ``finish()``.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from rltrack._handle import RunHandle
from rltrack.errors import InvalidValueError
from rltrack.validate import check_text

__all__ = ["ALERT_LEVELS", "POLICIES", "alert_record", "save", "save_main_script"]

POLICIES = ("now", "end", "live")
#: Seconds between two looks at the files of a ``save(policy="live")`` for changes.
LIVE_POLL_S = 10.0
#: Guards a run's list of saved files (the live watcher records from its own thread).
_RECORD_LOCK = threading.Lock()
ALERT_LEVELS = ("INFO", "WARN", "ERROR")


def save(
    run: RunHandle, glob_str: str | os.PathLike[str], base_path: str | os.PathLike[str] | None, policy: str
) -> list[str]:
    """Copy what ``glob_str`` matches into ``run.dir/files`` now and/or at finish; return what was copied now."""
    if policy not in POLICIES:
        raise InvalidValueError(f"save(policy={policy!r}) must be one of 'now', 'end', 'live'")
    if not isinstance(glob_str, (str, os.PathLike)) or not str(glob_str):
        raise InvalidValueError(f"save({glob_str!r}) needs a file path or glob such as 'checkpoints/*.pt'")
    pattern = Path(glob_str).expanduser()
    cwd = Path.cwd()
    if not pattern.is_absolute():
        pattern = (Path(base_path) if base_path is not None else cwd) / pattern
    base = Path(base_path).expanduser().absolute() if base_path is not None else cwd
    pattern = Path(os.path.normpath(pattern.absolute()))
    if not pattern.is_relative_to(base):
        where = f"base_path {str(base)!r}" if base_path is not None else f"the working directory {str(base)!r}"
        raise InvalidValueError(
            f"save({str(glob_str)!r}): {str(pattern)!r} is outside {where}; pass base_path= a folder that holds it "
            "(stored paths are relative to base_path)"
        )
    copied: list[str] = []
    fresh: list[str] = []
    if policy in ("now", "live"):
        copied = _copy(run, pattern, base, fresh)
    if policy == "end":
        run._at_finish.append(lambda: _record(run, _copy(run, pattern, base), changed=True))
    elif policy == "live":
        _watch(run, pattern, base)
    _record(run, copied, changed=bool(fresh))
    return copied


def _watch(run: RunHandle, pattern: Path, base: Path) -> None:
    """Copy the changed matches every :data:`LIVE_POLL_S` s until ``finish()``, which copies them once more."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(LIVE_POLL_S):
            try:
                fresh: list[str] = []
                _copy(run, pattern, base, fresh)
                if fresh:
                    _record(run, fresh, changed=True)
            except Exception as err:  # telemetry never stops training: counted, warned once
                run._writer.report("save-live", err)

    thread = threading.Thread(target=loop, name=f"rltrack-save-live-{run.id}", daemon=True)
    thread.start()

    def at_finish() -> None:
        stop.set()
        thread.join()
        _record(run, _copy(run, pattern, base), changed=True)

    run._at_finish.append(at_finish)


def _copy(run: RunHandle, pattern: Path, base: Path, fresh: list[str] | None = None) -> list[str]:
    """Copy the matches into ``files/``; return their stored paths (and add those copied now to ``fresh``).

    A file whose copy already has its size and modification time (``copy2`` keeps it) is not
    copied again: ``save("ckpt/*.pt")`` each epoch copies, and an online run uploads, only the new
    checkpoint. A copy is written beside and renamed into place, so nothing (the uploader of an
    online run) ever reads half a file.
    """
    out = []
    for match in sorted(glob.glob(str(pattern), recursive=True)):
        path = Path(match)
        if not path.is_file():
            continue
        rel = Path("files") / path.relative_to(base)
        dest = run.dir / rel
        out.append(rel.as_posix())
        have, want = (dest.stat() if dest.is_file() else None), path.stat()
        if have is not None and (have.st_size, have.st_mtime_ns) == (want.st_size, want.st_mtime_ns):
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=run.dir, prefix=".save-")
        os.close(fd)
        try:
            shutil.copy2(path, tmp)
            os.replace(tmp, dest)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        if fresh is not None:
            fresh.append(rel.as_posix())
    return out


def _record(run: RunHandle, paths: list[str], *, changed: bool = False) -> None:
    """List ``paths`` in the run's metadata: that write is what sends them to a server (new or ``changed``)."""
    if not paths:
        return
    with _RECORD_LOCK:
        saved: list[str] = getattr(run, "_saved_files", [])
        new = [p for p in paths if p not in saved]
        if not new and not changed:
            return
        saved.extend(new)
        run._saved_files = saved  # type: ignore[attr-defined]  # created on first save
        run._writer.add_metadata({"files": list(saved)})


def save_main_script(run: RunHandle) -> str | None:
    """Copy the script that started this process into ``run.dir/code``; return its stored path (None: no script)."""
    main = sys.modules.get("__main__")
    source = getattr(main, "__file__", None)
    if not source or not Path(source).is_file():
        return None  # an interactive session or a notebook: no file to keep
    rel = f"code/{Path(source).name}"
    dest = run.dir / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, dest)
    run._writer.add_metadata({"code": rel})
    return rel


def alert_record(title: object, text: object, level: object, step: int) -> dict[str, Any]:
    """Check an alert's fields and return the record stored in the run's metadata."""
    name = str(getattr(level, "value", level)).upper()
    if name == "WARNING":
        name = "WARN"
    if name not in ALERT_LEVELS:
        raise InvalidValueError(f"alert(level={level!r}) must be 'INFO', 'WARN' or 'ERROR'")
    for what, value in (("title", title), ("text", text)):
        if not isinstance(value, str) or not value:
            raise InvalidValueError(f"alert({what}={value!r}) must be a non-empty string")
        check_text(f"alert {what}", value)
    return {"title": title, "text": text, "level": name, "step": step, "t_ns": time.time_ns()}
