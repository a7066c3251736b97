"""Topic configuration: which topics to mirror and how, from a YAML file or node parameters.

Example ``topics.yaml``::

    distro: jazzy                # typestore for live topics and bags without embedded definitions
    msg_dirs: [./my_msgs]        # folders of <pkg>/msg/*.msg and <pkg>/srv/*.srv for custom types
    clock: auto                  # auto | header | receive: the run's one time axis (see clock.py)
    identity:                    # how arrays of messages are keyed (default: name/child_frame_id/frame_id/id)
      my_robot/msg/Obstacle: [header/frame_id, label]   # one or more string/number field paths
      visualization_msgs/msg/Marker: index              # keep array indices
    topics:
      - /odom                    # shorthand: every numeric field, default QoS matching
      - topic: /joint_states
        include: ["position/*", "effort/*"]
        max_rate_hz: 100         # decimate to at most 100 messages/s (by message time)
      - topic: /battery_state
        rename: {percentage: battery/percent}
      - topic: /camera/image_raw
        qos: {reliability: best_effort, depth: 5}
    episodes:
      reward: /rl/reward         # numeric field ``data`` (reward_field) summed per episode
      done: /rl/done             # Bool (True ends), Empty (every message ends) or a step counter
      success: /rl/success       # optional Bool; or success_threshold on the return
    images: {fps: 5, max_width: 320, segment_s: 30}

An empty ``topics`` list mirrors every topic on the graph (live) or in the bag (import).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .clock import CLOCK_TOPIC, check_clock
from .decode import FieldFilter, IdentityRule, topic_prefix
from .errors import TopicConfigError

__all__ = [
    "EpisodeConfig",
    "ImageConfig",
    "MirrorConfig",
    "QosOverride",
    "TopicConfig",
    "load_config",
    "parse_config",
]

_RELIABILITY = ("reliable", "best_effort")
_DURABILITY = ("volatile", "transient_local")
#: Topics every ROS 2 graph carries that are not telemetry.
IGNORED_TOPICS = frozenset({"/rosout", "/parameter_events"})


@dataclass(frozen=True)
class QosOverride:
    """Explicit subscription QoS; unset fields follow the publishers found on the graph."""

    reliability: str | None = None
    durability: str | None = None
    depth: int | None = None


@dataclass(frozen=True)
class TopicConfig:
    """How one topic is mirrored."""

    topic: str
    type: str | None = None
    prefix: str = ""
    filter: FieldFilter = field(default_factory=FieldFilter)
    max_rate_hz: float | None = None
    qos: QosOverride | None = None

    @property
    def min_period_ns(self) -> int:
        """Smallest gap between two mirrored messages (0: no decimation)."""
        return int(1e9 / self.max_rate_hz) if self.max_rate_hz else 0


@dataclass(frozen=True)
class EpisodeConfig:
    """Episode boundaries and rewards on the robot -> ``episode/return|length|success``."""

    reward: str
    done: str
    reward_field: str = "data"
    done_field: str = "data"
    success: str | None = None
    success_field: str = "data"
    success_threshold: float | None = None


@dataclass(frozen=True)
class ImageConfig:
    """Images become one video per episode, or per ``segment_s`` seconds without episodes."""

    fps: float = 5.0
    max_width: int = 320
    segment_s: float = 30.0


@dataclass(frozen=True)
class MirrorConfig:
    """Everything the mirror needs to know besides the run."""

    topics: tuple[TopicConfig, ...] = ()
    episodes: EpisodeConfig | None = None
    images: ImageConfig = field(default_factory=ImageConfig)
    distro: str = "jazzy"
    msg_dirs: tuple[str, ...] = ()
    clock: str = "auto"
    identity: Mapping[str, IdentityRule] = field(default_factory=dict)
    #: ``distro`` was chosen (config key, ``--distro``, node parameter); else a bag import may infer it.
    distro_given: bool = False

    @property
    def mirror_all(self) -> bool:
        """True when no topic is named: every topic found is mirrored with defaults."""
        return not self.topics

    def wanted(self) -> list[str]:
        """Return the named topics plus the episode topics, in order, without duplicates."""
        names = [t.topic for t in self.topics]
        if self.episodes is not None:
            names += [self.episodes.reward, self.episodes.done]
            if self.episodes.success:
                names.append(self.episodes.success)
        return list(dict.fromkeys(names))

    def topic(self, name: str) -> TopicConfig | None:
        """Return the config of ``name``: its own, a default one when wanted, else None."""
        for cfg in self.topics:
            if cfg.topic == name:
                return cfg
        if name in self.wanted() or (self.mirror_all and name not in IGNORED_TOPICS):
            return TopicConfig(topic=name, prefix=topic_prefix(name))
        return None

    def reads(self, topic: str) -> bool:
        """Return whether ``topic`` is read: mirrored, or ``/clock`` for the run's clock (unless ``receive``)."""
        if topic == CLOCK_TOPIC and self.clock != "receive":
            return True
        return self.topic(topic) is not None

    def with_topics(self, names: Sequence[str]) -> MirrorConfig:
        """Return a copy with ``names`` added as default topics (the node's ``topics`` parameter)."""
        have = {t.topic for t in self.topics}
        extra = tuple(_topic_from(n, "topics parameter") for n in names if _norm(n) not in have)
        return replace(self, topics=self.topics + extra)


