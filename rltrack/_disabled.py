"""The run that ``init(mode="disabled")`` returns: every call is a cheap no-op."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rltrack import _live
from rltrack._run import Run
from rltrack._state import Config, Summary, SummaryMode

__all__ = ["DisabledRun"]


class DisabledRun(Run):
    """A run that stores nothing, so scripts keep working with tracking switched off."""

    def __init__(self, *, project: str, name: str, id: str, config: Mapping[str, Any]) -> None:
        # Deliberately skips Run.__init__: no store, no threads.
        self.id = id
        self.name = name
        self.project = project
        self.group = None
        self.source = "sim"
        self.dir = Path.cwd()
        self.step = 0
        self._finished = False
        self._observers = []
        self._should_stop = False
        self._pending = []
        self._summary = Summary()
        self._config = Config(config, lambda _snapshot: None)
        self._sampler = None
        self._metrics = {}
        self.quiet = True
        self._at_finish = []
        self._alerts = []
        self._preempting = False

    def log(
        self, data: Mapping[str, Any], step: int | None = None, commit: bool = True, *, t_ns: int | None = None
    ) -> None:
        """Do nothing (tracking is disabled)."""

    def define_metric(
        self, key: str, *, summary: SummaryMode = "last", goal: str | None = None, step_metric: str | None = None
    ) -> None:
        """Do nothing (tracking is disabled)."""

    def save(self, glob_str: Any, base_path: Any = None, policy: str = "live") -> list[str]:
        """Do nothing (tracking is disabled)."""
        return []

    def alert(self, title: str, text: str, level: str = "INFO", wait_duration: float | None = None) -> None:
        """Do nothing (tracking is disabled)."""

    def mark_preempting(self) -> None:
        """Do nothing (tracking is disabled)."""

    def watch(self, models: Any, criterion: Any = None, log: str | None = "gradients", log_freq: int = 1000,
              idx: int | None = None, log_graph: bool = False) -> None:
        """Do nothing (tracking is disabled)."""

    def unwatch(self, models: Any = None) -> None:
        """Do nothing (tracking is disabled)."""

    def flush(self) -> None:
        """Wait for integrations' background work (whose results are dropped); nothing is stored."""
        while self._pending:
            self._pending.pop(0)()

    def finish(self, exit_code: int = 0, *, state: str | None = None, reason: str | None = None) -> None:
        """Mark the run finished (``rltrack.run`` is None again); nothing is stored."""
        self.flush()
        self._finished = True
        _live.forget(self)

    @property
    def url(self) -> str | None:
        """None: nothing is stored."""
        return None

    def __repr__(self) -> str:
        return f"<Run {self.id} (disabled)>"
