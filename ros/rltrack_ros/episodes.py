"""Episodes on the robot: a boundary topic plus a reward topic -> ``episode/*`` values.

The keys are the ones the SB3 callback writes under ``sim`` (``episode/return``,
``episode/length``, ``episode/success``), so the dashboard and sim2real overlay sim and real
without a mapping. Messages must be fed in arrival order (the bag importer feeds them in log-time
order); a reward that arrives after the boundary message counts towards the next episode.

Live, "arrival order" is the order the node's executor serves the messages: the node subscribes
the reward topic first and never batches episode topics, so a done published right after its
step's reward is counted right. A node stalled for longer than one step can still see the next
step's reward before the previous done; bags are replayed in log-time order.

Boundary kinds, chosen from the done topic's decoded field:

- ``std_msgs/Empty`` (no field): every message ends the episode;
- a bool field (``std_msgs/Bool``): a True value ends the episode;
- an integer field (a per-episode step counter): the counter going down ends the episode that
  was running (the new episode's first count is that message).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .decode import Number
from .errors import DecodeError
from .topics import EpisodeConfig

__all__ = ["EpisodeResult", "EpisodeTracker"]


@dataclass(frozen=True)
class EpisodeResult:
    """One finished episode."""

    index: int
    ret: float
    length: int
    success: bool | None
    t_ns: int
    env_steps: int  # rewards received since the mirror started, this episode included

    def values(self) -> dict[str, Number]:
        """Return the values to log: return, length and (when known) success as 0/1."""
        out: dict[str, Number] = {"episode/return": self.ret, "episode/length": self.length}
        if self.success is not None:
            out["episode/success"] = int(self.success)
        return out


def _field(msg: Any, path: str, topic: str) -> Any:
    value = msg
    for part in path.split("/") if path else ():
        try:
            value = getattr(value, part)
        except AttributeError:
            raise DecodeError(
                f"topic {topic!r} ({type(msg).__name__}) has no field {path!r}; set the episode *_field option"
            ) from None
    return value


class EpisodeTracker:
    """Accumulate rewards and emit an :class:`EpisodeResult` at each boundary."""

    def __init__(self, config: EpisodeConfig) -> None:
        self.config = config
        self._ret = 0.0
        self._length = 0
        self._success: bool | None = None
        self._counter: int | None = None
        self.episodes = 0
        self.env_steps = 0

    @property
    def topics(self) -> tuple[str, ...]:
        """Return the topics this tracker consumes."""
        cfg = self.config
        return (cfg.reward, cfg.done) + ((cfg.success,) if cfg.success else ())

    def on_message(self, topic: str, msg: Any, t_ns: int) -> EpisodeResult | None:
        """Feed one decoded message; return the finished episode at a boundary, else None.

        Raises:
            DecodeError: the configured field is missing or not numeric.
        """
        cfg = self.config
        result = None
        # One topic may play several roles (e.g. a done topic that also carries success).
        if topic == cfg.done:
            result = self._on_done(msg, t_ns)
        if topic == cfg.reward:
            value = _field(msg, cfg.reward_field, topic)
            if isinstance(value, str) or not isinstance(value, (int, float)):
                raise DecodeError(f"reward field {cfg.reward_field!r} on {topic!r} is not a number: {value!r}")
            self._ret += float(value)
            self._length += 1
            self.env_steps += 1
        if topic == cfg.success:
            self._success = bool(_field(msg, cfg.success_field, topic))
        return result

    def _on_done(self, msg: Any, t_ns: int) -> EpisodeResult | None:
        cfg = self.config
        fields = getattr(msg, "__dataclass_fields__", {})
        first = cfg.done_field.split("/")[0] if cfg.done_field else ""
        if first not in fields or first == "structure_needs_at_least_one_member":
            return self._close(t_ns)  # std_msgs/Empty (rosbags names its placeholder member so)
        value = _field(msg, cfg.done_field, cfg.done)
        if isinstance(value, bool):
            return self._close(t_ns) if value else None
        if isinstance(value, int):
            previous, self._counter = self._counter, value
            return self._close(t_ns) if previous is not None and value < previous else None
        raise DecodeError(f"done field {cfg.done_field!r} on {cfg.done!r} is neither bool nor integer: {value!r}")

    def _close(self, t_ns: int) -> EpisodeResult | None:
        if self._length == 0:
            return None  # a boundary without rewards (repeated done, start-up) is not an episode
        success = self._success
        if success is None and self.config.success_threshold is not None:
            success = self._ret >= self.config.success_threshold
        result = EpisodeResult(self.episodes, self._ret, self._length, success, t_ns, self.env_steps)
        self.episodes += 1
        self._ret, self._length, self._success = 0.0, 0, None
        return result
