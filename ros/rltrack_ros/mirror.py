"""The one path from serialized messages to a run: decode, flatten, episodes, video, ``run.log``.

Both the bag importer and the live node feed :meth:`Mirror.handle` with
``(topic, type, CDR bytes, receive time)``, so a bag and the same topics mirrored live give the
same run. Writing goes only through the run API.

Steps (the x-axis): telemetry is logged at the robot's env step count (rewards received so
far) when episodes are configured, else at the count of values logged so far. The time axis is
``t_ns`` on the run's one clock (:mod:`.clock`, ``config.clock``): header stamps, with unstamped
topics mapped onto them by the measured offset (or ``/clock``), or receive times throughout; the
choice is recorded in the run summary (``ros/clock``). Unstamped values that arrive before any
offset is known are held (bounded) and logged once it is. Episode values go at the deployed
policy's training step when one is known (``step_offset``), so real returns line up with that
checkpoint in the sim curve; otherwise at the robot's env step count at the episode end.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from rltrack.errors import RltrackError, RltrackWarning

from .clock import CLOCK_TOPIC, CLOCK_TYPE, FOREIGN_NS, PENDING_MAX, PENDING_NS, RunClock
from .decode import IMAGE_TYPES, Decoder, MessageFlattener, Number
from .episodes import EpisodeResult, EpisodeTracker
from .errors import DecodeError
from .images import FrameSampler, SampledFrame
from .topics import MirrorConfig, TopicConfig

__all__ = ["Mirror", "RunLike"]

_UNSEEN: Any = object()

#: Prefix of the mirror's counters in the run summary (rltrack's reserved namespace).
COUNTER_PREFIX = "_rltrack/ros"


class RunLike(Protocol):
    """What the mirror needs from :class:`rltrack.Run`."""

    @property
    def summary(self) -> Any: ...  # noqa: D102

    def log(  # noqa: D102
        self, data: Mapping[str, Any], step: int | None = None, commit: bool = True, *, t_ns: int | None = None
    ) -> None: ...


@dataclass
class _TopicState:
    config: TopicConfig
    msgtype: str
    flatten: MessageFlattener | None
    sampler: FrameSampler | None
    stream: Any = None  # the rltrack.media.VideoStream of the clip being recorded
    clip_t_ns: int = 0
    last_t_ns: int | None = None
    broken: bool = False
    plain: bool = False  # values only: no episode role, camera or decimation
    measure: bool = True  # its stamps measure the clock offset (not /tf_static: stamped long before)
    foreign: int = 0  # stamps on another clock than the run's, placed by receive time instead
    # Counted here, not in Counters: this is the per-message hot path.
    received: int = 0
    logged: int = 0
    decimated: int = 0
    errors: int = 0


@dataclass
class Counts:
    """What the mirror did, per topic (exact; also copied into the run summary)."""

    received: Counter[str] = field(default_factory=Counter)
    logged: Counter[str] = field(default_factory=Counter)
    decimated: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    ignored: Counter[str] = field(default_factory=Counter)
    videos: int = 0


class Mirror:
    """Turn one stream of serialized messages into values, episodes and videos in a run."""

    def __init__(
        self,
        run: RunLike,
        config: MirrorConfig,
        decoder: Decoder,
        *,
        step_offset: int | None = None,
    ) -> None:
        self.run = run
        self.config = config
        self.decoder = decoder
        self.step_offset = step_offset
        self.episodes = EpisodeTracker(config.episodes) if config.episodes else None
        self._ignored: Counter[str] = Counter()
        self._videos = 0
        self._topics: dict[tuple[str, str], _TopicState | None] = {}
        self._episode_topics = frozenset(self.episodes.topics) if self.episodes else frozenset()
        self._values_logged = 0
        self._warned: set[tuple[str, str]] = set()
        self.clock = RunClock(config.clock)
        # Values waiting for the clock offset: (values, step, receive time).
        self._pending: list[tuple[dict[str, Any], int, int]] = []
        self._unmapped = 0  # values logged at receive time because no offset was ever measured
        self._inexact: Counter[str] = Counter()
        self.closed = False

    def wants(self, topic: str) -> bool:
        """Return whether ``topic`` is mirrored (``/clock`` too, unless the clock is ``receive``)."""
        return self.config.reads(topic)

    def handle(self, topic: str, msgtype: str, raw: bytes | memoryview, recv_t_ns: int) -> None:
        """Decode one message and log what it carries. Never raises for bad messages: warns once.

        Args:
            topic: The fully qualified topic name (``/odom``).
            msgtype: ``pkg/msg/Type``.
            raw: The CDR-serialized message.
            recv_t_ns: Receive time (live) or log time (bag), used when it has no header stamp.
        """
        state = self._topics.get((topic, msgtype), _UNSEEN)
        if state is _UNSEEN:
            state = self._state(topic, msgtype)
        elif state is not None and state.plain:
            # Fast path (most telemetry): no episodes, camera or decimation on this topic.
            try:
                groups = state.flatten.groups(self.decoder.deserialize(raw, state.msgtype))
            except DecodeError:
                pass  # the slow path below counts and warns
            else:
                state.received += 1
                if len(groups) != 1:
                    self._log_groups(state, groups, recv_t_ns)
                    return
                # One group (all but /tf-like messages): _log_groups inlined, the import's hot path.
                values, stamp = groups[0]
                if stamp is not None:
                    stamp = self._place(state, stamp, recv_t_ns)
                if values:
                    episodes = self.episodes
                    step = episodes.env_steps if episodes else self._values_logged
                    t_ns = self.clock.t_ns(stamp, recv_t_ns)
                    if t_ns is None:
                        self._hold(values, step, recv_t_ns)
                    else:
                        self.run.log(values, step=step, t_ns=t_ns)
                    self._values_logged += 1
                    state.logged += 1
                return
        if state is None or state.broken:
            self._ignored[topic] += 1
            return
        state.received += 1
        try:
            msg = self.decoder.deserialize(raw, state.msgtype)
            if topic == CLOCK_TOPIC and state.msgtype == CLOCK_TYPE:
                self._on_clock(msg, recv_t_ns)
            groups = state.flatten.groups(msg) if state.flatten is not None else [({}, None)]
            stamp = groups[0][1]
            if stamp is not None:
                stamp = self._place(state, stamp, recv_t_ns)
                groups[0] = (groups[0][0], stamp)
            t_ns = self.clock.t_ns(stamp, recv_t_ns)
            t_or_recv = recv_t_ns if t_ns is None else t_ns
            if topic in self._episode_topics:
                assert self.episodes is not None  # _episode_topics is empty otherwise
                result = self.episodes.on_message(topic, msg, t_or_recv)
                if result is not None:
                    self._log_episode(result, pending=t_ns is None)
            if state.sampler is not None:
                sampled = state.sampler.add(msg, state.msgtype, t_or_recv)
                if sampled is not None:
                    self._record_frame(state, sampled)
        except DecodeError as err:
            state.errors += 1
            self._warn(topic, "decode", f"cannot mirror a message on {topic!r}: {err}; other topics go on")
            return
        if not any(values for values, _ in groups):
            return
        period = state.config.min_period_ns
        if period:
            # Decimation compares a topic with itself: its own stamps, else its receive times.
            own = stamp if stamp is not None else recv_t_ns
            if state.last_t_ns is not None and own - state.last_t_ns < period:
                state.decimated += 1
                return
            state.last_t_ns = own
        self._log_groups(state, groups, recv_t_ns, observed=True)

    def _log_groups(
        self,
        state: _TopicState,
        groups: list[tuple[dict[str, Number], int | None]],
        recv_t_ns: int,
        *,
        observed: bool = False,
    ) -> None:
        """Log each stamped group of one message at its time on the run's clock."""
        clock = self.clock
        step = self.episodes.env_steps if self.episodes else self._values_logged
        logged = False
        for i, (values, given) in enumerate(groups):
            stamp = given
            if stamp is not None and not (observed and i == 0):
                stamp = self._place(state, stamp, recv_t_ns)
            if not values:
                continue
            t_ns = clock.t_ns(stamp, recv_t_ns)
            if t_ns is None:
                self._hold(values, step, recv_t_ns)
            else:
                self.run.log(values, step=step, t_ns=t_ns)
            logged = True
        if logged:
            self._values_logged += 1
            state.logged += 1

    def _place(self, state: _TopicState, stamp: int, recv_t_ns: int) -> int | None:
        """Check a header stamp against the run's clock and measure the offset on it.

        Returns the stamp, or None when it is on another clock than the other topics' stamps (a
        node without ``use_sim_time`` in a simulation: wall-clock stamps among sim-time ones);
        such values are placed like unstamped ones, counted and warned once per topic.
        """
        clock = self.clock
        offset = clock.offset_ns
        if offset is not None and clock.base == "header" and abs(stamp - recv_t_ns - offset) > FOREIGN_NS:
            state.foreign += 1
            if state.foreign == 1:
                topic = state.config.topic
                self._warn(
                    topic, "foreign_clock",
                    f"topic {topic!r}: header stamps {(stamp - recv_t_ns - offset) / 1e9:+.0f} s away from the run's "
                    f"clock (measured on {clock.offset_from}); a node on another clock (use_sim_time unset?). Its "
                    "values are placed by receive time plus the run's offset, like a topic without a header "
                    f"(counted under '{COUNTER_PREFIX}/foreign_clock/{topic.strip('/')}').",
                )  # fmt: skip
            return None
        if state.measure and clock.observe(stamp, recv_t_ns):
            self._flush_pending()
        return stamp

    def _on_clock(self, msg: Any, recv_t_ns: int) -> None:
        sim = msg.clock.sec * 1_000_000_000 + msg.clock.nanosec
        if sim and self.clock.observe_clock(sim, recv_t_ns):
            self._flush_pending()

    def _hold(self, values: dict[str, Any], step: int, recv_t_ns: int) -> None:
        """Keep values until the clock offset is known; past PENDING_MAX/PENDING_NS, settle without it."""
        self._pending.append((values, step, recv_t_ns))
        if len(self._pending) >= PENDING_MAX or recv_t_ns - self._pending[0][2] >= PENDING_NS:
            self._settle()

    def _flush_pending(self) -> None:
        """Log the held values on the clock now known; every one is tried, the first failure re-raised."""
        pending, self._pending = self._pending, []
        clock = self.clock
        first: Exception | None = None
        for values, step, recv in pending:
            t_ns = clock.t_ns(None, recv)
            try:
                self.run.log(values, step=step, t_ns=recv if t_ns is None else t_ns)
            except Exception as err:  # one refused entry must not drop the others held with it
                first = first or err
        self._record_clock()
        if first is not None:
            raise first

    def flush_held(self) -> None:
        """Log the values held for the clock offset now, settling the clock without it if needed."""
        self._settle()

    def _settle(self) -> None:
        """No stamp to measure the offset on: ``auto`` goes to receive time; ``header`` warns."""
        if not self.clock.settle_without_stamps() and self._pending:
            self._unmapped += len(self._pending)
            self._warn(
                "", "clock",
                f"clock 'header': {len(self._pending)} values of topics without a header stamp arrived before any "
                "stamped message or /clock, so there is no offset to map them by; they are stored at receive time "
                f"(counted under '{COUNTER_PREFIX}/clock_unmapped'). Use clock 'auto' or 'receive' for recordings "
                "without header stamps.",
            )  # fmt: skip
        self._flush_pending()

    def _record_clock(self) -> None:
        summary = self.run.summary
        for key, value in self.clock.summary().items():
            summary[key] = value

    def _on_inexact(self, key: str, value: int) -> None:
        """An int64/uint64 value float64 cannot hold: stored rounded, counted, warned once per key."""
        self._inexact[key] += 1
        if self._inexact[key] == 1:
            self._warn(
                key, "inexact",
                f"{key!r}: integer {value} is beyond 2**53 and is stored rounded to {float(value)!r} (values are "
                f"float64); counted under '{COUNTER_PREFIX}/inexact/{key}'. Log it as two 32-bit halves or as text "
                "if every digit matters.",
            )  # fmt: skip

    @property
    def counts(self) -> Counts:
        """Per-topic counts so far."""
        counts = Counts(ignored=Counter(self._ignored), videos=self._videos)
        for (topic, _), state in self._topics.items():
            if state is None:
                continue
            for name in ("received", "logged", "decimated", "errors"):
                n = getattr(state, name)
                if n:
                    getattr(counts, name)[topic] += n
        return counts

    def close(self) -> None:
        """Log the clips still being collected and write the counters into the run summary."""
        if self.closed:
            return
        self.closed = True
        self._settle()
        for state in self._topics.values():
            if state is not None and state.stream is not None:
                self._end_clip(state, self._step())
        self.write_counters()

    def write_counters(self, extra: Mapping[str, int] | None = None) -> None:
        """Store received/logged/decimated/error counts per topic in the run summary."""
        summary = self.run.summary
        counts = self.counts
        rows: dict[str, int] = {}
        for name in ("received", "logged", "decimated", "errors"):
            counter: Counter[str] = getattr(counts, name)
            if counter:
                rows[f"{COUNTER_PREFIX}/{name}"] = sum(counter.values())
            for topic, n in counter.items():
                rows[f"{COUNTER_PREFIX}/{name}/{topic.strip('/')}"] = n
        if self.episodes is not None:
            rows[f"{COUNTER_PREFIX}/episodes"] = self.episodes.episodes
        for key, n in self._inexact.items():
            rows[f"{COUNTER_PREFIX}/inexact/{key}"] = n
        for (topic, _), state in self._topics.items():
            if state is not None and state.foreign:
                rows[f"{COUNTER_PREFIX}/foreign_clock/{topic.strip('/')}"] = state.foreign
        if self._unmapped:
            rows[f"{COUNTER_PREFIX}/clock_unmapped"] = self._unmapped
        rows.update(extra or {})
        for key, value in rows.items():
            summary[key] = value

    # -- internals ------------------------------------------------------------------------------

    def _state(self, topic: str, msgtype: str) -> _TopicState | None:
        key = (topic, msgtype)
        if key in self._topics:
            return self._topics[key]
        cfg = self.config.topic(topic)
        state = None
        if cfg is None and topic == CLOCK_TOPIC and self.wants(topic):
            # Read for the clock only: counted as received, no values (name /clock in topics to log it).
            state = _TopicState(TopicConfig(topic=topic), self.decoder.resolve(msgtype), None, None)
        elif cfg is not None:
            if cfg.type is not None and cfg.type != self.decoder.resolve(msgtype):
                self._warn(
                    topic, "type", f"topic {topic!r} carries {msgtype!r}, not the configured {cfg.type!r}; skipped"
                )
            elif not self.decoder.knows(msgtype):
                self._warn(
                    topic, "type",
                    f"topic {topic!r}: message type {msgtype!r} is unknown to the decoder; pass a folder of .msg/.srv "
                    "files (--msg-dir, msg_dirs) that defines it; other topics go on",
                )  # fmt: skip
                state = _TopicState(cfg, msgtype, None, None, broken=True)
            else:
                resolved = self.decoder.resolve(msgtype)  # the legacy 'pkg/Name' spelling decodes as pkg/msg/Name
                try:
                    flat = self.decoder.flattener(
                        topic, resolved, cfg.prefix, cfg.filter, identity=self.config.identity,
                        on_inexact=self._on_inexact,
                    )  # fmt: skip
                except DecodeError as err:  # a bad identity rule, a type that refers to an unknown one
                    self._warn(topic, "type", f"topic {topic!r} is not mirrored: {err}; other topics go on")
                    state = _TopicState(cfg, msgtype, None, None, broken=True)
                    self._topics[key] = state
                    return state
                sampler = FrameSampler(self.config.images) if resolved in IMAGE_TYPES else None
                state = _TopicState(cfg, resolved, flat, sampler)
                state.plain = (sampler is None and not cfg.min_period_ns and topic not in self._episode_topics
                               and topic != CLOCK_TOPIC)  # fmt: skip
                state.measure = not topic.endswith("tf_static")
        self._topics[key] = state
        return state

    def _step(self) -> int:
        return self.episodes.env_steps if self.episodes is not None else self._values_logged

    def _episode_step(self, result: EpisodeResult) -> int:
        return self.step_offset if self.step_offset is not None else result.env_steps

    def _log_episode(self, result: EpisodeResult, *, pending: bool = False) -> None:
        if pending:  # the episode ended on an unstamped message before the clock offset was known
            self._hold(result.values(), self._episode_step(result), result.t_ns)
        else:
            self.run.log(result.values(), step=self._episode_step(result), t_ns=result.t_ns)
        # An episode also ends the cameras' clips, so each video shows one episode.
        for state in self._topics.values():
            if state is not None and state.sampler is not None:
                state.sampler.cut()
                if state.stream is not None:
                    self._end_clip(state, self._episode_step(result))

    def _record_frame(self, state: _TopicState, sampled: SampledFrame) -> None:
        from rltrack.media import VideoStream  # PyAV (the video extra) is needed only for cameras

        if sampled.starts_clip and state.stream is not None:
            self._end_clip(state, self._step())
        try:
            if state.stream is None:
                state.stream = VideoStream(fps=self.config.images.fps)
                state.clip_t_ns = sampled.t_ns
            state.stream.add_frame(sampled.frame)
        except RltrackError as err:
            # No PyAV on the robot (or bad frames): the camera is skipped, telemetry goes on.
            state.sampler = state.stream = None
            state.errors += 1
            self._warn(state.config.topic, "video", f"camera {state.config.topic!r} is not recorded: {err}")

    def _end_clip(self, state: _TopicState, step: int) -> None:
        key = f"{state.config.prefix}/video" if state.config.prefix else "video"
        stream, state.stream = state.stream, None
        self.run.log({key: stream}, step=step, t_ns=state.clip_t_ns)  # logging closes the stream
        self._videos += 1

    def _warn(self, topic: str, cause: str, message: str) -> None:
        if (topic, cause) in self._warned:
            return
        self._warned.add((topic, cause))
        warnings.warn(message, RltrackWarning, stacklevel=3)
        where = "/".join(p for p in (topic.strip("/"), cause) if p)
        self.run.summary[f"{COUNTER_PREFIX}/warnings/{where}"] = 1
