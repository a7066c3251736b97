"""One clock per run: put header stamps and receive times on one time axis.

A ROS stream carries two clocks. Messages with a header carry ``header.stamp`` (the robot's
clock, or simulation time under ``use_sim_time``: 1970 plus a few minutes in a fresh simulation);
every message also has a receive time (the live node's wall clock, or a bag's log time). Logging
each message on whichever it has puts ``/tf`` and reward topics decades away from odometry.

:class:`RunClock` picks one:

- ``header``: values go at their header stamp; a message without one goes at its receive time
  plus the offset (stamp - receive time) measured on the messages that have both. The offset is
  re-measured on every stamped message, so a simulation running slower than real time stays
  aligned; a ``/clock`` topic (``rosgraph_msgs/Clock``), when present, is the only measurement
  used, because it is simulation time itself rather than a stamp that aged in a publisher's queue.
- ``receive``: every value at its receive time; stamps are ignored for ``t_ns``.
- ``auto`` (the default): ``header`` as soon as a stamp (or ``/clock``) is seen; ``receive`` when no
  stamp comes within :data:`PENDING_NS` (5 s of receive time) or :data:`PENDING_MAX` messages of
  the first unstamped one, or the stream ends without one.

A topic whose stamps are more than :data:`FOREIGN_NS` (an hour) away from the run's clock is on
another clock (a node without ``use_sim_time`` in a simulation): the mirror places its values like
unstamped ones, counts them and warns once.

Until the offset is known, unstamped values cannot be placed: :class:`~rltrack_ros.mirror.Mirror`
holds them (bounded) and logs them when the first stamp arrives. The choice and the offset are
recorded in the run summary (:data:`SUMMARY_CLOCK` and friends).
"""

from __future__ import annotations

from .errors import TopicConfigError

__all__ = ["CLOCKS", "CLOCK_TOPIC", "CLOCK_TYPE", "FOREIGN_NS", "PENDING_MAX", "PENDING_NS", "RunClock", "check_clock"]

CLOCKS = ("auto", "header", "receive")
CLOCK_TOPIC = "/clock"
CLOCK_TYPE = "rosgraph_msgs/msg/Clock"
#: Unstamped messages held while no offset is known, at most this many and this long (receive
#: time); past either, ``auto`` settles on ``receive``. A live dashboard then waits 5 s at most.
PENDING_MAX = 100_000
PENDING_NS = 5_000_000_000
#: A topic whose stamps are further than this from the run's clock is on another clock (a node
#: without use_sim_time in a simulation): its values are placed like unstamped ones.
FOREIGN_NS = 3600 * 1_000_000_000

SUMMARY_CLOCK = "ros/clock"
SUMMARY_OFFSET_NS = "ros/clock_offset_ns"
SUMMARY_OFFSET_FROM = "ros/clock_offset_from"


def check_clock(mode: object, where: str = "clock") -> str:
    """Return ``mode`` when it names a clock choice.

    Raises:
        TopicConfigError: ``mode`` is not one of :data:`CLOCKS`.
    """
    if mode not in CLOCKS:
        raise TopicConfigError(f"{where}: clock must be one of {list(CLOCKS)}, got {mode!r}")
    return str(mode)


class RunClock:
    """Map (header stamp or None, receive time) pairs onto the run's one clock."""

    def __init__(self, mode: str = "auto") -> None:
        self.mode = check_clock(mode)
        #: The clock values are on: "header" or "receive"; None while ``auto``/``header`` wait for a stamp.
        self.base: str | None = "receive" if mode == "receive" else None
        #: Header clock minus receive clock, last measured (None: not measured yet).
        self.offset_ns: int | None = None
        #: What measured the offset: "/clock" or "header stamps".
        self.offset_from: str | None = None

    @property
    def resolved(self) -> bool:
        """Whether unstamped values can be placed now."""
        return self.base == "receive" or self.offset_ns is not None

    def observe(self, stamp_ns: int, recv_ns: int) -> bool:
        """Measure the offset on a message with a header stamp; return True if that settles the clock."""
        if self.base == "receive" or self.offset_from == CLOCK_TOPIC:
            return False
        settles = self.offset_ns is None
        self.offset_ns = stamp_ns - recv_ns
        self.offset_from = "header stamps"
        self.base = "header"
        return settles

    def observe_clock(self, sim_ns: int, recv_ns: int) -> bool:
        """Measure the offset on a ``/clock`` message; return True if that settles the clock."""
        if self.base == "receive":
            return False
        settles = self.offset_ns is None
        self.offset_ns = sim_ns - recv_ns
        self.offset_from = CLOCK_TOPIC
        self.base = "header"
        return settles

    def t_ns(self, stamp_ns: int | None, recv_ns: int) -> int | None:
        """Return the value's time on the run's clock; None while it cannot be placed yet."""
        if self.base == "receive":
            return recv_ns
        if stamp_ns is not None:
            return stamp_ns
        if self.offset_ns is None:
            return None
        return recv_ns + self.offset_ns

    def settle_without_stamps(self) -> bool:
        """No stamp came: ``auto`` settles on the receive clock (True); ``header`` cannot (False)."""
        if self.mode == "auto" and self.offset_ns is None:
            self.base = "receive"
            return True
        return self.resolved

    def summary(self) -> dict[str, str | int]:
        """The run summary entries that record the choice."""
        rows: dict[str, str | int] = {SUMMARY_CLOCK: self.base or "receive"}
        if self.base == "header" and self.offset_ns is not None and self.offset_from is not None:
            rows[SUMMARY_OFFSET_NS] = self.offset_ns
            rows[SUMMARY_OFFSET_FROM] = self.offset_from
        return rows