def load_config(path: str | Path) -> MirrorConfig:
    """Read a topic configuration YAML file.

    Raises:
        TopicConfigError: the file is missing, is not YAML, or holds invalid settings.
    """
    import yaml  # optional dependency of the robot install (rltrack[ros]); imported where used

    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as err:
        raise TopicConfigError(f"cannot read topic config {str(p)!r}: {err.strerror}") from err
    except yaml.YAMLError as err:
        raise TopicConfigError(f"topic config {str(p)!r} is not valid YAML: {err}") from err
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise TopicConfigError(f"topic config {str(p)!r} must hold a mapping, got {type(data).__name__}")
    base = p.parent
    cfg = parse_config(data, origin=str(p))
    # Relative .msg folders are relative to the config file, not to wherever the node was started.
    dirs = tuple(str((base / d).resolve()) if not Path(d).is_absolute() else d for d in cfg.msg_dirs)
    return replace(cfg, msg_dirs=dirs)


def parse_config(data: Mapping[str, Any], *, origin: str = "config") -> MirrorConfig:
    """Build a :class:`MirrorConfig` from a parsed mapping (see the module docstring).

    Raises:
        TopicConfigError: unknown keys or invalid values; the message names ``origin``.
    """
    _check_keys(data, {"topics", "episodes", "images", "distro", "msg_dirs", "clock", "identity"}, origin)
    topics_raw = data.get("topics") or []
    if not isinstance(topics_raw, list):
        raise TopicConfigError(f"{origin}: 'topics' must be a list, got {topics_raw!r}")
    topics = tuple(_topic_from(t, origin) for t in topics_raw)
    dupes = {t.topic for t in topics if sum(u.topic == t.topic for u in topics) > 1}
    if dupes:
        raise TopicConfigError(f"{origin}: topics listed twice: {sorted(dupes)!r}; merge their settings")
    episodes = _episodes_from(data["episodes"], origin) if data.get("episodes") else None
    images = _images_from(data.get("images") or {}, origin)
    distro = data.get("distro", "jazzy")
    if not isinstance(distro, str):
        raise TopicConfigError(f"{origin}: 'distro' must be a string such as 'humble', got {distro!r}")
    msg_dirs = data.get("msg_dirs") or []
    if isinstance(msg_dirs, str):
        msg_dirs = [msg_dirs]
    clock = check_clock(data.get("clock", "auto"), origin)
    identity = _identity_from(data.get("identity") or {}, origin)
    return MirrorConfig(topics, episodes, images, distro, tuple(str(d) for d in msg_dirs), clock, identity,
                        distro_given="distro" in data)


def _identity_from(data: Any, origin: str) -> dict[str, IdentityRule]:
    where = f"{origin}: identity"
    if not isinstance(data, Mapping):
        raise TopicConfigError(f"{where} must map message types to field paths, got {data!r}")
    rules: dict[str, IdentityRule] = {}
    for msgtype, spec in data.items():
        name = _type_name(msgtype, where)
        if spec == "index":
            rules[name] = IdentityRule(())
            continue
        paths = [spec] if isinstance(spec, str) else spec
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) and p.strip("/") for p in paths):
            raise TopicConfigError(
                f"{where}: {msgtype!r} must name a field path, a list of them, or 'index', got {spec!r}"
            )
        rules[name] = IdentityRule(tuple(p.strip("/") for p in paths))
    return rules


def _type_name(msgtype: Any, where: str) -> str:
    """Return ``pkg/msg/Name`` for a type written either way; refuse anything else."""
    if not isinstance(msgtype, str) or msgtype.count("/") not in (1, 2) or not all(msgtype.split("/")):
        raise TopicConfigError(f"{where}: 'type' must look like 'nav_msgs/msg/Odometry', got {msgtype!r}")
    if msgtype.count("/") == 1:
        pkg, cls = msgtype.split("/")
        return f"{pkg}/msg/{cls}"  # accept the short 'nav_msgs/Odometry' spelling
    return msgtype


def _norm(topic: str) -> str:
    return "/" + topic.strip().lstrip("/")


