"""TensorBoard event files into runs: ``rltrack import-tb`` and the live mirror behind ``sync_tensorboard``.

Both read event files with the ``tensorboard`` package's own record reader and protos (the
``tensorboard`` extra); nothing here imports it until a file is read, and ``import rltrack``
never imports this package.
"""

from __future__ import annotations

from rltrack.tensorboard.events import CorruptEventFileError, EventFileReader, Point
from rltrack.tensorboard.importer import ImportedRun, LogDirRun, find_runs, import_run
from rltrack.tensorboard.mirror import TensorBoardMirror, mirror

__all__ = [
    "CorruptEventFileError",
    "EventFileReader",
    "ImportedRun",
    "LogDirRun",
    "Point",
    "TensorBoardMirror",
    "find_runs",
    "import_run",
    "mirror",
]
