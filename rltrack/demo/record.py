"""Episodes -> a rosbag2 recording of what a ROS 2 robot would publish, and the topic config to import it.

Topics (the 50 Hz control loop; stamps are robot time in integer ns):

- ``/joint_states`` (``sensor_msgs/JointState``): joints ``cart`` (slider) and ``pole`` (hinge),
  measured position and velocity, and the force on the cart as the cart's effort;
- ``/rl/action`` (``std_msgs/Int32``): the command the policy sent;
- ``/rl/reward`` (``std_msgs/Float32``) and ``/rl/done`` (``std_msgs/Bool``, True at each episode end);
- ``/camera/image_raw`` (``sensor_msgs/Image``, rgb8): a small drawing of the true cart-pole
  state at :data:`CAMERA_RATE_HZ`.

Within one control period the messages follow the order a robot's policy node would publish them:
state and camera at the tick, the command 1 ms later, reward (and done) 2-3 ms later.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rltrack.demo.physics import CONTROL_PERIOD_NS, JOINTS
from rltrack.demo.standin import Episode

__all__ = [
    "CAMERA_HEIGHT",
    "CAMERA_RATE_HZ",
    "CAMERA_WIDTH",
    "RecordedBag",
    "camera_frame",
    "mirror_config",
    "write_bag",
]

CAMERA_RATE_HZ = 10
CAMERA_WIDTH, CAMERA_HEIGHT = 160, 96
_CAMERA_EVERY = round(1e9 / CAMERA_RATE_HZ / CONTROL_PERIOD_NS)  # control periods between frames
_MS = 1_000_000
#: CartPole-v1's own threshold: an episode that scores this much counts as a success.
SUCCESS_RETURN = 475.0
_TYPES = {
    "/joint_states": "sensor_msgs/msg/JointState",
    "/camera/image_raw": "sensor_msgs/msg/Image",
    "/rl/action": "std_msgs/msg/Int32",
    "/rl/reward": "std_msgs/msg/Float32",
    "/rl/done": "std_msgs/msg/Bool",
}


@dataclass(frozen=True)
class RecordedBag:
    """Where a recording went and what it holds."""

    path: Path  # the rosbag2 folder (metadata.yaml + .mcap)
    config_path: Path  # topics.yaml for `rltrack import-bag --config`
    messages: int
    episodes: int
    t_start_ns: int
    t_end_ns: int


def mirror_config() -> dict[str, Any]:
    """Return the rltrack_ros topic config that imports these bags (``rltrack_ros.parse_config`` input)."""
    return {
        "distro": "jazzy",
        "topics": [
            {"topic": "/joint_states", "include": ["position/*", "velocity/*", "effort/cart"]},
            "/rl/action",
            "/camera/image_raw",
            # Rewards and dones become episode/return, length and success; as per-step values they
            # would only add a constant 1 and a mostly-0 flag to every chart and gap table.
            {"topic": "/rl/reward", "exclude": ["data"]},
            {"topic": "/rl/done", "exclude": ["data"]},
        ],
        "episodes": {"reward": "/rl/reward", "done": "/rl/done", "success_threshold": SUCCESS_RETURN},
        "images": {"fps": CAMERA_RATE_HZ, "max_width": CAMERA_WIDTH, "segment_s": 30},
    }


def camera_frame(state: npt.NDArray[np.float64]) -> npt.NDArray[np.uint8]:
    """Draw the cart-pole seen from the side: ``(CAMERA_HEIGHT, CAMERA_WIDTH, 3)`` uint8 RGB."""
    h, w = CAMERA_HEIGHT, CAMERA_WIDTH
    img = np.full((h, w, 3), 235, dtype=np.uint8)
    scale = w / 4.8  # CartPole's track spans x in [-2.4, 2.4] m
    rail = int(h * 0.75)
    img[rail, :] = (90, 90, 90)
    x, theta = float(state[0]), float(state[2])
    cx = round(w / 2 + x * scale)
    img[rail - 6 : rail, max(cx - 10, 0) : max(min(cx + 10, w), 0)] = (40, 40, 40)
    # The pole: 1 m long (CartPole's half-length is 0.5 m), drawn as a thick line from the cart.
    t = np.linspace(0.0, 1.0, 40)
    px = np.clip(np.round(cx + t * scale * np.sin(theta)).astype(int), 0, w - 1)
    py = np.clip(np.round(rail - 6 - t * scale * np.cos(theta)).astype(int), 0, h - 1)
    for dx in (-1, 0, 1):
        img[py, np.clip(px + dx, 0, w - 1)] = (200, 120, 50)
    return img


class _Topics:
    """Message builders over one typestore."""

    def __init__(self, typestore: Any) -> None:
        self.ts = typestore
        t = typestore.types
        self._time, self._header = t["builtin_interfaces/msg/Time"], t["std_msgs/msg/Header"]
        self._joint_state, self._image = t["sensor_msgs/msg/JointState"], t["sensor_msgs/msg/Image"]
        self._int32, self._float32 = t["std_msgs/msg/Int32"], t["std_msgs/msg/Float32"]
        self._bool = t["std_msgs/msg/Bool"]

    def header(self, t_ns: int, frame: str) -> Any:
        return self._header(stamp=self._time(sec=t_ns // 1_000_000_000, nanosec=t_ns % 1_000_000_000), frame_id=frame)

    def joint_state(self, t_ns: int, measured: npt.NDArray[np.float64], force_n: float) -> Any:
        return self._joint_state(
            header=self.header(t_ns, "base"),
            name=list(JOINTS),
            position=np.array([measured[0], measured[2]], dtype=np.float64),
            velocity=np.array([measured[1], measured[3]], dtype=np.float64),
            effort=np.array([force_n, 0.0], dtype=np.float64),  # the pole's hinge is not driven
        )

    def image(self, t_ns: int, state: npt.NDArray[np.float64]) -> Any:
        pixels = camera_frame(state)
        return self._image(
            header=self.header(t_ns, "camera"), height=CAMERA_HEIGHT, width=CAMERA_WIDTH, encoding="rgb8",
            is_bigendian=0, step=CAMERA_WIDTH * 3, data=pixels.reshape(-1),
        )  # fmt: skip

    def action(self, value: int) -> Any:
        return self._int32(data=int(value))

    def reward(self, value: float) -> Any:
        return self._float32(data=float(value))

    def done(self) -> Any:
        return self._bool(data=True)


def write_bag(
    path: Path, episodes: Sequence[Episode], *, t0_ns: int, jitter_ns: int = 0, seed: int = 0
) -> RecordedBag:
    """Write ``episodes`` back to back as one rosbag2 recording (mcap storage) at ``path``.

    Args:
        path: The bag folder to create (must not exist).
        episodes: What the robot (or the simulator) did, in the order it happened.
        t0_ns: Robot time of the first control period.
        jitter_ns: Standard deviation of each control period's stamp around its 50 Hz slot.
        seed: Seed of the jitter.

    Returns:
        The bag's location and contents; ``topics.yaml`` is written next to it.
    """
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    msgs = _Topics(get_typestore(Stores.ROS2_JAZZY))
    rng = np.random.default_rng(seed)
    count, tick = 0, 0
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conns = {topic: writer.add_connection(topic, msgtype, typestore=msgs.ts) for topic, msgtype in _TYPES.items()}

        def put(topic: str, t_ns: int, msg: Any) -> None:
            nonlocal count
            writer.write(conns[topic], t_ns, msgs.ts.serialize_cdr(msg, _TYPES[topic]))
            count += 1

        t_ns = t0_ns
        for episode in episodes:
            for k in range(episode.length):
                # Jitter stays well inside the period, so stamps stay in order.
                offset = int(np.clip(rng.normal(0.0, jitter_ns), -4 * _MS, 4 * _MS)) if jitter_ns else 0
                t_ns = t0_ns + tick * CONTROL_PERIOD_NS + offset
                put("/joint_states", t_ns, msgs.joint_state(t_ns, episode.measured[k], float(episode.force_n[k])))
                if tick % _CAMERA_EVERY == 0:
                    put("/camera/image_raw", t_ns, msgs.image(t_ns, episode.state[k]))
                put("/rl/action", t_ns + _MS, msgs.action(int(episode.action[k])))
                put("/rl/reward", t_ns + 2 * _MS, msgs.reward(float(episode.reward[k])))
                tick += 1
            put("/rl/done", t_ns + 3 * _MS, msgs.done())
    config_path = path.parent / f"{path.name}.topics.yaml"
    # JSON is YAML: `rltrack import-bag --config` reads this file as it is.
    config_path.write_text(json.dumps(mirror_config(), indent=2) + "\n", encoding="utf-8")
    return RecordedBag(path, config_path, count, len(episodes), t0_ns, t_ns + 3 * _MS)