def _check_keys(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise TopicConfigError(f"{where}: unknown setting(s) {unknown!r}; allowed: {sorted(allowed)}")


def _str_tuple(value: Any, what: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TopicConfigError(f"{where}: {what!r} must be a list of glob strings, got {value!r}")
    return tuple(value)


def _positive(value: Any, what: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise TopicConfigError(f"{where}: {what!r} must be a positive number, got {value!r}")
    return float(value)


def _topic_from(item: Any, origin: str) -> TopicConfig:
    if isinstance(item, str):
        if not item.strip().strip("/"):
            raise TopicConfigError(f"{origin}: empty topic name {item!r}")
        name = _norm(item)
        return TopicConfig(topic=name, prefix=topic_prefix(name))
    if not isinstance(item, Mapping) or not isinstance(item.get("topic"), str):
        raise TopicConfigError(f"{origin}: a topic entry must be a name or a mapping with 'topic', got {item!r}")
    name = _norm(item["topic"])
    where = f"{origin}: topic {name!r}"
    _check_keys(
        item,
        {"topic", "type", "prefix", "include", "exclude", "rename", "max_rate_hz", "qos", "max_array"},
        where,
    )
    msgtype = item.get("type")
    if msgtype is not None:
        msgtype = _type_name(msgtype, where)
    rename = item.get("rename") or {}
    if not isinstance(rename, Mapping) or not all(isinstance(v, str) and v for v in rename.values()):
        raise TopicConfigError(f"{where}: 'rename' must map field paths to keys, got {rename!r}")
    defaults = FieldFilter()
    exclude = item.get("exclude", list(defaults.exclude))
    max_array = item.get("max_array", defaults.max_array)
    if isinstance(max_array, bool) or not isinstance(max_array, int) or max_array < 0:
        raise TopicConfigError(f"{where}: 'max_array' must be a non-negative integer, got {max_array!r}")
    flt = FieldFilter(
        include=_str_tuple(item.get("include"), "include", where),
        exclude=_str_tuple(exclude, "exclude", where),
        rename={str(k).strip("/"): str(v) for k, v in rename.items()},
        max_array=max_array,
    )
    rate = item.get("max_rate_hz")
    prefix = item.get("prefix", topic_prefix(name))
    if not isinstance(prefix, str):
        raise TopicConfigError(f"{where}: 'prefix' must be a string, got {prefix!r}")
    return TopicConfig(
        topic=name,
        type=msgtype,
        prefix=prefix.strip("/"),
        filter=flt,
        max_rate_hz=None if rate is None else _positive(rate, "max_rate_hz", where),
        qos=_qos_from(item["qos"], where) if item.get("qos") else None,
    )


def _qos_from(data: Any, where: str) -> QosOverride:
    if not isinstance(data, Mapping):
        raise TopicConfigError(f"{where}: 'qos' must be a mapping, got {data!r}")
    _check_keys(data, {"reliability", "durability", "depth"}, f"{where} qos")
    rel, dur, depth = data.get("reliability"), data.get("durability"), data.get("depth")
    if rel is not None and rel not in _RELIABILITY:
        raise TopicConfigError(f"{where}: qos reliability must be one of {_RELIABILITY}, got {rel!r}")
    if dur is not None and dur not in _DURABILITY:
        raise TopicConfigError(f"{where}: qos durability must be one of {_DURABILITY}, got {dur!r}")
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 1):
        raise TopicConfigError(f"{where}: qos depth must be a positive integer, got {depth!r}")
    return QosOverride(rel, dur, depth)


def _episodes_from(data: Any, origin: str) -> EpisodeConfig:
    where = f"{origin}: episodes"
    if not isinstance(data, Mapping):
        raise TopicConfigError(f"{where} must be a mapping with 'reward' and 'done', got {data!r}")
    _check_keys(
        data,
        {"reward", "done", "reward_field", "done_field", "success", "success_field", "success_threshold"},
        where,
    )
    for need in ("reward", "done"):
        if not isinstance(data.get(need), str):
            raise TopicConfigError(f"{where}: {need!r} must name a topic, got {data.get(need)!r}")
    threshold = data.get("success_threshold")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))):
        raise TopicConfigError(f"{where}: 'success_threshold' must be a number, got {threshold!r}")
    success = data.get("success")
    return EpisodeConfig(
        reward=_norm(data["reward"]),
        done=_norm(data["done"]),
        reward_field=str(data.get("reward_field", "data")).strip("/"),
        done_field=str(data.get("done_field", "data")).strip("/"),
        success=_norm(success) if isinstance(success, str) else None,
        success_field=str(data.get("success_field", "data")).strip("/"),
        success_threshold=None if threshold is None else float(threshold),
    )


def _images_from(data: Any, origin: str) -> ImageConfig:
    where = f"{origin}: images"
    if not isinstance(data, Mapping):
        raise TopicConfigError(f"{where} must be a mapping, got {data!r}")
    _check_keys(data, {"fps", "max_width", "segment_s"}, where)
    defaults = ImageConfig()
    width = data.get("max_width", defaults.max_width)
    if isinstance(width, bool) or not isinstance(width, int) or width < 16:
        raise TopicConfigError(f"{where}: 'max_width' must be an integer >= 16, got {width!r}")
    return ImageConfig(
        fps=_positive(data.get("fps", defaults.fps), "fps", where),
        max_width=width,
        segment_s=_positive(data.get("segment_s", defaults.segment_s), "segment_s", where),
    )
