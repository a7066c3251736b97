"""One side of a comparison (a run's source) loaded into arrays.

Key conventions read here (written by the SB3 callback under ``sim`` and by the ROS node under
``real``):

- ``episode/return``, ``episode/length``, ``episode/success`` (0/1): one point per finished
  episode, logged at the episode's last step (see :mod:`rltrack.sim2real.align` for how
  episodes are cut). ``episode/length`` (else ``episode/return``) marks where episodes end: by
  step when the summaries' steps increase, else by their ``t_ns`` (see :meth:`Side.boundaries`).
- ``episode/seed`` or ``episode/tag``: the reset seed or a numeric initial-state tag, logged with
  the episode summary; episodes with equal values on both sides are *paired*.
- every other key that does not start with ``_`` or ``system/`` is a *signal* (one sample per
  step or per message): joint velocities, efforts, odometry twist, ``obs/<i>``, ``action/<i>``, ...
  except the training loggers' namespaces (:data:`AGGREGATE_PREFIXES`: ``eval/``, ``rollout/``,
  ``train/``, ``time/``), which hold one aggregate per rollout or evaluation, not telemetry.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np
import numpy.typing as npt
from rltrack.sim2real.align import Series, episode_bounds
from rltrack.sim2real.errors import GapError

if TYPE_CHECKING:
    from rltrack.api import Api

__all__ = [
    "AGGREGATE_PREFIXES",
    "EPISODE_LENGTH",
    "EPISODE_RETURN",
    "EPISODE_SUCCESS",
    "PAIR_KEYS",
    "Boundaries",
    "RunLike",
    "Side",
    "is_signal_key",
    "load_side",
    "resolve_run",
]

EPISODE_RETURN = "episode/return"
EPISODE_LENGTH = "episode/length"
EPISODE_SUCCESS = "episode/success"
#: Keys whose equal values pair a sim episode with a real one, in order of preference.
PAIR_KEYS = ("episode/seed", "episode/tag")
#: SB3's logger namespaces: one value per rollout, update or evaluation (``eval/mean_reward``), so
#: neither a signal's distribution nor a control loop to time.
AGGREGATE_PREFIXES = ("eval/", "rollout/", "train/", "time/")
_NOT_SIGNAL_PREFIXES = ("episode/", "_", "system/", *AGGREGATE_PREFIXES)


class RunLike(Protocol):
    """What :func:`load_side` needs from a run: the read view ``rltrack.Api().run(id)`` returns."""

    @property
    def id(self) -> str:
        """The run id."""

    @property
    def sources(self) -> Collection[str]:
        """Sources that hold data in this run (``sim``, ``real``, ...)."""

    def keys(self, source: str | None = None) -> list[str]:
        """Keys logged under ``source``."""

    def series(
        self, key: str, *, source: str | None = None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """``(step, t_ns, value)`` of one key under ``source``."""


def is_signal_key(key: str) -> bool:
    """Whether ``key`` is per-step telemetry (not an episode summary, logger aggregate, internal or system metric)."""
    return not key.startswith(_NOT_SIGNAL_PREFIXES)


@dataclass(frozen=True, slots=True)
class Side:
    """The series of one source of one run, split into episode summaries and signals."""

    run: str
    source: str
    episodes: Mapping[str, Series] = field(default_factory=dict)
    signals: Mapping[str, Series] = field(default_factory=dict)

    @classmethod
    def of(cls, run: str, source: str, series: Mapping[str, Series], *, signals: Collection[str] = ()) -> Side:
        """Build a side from ``{key: Series}``, sorting keys into episode summaries and signals.

        Keys named in ``signals`` are signals whatever their name (a caller asked for them).
        """
        episodes = {k: s for k, s in series.items() if k.startswith("episode/")}
        asked = set(signals)
        signals_ = {k: s for k, s in series.items() if is_signal_key(k) or (k in asked and k not in episodes)}
        return cls(run=run, source=source, episodes=episodes, signals=signals_)

    def episode_values(self, key: str) -> npt.NDArray[np.float64]:
        """Values of an episode summary key (empty when it was not logged)."""
        series = self.episodes.get(key)
        return np.empty(0) if series is None else series.value

    def end_steps(self) -> npt.NDArray[np.int64]:
        """Steps at which episodes ended (from ``episode/length``, else ``episode/return``)."""
        series = self._end_series()
        return np.empty(0, dtype=np.int64) if series is None else series.step

    def _end_series(self) -> Series | None:
        for key in (EPISODE_LENGTH, EPISODE_RETURN):
            series = self.episodes.get(key)
            if series is not None and len(series):
                return series
        return None

    def boundaries(self) -> Boundaries:
        """Where this side's episodes end, on the step axis or, failing that, on the time axis.

        Episodes are cut by step when the summaries' steps increase strictly. A robot that logs
        every summary at one step (the training step of the deployed checkpoint) is cut by the
        summaries' ``t_ns`` instead.

        Raises:
            GapError: No episode summaries, or neither their steps nor their times increase.
        """
        series = self._end_series()
        if series is None:
            raise GapError(
                f"no episodes under source {self.source!r} of run {self.run!r}: log {EPISODE_LENGTH!r} "
                "when each episode ends"
            )
        axes: tuple[tuple[Literal["step", "t_ns"], npt.NDArray[np.int64]], ...] = (
            ("step", series.step),
            ("t_ns", series.t_ns),
        )
        for axis, ends in axes:
            if ends.size < 2 or bool(np.all(np.diff(ends) > 0)):
                return Boundaries(axis, np.asarray(ends, dtype=np.int64))
        raise GapError(
            f"episode summaries under source {self.source!r} of run {self.run!r} increase neither in step nor "
            "in t_ns; log each episode's summary once, when it ends"
        )


@dataclass(frozen=True, slots=True)
class Boundaries:
    """Episode ends on one axis: episode ``k`` holds the samples in ``(ends[k-1], ends[k]]``."""

    axis: Literal["step", "t_ns"]
    ends: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.ends.size)

    def coordinate(self, series: Series) -> npt.NDArray[np.int64]:
        """The series' values on this axis (steps or times)."""
        return series.step if self.axis == "step" else series.t_ns

    def bounds(self, series: Series) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Each episode's ``(start, stop)`` indices into ``series`` (see :func:`episode_bounds`).

        Raises:
            GapError: Cutting by time, and the series' times do not grow with its steps.
        """
        coord = self.coordinate(series)
        if self.axis == "t_ns" and coord.size > 1 and bool(np.any(np.diff(coord) < 0)):
            raise GapError(
                "cannot cut a series into episodes by time: its t_ns do not grow with its steps; "
                "log episode summaries at increasing steps"
            )
        return episode_bounds(coord, self.ends)


def load_side(view: RunLike, source: str, *, signal_keys: Iterable[str] | None = None) -> Side:
    """Read one source of a run: every ``episode/*`` key and the requested signal keys.

    Args:
        view: A run read view (``rltrack.Api(dir).run(id)``).
        source: The source to read (``"sim"``, ``"real"``, ...).
        signal_keys: Signal keys to read; ``None`` reads every signal key of the source.

    Returns:
        The loaded side; keys that are not logged are simply absent.
    """
    present = [str(k) for k in view.keys(source)]
    asked = set() if signal_keys is None else set(signal_keys)
    wanted = {k for k in present if k.startswith("episode/")}
    if signal_keys is None:
        wanted |= {k for k in present if is_signal_key(k)}
    else:
        wanted |= asked & set(present)
    series = {}
    for key in sorted(wanted):
        step, t_ns, value = view.series(key, source=source)
        series[key] = Series.of(step, t_ns, value)
    return Side.of(str(view.id), source, series, signals=asked)


def resolve_run(run: str | RunLike, *, api: Api | None = None, dir: str | Path | None = None) -> RunLike:
    """Return the read view of ``run``: a view is returned as is, an id is looked up.

    Args:
        run: Run id or read view.
        api: Read API to look ids up in; default ``rltrack.Api(dir=dir)``.
        dir: Store root used when ``api`` is not given.

    Raises:
        RunNotFoundError: No run has this id.
    """
    if not isinstance(run, str):
        return run
    if api is None:
        from rltrack.api import Api

        api = Api(dir=dir)
    view: RunLike = api.run(run)
    return view
