"""The one path from serialized messages to a run: decode, flatten, episodes, video, ``run.log``.

Both the bag importer and the live node feed :meth:`Mirror.handle` with
``(topic, type, CDR bytes, receive time)``, so a bag and the same topics mirrored live give the
same run. Writing goes only through the run API.

Steps (the x-axis): telemetry is logged at the robot's env step count (rewards received so
far) when episodes are configured, else at the count of values logged so far; the time axis is
``t_ns`` (header stamp, else receive/log time). Episode values go at the deployed policy's
training step when one is known (``step_offset``), so real returns line up with that checkpoint in
the sim curve; otherwise at the robot's env step count at the episode end.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from rltrack.errors import RltrackError, RltrackWarning

from .decode import IMAGE_TYPES, Decoder, MessageFlattener
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
        self.closed = False

    def wants(self, topic: str) -> bool:
        """Return whether ``topic`` is mirrored under this config."""
        return self.config.topic(topic) is not None

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
                values, stamp = state.flatten(self.decoder.deserialize(raw, msgtype))
            except DecodeError:
                pass  # the slow path below counts and warns
            else:
                state.received += 1
                if values:
                    t_ns = stamp or recv_t_ns
                    self.run.log(values, step=self.episodes.env_steps if self.episodes else self._values_logged,
                                 t_ns=t_ns)
                    self._values_logged += 1
                    state.logged += 1
                return
        if state is None or state.broken:
            self._ignored[topic] += 1
            return
        state.received += 1
        try:
            msg = self.decoder.deserialize(raw, msgtype)
            stamp = None
            if state.flatten is not None:
                values, stamp = state.flatten(msg)
            else:
                values = {}
            t_ns = stamp or recv_t_ns
            if topic in self._episode_topics:
                assert self.episodes is not None  # _episode_topics is empty otherwise
                result = self.episodes.on_message(topic, msg, t_ns)
                if result is not None:
                    self._log_episode(result)
            if state.sampler is not None:
                sampled = state.sampler.add(msg, msgtype, t_ns)
                if sampled is not None:
                    self._record_frame(state, sampled)
        except DecodeError as err:
            state.errors += 1
            self._warn(topic, "decode", f"cannot mirror a message on {topic!r}: {err}; other topics go on")
            return
        if not values:
            return
        period = state.config.min_period_ns
        if period:
            if state.last_t_ns is not None and t_ns - state.last_t_ns < period:
                state.decimated += 1
                return
            state.last_t_ns = t_ns
        self.run.log(values, step=self.episodes.env_steps if self.episodes else self._values_logged, t_ns=t_ns)
        self._values_logged += 1
        state.logged += 1

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
        if cfg is not None:
            if cfg.type is not None and cfg.type != msgtype:
                self._warn(
                    topic, "type", f"topic {topic!r} carries {msgtype!r}, not the configured {cfg.type!r}; skipped"
                )
            elif not self.decoder.knows(msgtype):
                self._warn(
                    topic, "type",
                    f"topic {topic!r}: message type {msgtype!r} is unknown to the decoder; pass a folder of .msg "
                    "files (msg_dirs) that defines it; other topics go on",
                )  # fmt: skip
                state = _TopicState(cfg, msgtype, None, None, broken=True)
            else:
                flat = self.decoder.flattener(topic, msgtype, cfg.prefix, cfg.filter)
                sampler = FrameSampler(self.config.images) if msgtype in IMAGE_TYPES else None
                state = _TopicState(cfg, msgtype, flat, sampler)
                state.plain = sampler is None and not cfg.min_period_ns and topic not in self._episode_topics
        self._topics[key] = state
        return state

    def _step(self) -> int:
        return self.episodes.env_steps if self.episodes is not None else self._values_logged

    def _episode_step(self, result: EpisodeResult) -> int:
        return self.step_offset if self.step_offset is not None else result.env_steps

    def _log_episode(self, result: EpisodeResult) -> None:
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
        self.run.summary[f"{COUNTER_PREFIX}/warnings/{topic.strip('/')}/{cause}"] = 1
