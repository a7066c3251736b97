"""Importing TensorBoard log dirs: each folder of event files becomes one finished run.

A folder is a run, as TensorBoard shows it: its event files are read in name order (their names
start with the time they were opened). The sub-folder named by a timestamp that PyTorch's
``SummaryWriter.add_hparams`` writes belongs to the run around it: its hyperparameters go into
that run's config and its metric values into that run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rltrack.errors import RltrackError
from rltrack.tensorboard.events import EventFileReader, is_event_file
from rltrack.tensorboard.sink import RunSink

__all__ = ["ImportedRun", "LogDirRun", "find_runs", "import_run"]

# PyTorch's add_hparams() names its sub-folder str(time.time()).
_TIMESTAMP = re.compile(r"^\d+(\.\d+)?$")
#: Records read between two progress updates.
_CHUNK = 2000


@dataclass(frozen=True)
class LogDirRun:
    """One run found under an import path: its display name and its event files, in reading order."""

    name: str
    folder: Path
    files: list[Path]

    @property
    def size(self) -> int:
        """Total bytes of the event files."""
        return sum(f.stat().st_size for f in self.files)


@dataclass
class ImportedRun:
    """What one import stored: the run's id and name, counts logged by kind and counts skipped by reason."""

    run_id: str
    name: str
    logged: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)


def find_runs(path: str | os.PathLike[str]) -> list[LogDirRun]:
    """Return the runs under ``path`` (an event file, a run folder, or a folder of run folders).

    Raises:
        RltrackError: ``path`` is missing, or is a file that is not an event file, or a folder
            with no event file under it.
    """
    root = Path(path).expanduser()
    if root.is_file():
        if not is_event_file(root):
            raise RltrackError(
                f"{str(root)!r} is not a TensorBoard event file (its name has no 'tfevents'); "
                "pass an events.out.tfevents.* file or the folder that holds them"
            )
        return [LogDirRun(root.resolve().parent.name or root.name, root.parent, [root])]
    if not root.is_dir():
        raise RltrackError(f"{str(root)!r} does not exist; pass an event file or a TensorBoard log dir")
    folders: dict[Path, list[Path]] = {}
    for file in sorted(p for p in root.rglob("*tfevents*") if is_event_file(p)):
        folders.setdefault(file.parent, []).append(file)
    if not folders:
        raise RltrackError(
            f"no TensorBoard event files (events.out.tfevents.*) under {str(root)!r}; pass the log dir "
            "your SummaryWriter wrote into (e.g. runs/)"
        )
    for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):
        if _TIMESTAMP.match(folder.name) and folder != root and folder.parent in folders:
            folders[folder.parent].extend(folders.pop(folder))  # add_hparams' sub-folder: read last
    return [
        LogDirRun(root.resolve().name if folder == root else folder.relative_to(root).as_posix(), folder, files)
        for folder, files in sorted(folders.items())
    ]


def import_run(found: LogDirRun, run: Any, progress: Callable[[int], None] | None = None) -> ImportedRun:
    """Log every point of ``found``'s event files into ``run`` (at their steps and wall times).

    The run is left open: the caller finishes it (and marks it failed if this raises).

    Args:
        found: The run's event files.
        run: An :class:`rltrack.Run` to log into.
        progress: Called with the number of bytes read since the last call.

    Raises:
        CorruptEventFileError: An event file is corrupt; everything before the bad record is
            logged first, and the message names the file.
    """
    sink = RunSink(run)
    try:
        for file in found.files:
            reader = EventFileReader(file)
            done = 0
            while not reader.at_end:
                sink.add(reader.read(final=True, max_records=_CHUNK))
                if progress is not None:
                    progress(reader.bytes_read - done)
                done = reader.bytes_read
    finally:
        sink.flush()
    return ImportedRun(run.id, found.name, dict(sink.logged), dict(sink.skipped))
