"""Small shared types: run states, modes, records exchanged between the run API and the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

__all__ = [
    "DEFAULT_SOURCE",
    "RUN_STATES",
    "Media",
    "MediaRecord",
    "Mode",
    "Resume",
    "RunState",
    "Scalar",
    "SeriesBatch",
]

#: One alias covers metric values: what ``log()`` accepts as a number.
Scalar = int | float | bool

RunState = Literal["running", "finished", "failed", "crashed", "pruned"]
RUN_STATES: tuple[str, ...] = ("running", "finished", "failed", "crashed", "pruned")

Mode = Literal["offline", "online", "disabled"]
Resume = Literal["never", "allow", "must"]

#: Training writes under ``sim``; the robot's node writes under ``real``.
DEFAULT_SOURCE = "sim"


@dataclass(frozen=True, slots=True)
class SeriesBatch:
    """Points of one (source, key) gathered by the writer between two flushes.

    ``steps`` and ``t_ns`` are little-endian int64 bytes, ``values`` little-endian float64
    bytes, all of length ``count``; ``vmin``/``vmax`` ignore NaN (None when all are NaN).
    """

    source: str
    key: str
    count: int
    steps: bytes
    t_ns: bytes
    values: bytes
    step_min: int
    step_max: int
    t_min_ns: int
    t_max_ns: int
    vmin: float | None
    vmax: float | None


@dataclass(frozen=True, slots=True)
class MediaRecord:
    """A media file in the run's folder, as the store records it."""

    source: str
    key: str
    step: int
    t_ns: int
    kind: str  # "video" | "image" | "histogram" | "table" | ...
    path: str  # relative to the run's folder, always "/"-separated
    caption: str | None = None
    meta: dict[str, object] = field(default_factory=dict)


@runtime_checkable
class Media(Protocol):
    """What ``log()`` accepts besides numbers: an object that writes itself into the run's folder.

    :class:`rltrack.Video`, :class:`rltrack.Image` and :class:`rltrack.Histogram` are media.
    ``write`` runs on a background thread, never the caller's.
    """

    kind: str
    caption: str | None

    def write(self, dest_dir: Path, stem: str) -> tuple[str, dict[str, object]]:
        """Write the file(s) into ``dest_dir``; return the file name and its metadata."""
        ...
