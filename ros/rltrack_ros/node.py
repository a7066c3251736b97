"""The ``mirror`` node: thin rclpy glue that feeds robot topics into a run as source ``real``.

``ros2 run rltrack_ros mirror --ros-args -p run:=<id> -p topics:="['/odom', '/joint_states']"``

Parameters: ``run`` (attach to this run id), or ``project``/``name`` (start a new run) with
``sim_run`` (the training run it belongs to); ``source`` (default ``real``); ``policy`` (artifact
ref the robot runs, e.g. ``ppo-policy:latest``; real episodes are placed at its training step);
``dir`` (store folder); ``topics`` (names) and ``config`` (topic YAML, see :mod:`.topics`);
``distro`` (typestore, default ``$ROS_DISTRO``); ``qos_warn_s``; ``queue_size``;
``stats_period_s`` (log received counts every so often; 0, the default, is off);
``system_metrics`` (sample the robot computer's CPU/memory into the run, default true);
``clock`` (``auto``, ``header`` or ``receive``: the run's one time axis, see :mod:`.clock`; default
the config's, else ``auto``).

Clock: receive times are the computer's wall clock. Header stamps are taken as they are, and
topics without a header are mapped onto them by the offset measured on stamped topics, or by
``/clock`` when a simulation publishes it: the node subscribes ``/clock`` whenever it exists (not
only under ``use_sim_time``), so a simulation's values land on simulation time, the same rule as
a bag import of the same topics. ``clock:=receive`` keeps every value at its receive time (the
wall clock, also under ``use_sim_time``: before the first ``/clock`` message ROS time reads 0).
Discovery and stats timers run on the steady clock, so a paused simulation (or no ``/clock`` yet)
under ``use_sim_time`` does not stop the node from subscribing.

Subscriptions are ``raw=True``: the bytes go through a bounded queue (:class:`.sink.Sink`) to the
same decoder the bag importer uses. QoS follows the publishers seen on the graph (best-effort if
any publisher is, transient-local only if all are) and is re-chosen when publishers change;
after ``qos_warn_s`` seconds with a publisher but no message the node warns that QoS may not
match. SIGINT/SIGTERM stop spinning, then everything queued is logged and the run flushed.
Only API present in Humble's rclpy is used.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import rclpy  # type: ignore[import-not-found, unused-ignore]  # rclpy exists only in a ROS install
from rclpy.clock import Clock, ClockType  # type: ignore[import-not-found, unused-ignore]  # rclpy exists only in a ROS install
from rclpy.node import Node  # type: ignore[import-not-found, unused-ignore]  # rclpy exists only in a ROS install
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy  # type: ignore[import-not-found, unused-ignore]  # rclpy exists only in a ROS install

import rltrack
from rltrack.errors import RltrackError, RltrackWarning

from .clock import check_clock
from .decode import DISTROS, IMAGE_TYPES, Decoder, learn_type
from .errors import DecodeError
from .lineage import use_policy
from .mirror import COUNTER_PREFIX, Mirror
from .sink import Sink
from .topics import MirrorConfig, QosOverride, TopicConfig, load_config, parse_config

__all__ = ["MirrorNode", "main"]

_STRINGS = ("run", "project", "name", "sim_run", "source", "policy", "dir", "config", "distro", "clock")


@dataclass
class _Subscription:
    handle: Any
    msgtype: str
    reliability: str
    durability: str
    since: float  # monotonic time of subscribing
    received: int = 0
    callbacks: int = 0
    warned: bool = False
    window_start: float = 0.0  # rate estimate: messages received since window_start
    window_count: int = 0  # `received` at window_start
    hot: bool = False  # above _HOT_HZ: coalesce wake-ups


class MirrorNode(Node):  # type: ignore[misc, unused-ignore]  # Node is Any where rclpy is not installed
    """Subscribe to the configured topics and mirror them into an rltrack run."""

    def __init__(self, node_name: str = "rltrack_mirror") -> None:
        # No parameter services: nothing sets the mirror's parameters remotely, and every service
        # is one more entity the Python executor checks on each wake-up.
        super().__init__(node_name, start_parameter_services=False)
        for name in _STRINGS:
            self.declare_parameter(name, "real" if name == "source" else "")
        self.declare_parameter("topics", rclpy.Parameter.Type.STRING_ARRAY)
        self.declare_parameter("qos_warn_s", 5.0)
        self.declare_parameter("queue_size", 10_000)
        self.declare_parameter("discovery_period_s", 0.5)
        self.declare_parameter("system_metrics", True)
        self.declare_parameter("stats_period_s", 0.0)
        p = {name: str(self.get_parameter(name).value or "") for name in _STRINGS}
        self.config = self._load_config(p)
        self.run = self._open_run(p)
        step = self._use_policy(p["policy"]) if p["policy"] else None
        decoder = Decoder.for_distro(self.config.distro, self.config.msg_dirs)
        self.mirror = Mirror(self.run, self.config, decoder, step_offset=step)
        self.sink = Sink(self.mirror, maxsize=int(self.get_parameter("queue_size").value))
        self.qos_warn_s = float(self.get_parameter("qos_warn_s").value)
        self.subs: dict[str, _Subscription] = {}
        self._bad_types: set[str] = set()
        self._episode_topics = frozenset(self.mirror.episodes.topics if self.mirror.episodes else ())
        self._closed = False
        # Timers on the steady clock: under use_sim_time the node's own clock is /clock, which stands
        # still until a simulation (or `ros2 bag play --clock`) publishes it, or while it is paused;
        # discovery on it would never subscribe, and nothing would be mirrored.
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        period = float(self.get_parameter("discovery_period_s").value)
        self.timer = self.create_timer(period, self.discover, clock=steady)
        stats_s = float(self.get_parameter("stats_period_s").value)
        self.stats_timer = self.create_timer(stats_s, self.log_stats, clock=steady) if stats_s > 0 else None
        self.get_logger().info(
            f"mirroring {self.config.wanted() or 'all topics'} into run {self.run.id!r} as source {self.run.source!r}"
        )

    # -- set-up -------------------------------------------------------------------------------

    def _load_config(self, p: dict[str, str]) -> MirrorConfig:
        config = load_config(p["config"]) if p["config"] else parse_config({})
        try:
            topics = list(self.get_parameter("topics").value or [])
        except rclpy.exceptions.ParameterUninitializedException:
            topics = []
        config = config.with_topics(topics)
        env_distro = os.environ.get("ROS_DISTRO", "").lower()
        if p["distro"] or (not p["config"] and env_distro in DISTROS):
            config = replace(config, distro=p["distro"] or env_distro)
        if p["clock"]:
            config = replace(config, clock=check_clock(p["clock"], "parameter 'clock'"))
        return config

    def _open_run(self, p: dict[str, str]) -> Any:
        metrics = bool(self.get_parameter("system_metrics").value)
        common: dict[str, Any] = {"dir": p["dir"] or None, "source": p["source"] or "real", "system_metrics": metrics}
        if p["run"]:
            return rltrack.init(id=p["run"], resume="must", **common)
        config = {"sim_run": p["sim_run"]} if p["sim_run"] else None
        return rltrack.init(project=p["project"] or None, name=p["name"] or None, job_type="deploy",
                            config=config, **common)

    def _use_policy(self, ref: str) -> int | None:
        step, problem = use_policy(self.run, ref)
        if problem:
            self.get_logger().warn(problem)
        return step

    # -- graph --------------------------------------------------------------------------------

    def discover(self) -> None:
        """Subscribe to wanted topics that have publishers; re-choose QoS; warn on silent topics."""
        now = time.monotonic()
        # Subscribe the reward topic before the done topic: when both have a message waiting, the
        # executor serves subscriptions in creation order, and a step's reward precedes its done.
        episodes = self.config.episodes
        first = episodes.reward if episodes is not None else ""
        for topic, types in sorted(self.get_topic_names_and_types(), key=lambda tt: tt[0] != first):
            if not self.mirror.wants(topic):
                continue
            cfg = self.config.topic(topic) or TopicConfig(topic=topic)  # /clock is read for the run's clock
            msgtype = cfg.type or (types[0] if types else "")
            if msgtype.count("/") == 1:
                msgtype = msgtype.replace("/", "/msg/")
            infos = self.get_publishers_info_by_topic(topic)
            if not infos or msgtype in self._bad_types:
                continue
            reliability, durability, depth = _choose_qos(infos, cfg.qos, msgtype)
            sub = self.subs.get(topic)
            if sub is not None and (sub.reliability, sub.durability) == (reliability, durability):
                self._check_silent(topic, sub, len(infos), infos, now)
                continue
            if sub is not None:
                self.destroy_subscription(sub.handle)  # publishers changed: re-subscribe with matching QoS
            self._subscribe(topic, msgtype, reliability, durability, depth, now)

    def _subscribe(self, topic: str, msgtype: str, reliability: str, durability: str, depth: int, now: float) -> None:
        msg_class = self._message_class(msgtype)
        if msg_class is None:
            return
        decoder = self.mirror.decoder
        if not decoder.knows(msgtype):
            # A robot's own message: its definition sits in the ament index next to its code.
            shares = [Path(p) / "share" for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
            try:
                if learn_type(decoder.typestore, msgtype, shares):
                    self.get_logger().info(f"learned {msgtype} from the ament index")
            except DecodeError as err:
                self.get_logger().warn(str(err))
        qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=depth,
            reliability=ReliabilityPolicy.BEST_EFFORT if reliability == "best_effort" else ReliabilityPolicy.RELIABLE,
            durability=(DurabilityPolicy.TRANSIENT_LOCAL if durability == "transient_local"
                        else DurabilityPolicy.VOLATILE),
        )  # fmt: skip
        state = _Subscription(None, msgtype, reliability, durability, now)
        offer = self.sink.offer
        clock = time.time_ns

        # Episode topics are not drained: draining takes one topic's backlog at once and would
        # reorder rewards and done flags across topics; they are low-rate anyway.
        drain_ok = [topic not in self._episode_topics]

        monotonic = time.monotonic

        def callback(data: bytes) -> None:
            state.received += 1
            state.callbacks += 1
            offer(topic, msgtype, data, clock())
            if not drain_ok[0]:
                return
            now = monotonic()
            if now - state.window_start >= 1.0:
                elapsed, state.window_start = now - state.window_start, now
                state.hot = (state.received - state.window_count) / elapsed > _HOT_HZ
                state.window_count = state.received  # messages, drained ones included
            if state.hot:
                # A wait-set cycle of the Python executor costs ~100 us; for a 1 kHz topic, let a
                # few milliseconds of messages gather and take them in one go.
                time.sleep(_COALESCE_S)
            drain_ok[0] = _drain(state, msg_class, topic, msgtype, offer, clock)

        state.handle = self.create_subscription(msg_class, topic, callback, qos, raw=True)
        self.subs[topic] = state
        self.get_logger().info(f"subscribed {topic} [{msgtype}] reliability={reliability} durability={durability}")

    def _message_class(self, msgtype: str) -> Any:
        pkg, _, name = msgtype.split("/")
        try:
            return getattr(importlib.import_module(f"{pkg}.msg"), name)
        except (ImportError, AttributeError) as err:
            self._bad_types.add(msgtype)
            self.get_logger().warn(f"cannot subscribe to {msgtype!r} ({err}); source the workspace that defines it")
            return None

    def _check_silent(self, topic: str, sub: _Subscription, publishers: int, infos: Any, now: float) -> None:
        if sub.received or sub.warned or now - sub.since < self.qos_warn_s:
            return
        sub.warned = True
        offered = sorted({_policy_name(i.qos_profile.reliability) for i in infos})
        self.get_logger().warn(
            f"{topic}: {publishers} publisher(s) but no message in {now - sub.since:.0f} s; QoS may not match "
            f"(we subscribe {sub.reliability}/{sub.durability}, publishers offer {'/'.join(offered)}); "
            "a reliable subscriber gets nothing from a best-effort publisher. Check the topic's qos setting."
        )
        self.run.summary[f"{COUNTER_PREFIX}/qos_warnings/{topic.strip('/')}"] = 1

    def log_stats(self) -> None:
        """Log how many messages each subscription received, and the drops (``stats_period_s``)."""
        received = {t: s.received for t, s in sorted(self.subs.items())}
        callbacks = {t: s.callbacks for t, s in sorted(self.subs.items())}
        self.get_logger().info(
            f"stats received={received} callbacks={callbacks} dropped={sum(self.sink.dropped.values())} "
            f"pending={self.sink.pending}"
        )

    # -- shutdown -----------------------------------------------------------------------------

    def close(self) -> None:
        """Log everything queued, store the counters and finish this source of the run."""
        if self._closed:
            return
        self._closed = True
        try:
            self.sink.close()
            received = {t.strip("/"): s.received for t, s in self.subs.items()}
            self.mirror.write_counters(
                {f"{COUNTER_PREFIX}/dropped": sum(self.sink.dropped.values())}
                | {f"{COUNTER_PREFIX}/subscribed/{t}": n for t, n in received.items()}
            )
        finally:
            self.run.finish()  # whatever failed above, what was logged gets stored


#: Topics faster than this are "hot": their callback waits _COALESCE_S before draining.
_HOT_HZ = 50.0
_COALESCE_S = 0.01

#: At most this many queued messages are taken in one callback, so one busy topic cannot starve
#: the others (and the timers) of the executor.
_DRAIN_MAX = 256


def _drain(state: _Subscription, msg_class: Any, topic: str, msgtype: str, offer: Any, clock: Any) -> bool:
    """Take the messages already queued on this subscription in the callback itself.

    The Python executors rebuild their wait set for every single message, which caps a 1 kHz
    topic; taking the backlog here (what rclpy's executor does per message, through the same
    ``handle.take_message``) costs a few microseconds per message. Returns False when this
    rclpy lacks that call, so the caller falls back to one message per callback.
    """
    handle = getattr(state.handle, "handle", None)
    if handle is None or not hasattr(handle, "take_message"):
        return False
    with handle:
        for _ in range(_DRAIN_MAX):
            taken = handle.take_message(msg_class, True)
            if taken is None:
                break
            state.received += 1
            offer(topic, msgtype, taken[0], clock())
    return True


def _policy_name(policy: Any) -> str:
    return str(getattr(policy, "name", policy)).lower()


def _choose_qos(infos: Any, override: QosOverride | None, msgtype: str) -> tuple[str, str, int]:
    """Pick reliability/durability every publisher can serve, unless the config overrides it."""
    rels = [_policy_name(i.qos_profile.reliability) for i in infos]
    durs = [_policy_name(i.qos_profile.durability) for i in infos]
    reliability = "best_effort" if any(r == "best_effort" for r in rels) else "reliable"
    durability = "transient_local" if durs and all(d == "transient_local" for d in durs) else "volatile"
    # Deep enough to ride out a second of a 1 kHz topic while the executor is busy elsewhere;
    # camera frames are big and only a few per second are kept anyway.
    depth = 10 if msgtype in IMAGE_TYPES else 1000
    if override is not None:
        reliability = override.reliability or reliability
        durability = override.durability or durability
        depth = override.depth or depth
    return reliability, durability, depth


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    """Run the mirror node until SIGINT/SIGTERM, then flush and finish."""
    from rclpy.executors import (  # type: ignore[import-not-found, unused-ignore]
        ExternalShutdownException,
        SingleThreadedExecutor,
    )

    # rclpy's own handler shuts the context down and then chains to the handler installed before
    # it; for SIGTERM that is SIG_DFL, which would kill us before the flush. Install ours first.
    signal.signal(signal.SIGTERM, _interrupt)
    rclpy.init(args=sys.argv if argv is None else argv)
    warnings.simplefilter("default", RltrackWarning)
    node = None
    # rclpy.experimental.EventsExecutor (Jazzy) would be cheaper per message, but here it neither
    # fired timers nor returned on shutdown; the Python executor is also the one Humble has.
    executor = SingleThreadedExecutor()
    try:
        try:
            node = MirrorNode()
        except RltrackError as err:  # bad config, unknown run id, unwritable store: say it in one line
            from rclpy.logging import get_logger  # type: ignore[import-not-found, unused-ignore]

            get_logger("rltrack_mirror").error(str(err))
            return 2
        # rltrack.init() put in a SIGTERM hook that finishes runs as failed at once; for the
        # mirror SIGTERM is the normal stop (launch, systemd), so drain and flush first.
        signal.signal(signal.SIGTERM, _interrupt)
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass  # rclpy's handler shut the context down on SIGINT/SIGTERM; flush below
    finally:
        if node is not None:
            node.close()
            node.get_logger().info(f"run {node.run.id!r} flushed: {dict(node.mirror.counts.logged)}")
        executor.shutdown()
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
