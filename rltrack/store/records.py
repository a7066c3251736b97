"""Records the run API and the store exchange when runs are created and attached.

Kept apart from :mod:`rltrack.store.writer` so the back-end protocol (:mod:`rltrack.store.base`)
can name them without importing the writer that implements it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Attached", "NewRun", "Owner", "WriterInfo"]


@dataclass(frozen=True, slots=True)
class NewRun:
    """What the store needs to create a run."""

    id: str
    project: str
    name: str
    group: str | None
    job_type: str | None
    notes: str | None
    tags: tuple[str, ...]
    config: Mapping[str, Any]
    source: str


@dataclass(frozen=True, slots=True)
class WriterInfo:
    """The process writing into a run: who it is and when it started."""

    host: str
    pid: int
    pid_started_ns: int
    now_ns: int


@dataclass(frozen=True, slots=True)
class Owner:
    """The process that owns a run, as stored."""

    state: str
    host: str
    pid: int
    pid_started_ns: int
    heartbeat_ns: int
    source: str


@dataclass(frozen=True, slots=True)
class Attached:
    """What a writer learns when it attaches to an existing run."""

    project: str
    name: str
    group: str | None
    config: dict[str, Any]
    summary: dict[str, Any]
    owner: bool
    next_step: int
