from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rltrack_ros.decode import FieldFilter
from rltrack_ros.errors import TopicConfigError
from rltrack_ros.topics import EpisodeConfig, QosOverride, TopicConfig, load_config, parse_config

FULL = """
distro: humble
msg_dirs: [msgs]
topics:
  - /odom
  - topic: joint_states
    type: sensor_msgs/JointState
    include: ["position/*"]
    max_rate_hz: 100
  - topic: /battery
    rename: {percentage: battery/percent}
    exclude: []
  - topic: /camera/image_raw
    qos: {reliability: best_effort, durability: volatile, depth: 5}
episodes:
  reward: /rl/reward
  done: rl/done
  success_threshold: 2.5
images: {fps: 2, max_width: 160, segment_s: 10}
"""


def test_yaml_file_gives_full_config(tmp_path: Path) -> None:
    path = tmp_path / "topics.yaml"
    path.write_text(FULL)
    cfg = load_config(path)
    assert cfg.distro == "humble"
    assert cfg.msg_dirs == (str(tmp_path / "msgs"),)
    assert cfg.topics[0] == TopicConfig(topic="/odom", prefix="odom")
    js = cfg.topics[1]
    assert (js.topic, js.type, js.prefix, js.max_rate_hz, js.min_period_ns) == (
        "/joint_states", "sensor_msgs/msg/JointState", "joint_states", 100.0, 10_000_000)
    assert js.filter.include == ("position/*",)
    assert cfg.topics[2].filter == FieldFilter(exclude=(), rename={"percentage": "battery/percent"})
    assert cfg.topics[3].qos == QosOverride("best_effort", "volatile", 5)
    assert cfg.episodes == EpisodeConfig(reward="/rl/reward", done="/rl/done", success_threshold=2.5)
    assert (cfg.images.fps, cfg.images.max_width, cfg.images.segment_s) == (2.0, 160, 10.0)


def test_episode_topics_are_wanted_even_when_not_listed() -> None:
    cfg = parse_config({"topics": ["/odom"], "episodes": {"reward": "/r", "done": "/d", "success": "/s"}})
    assert cfg.wanted() == ["/odom", "/r", "/d", "/s"]
    assert cfg.topic("/r") == TopicConfig(topic="/r", prefix="r")
    assert cfg.topic("/imu") is None


def test_empty_topic_list_mirrors_everything_but_ros_internals() -> None:
    cfg = parse_config({})
    assert cfg.mirror_all
    assert cfg.topic("/anything") == TopicConfig(topic="/anything", prefix="anything")
    assert cfg.topic("/rosout") is None and cfg.topic("/parameter_events") is None


def test_node_parameter_topics_extend_the_file() -> None:
    cfg = parse_config({"topics": [{"topic": "/odom", "max_rate_hz": 10}]}).with_topics(["/odom", "imu"])
    assert [t.topic for t in cfg.topics] == ["/odom", "/imu"]
    assert cfg.topics[0].max_rate_hz == 10


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"topicz": []}, r"unknown setting\(s\) \['topicz'\]"),
        ({"topics": "/odom"}, "'topics' must be a list"),
        ({"topics": [{"topic": "/a", "max_rate_hz": 0}]}, "'max_rate_hz' must be a positive number, got 0"),
        ({"topics": [{"topic": "/a", "qos": {"reliability": "sometimes"}}]}, "reliability must be one of"),
        ({"topics": [{"topic": "/a", "qos": {"depth": 0}}]}, "depth must be a positive integer, got 0"),
        ({"topics": [{"topic": "/a", "type": "Odometry"}]}, "'type' must look like"),
        ({"topics": [{"topic": "/a", "include": [1]}]}, "'include' must be a list of glob strings"),
        ({"topics": [{"topic": "/a", "colour": 1}]}, r"topic '/a': unknown setting\(s\) \['colour'\]"),
        ({"topics": ["/a", {"topic": "a"}]}, r"topics listed twice: \['/a'\]"),
        ({"topics": [""]}, "empty topic name ''"),
        ({"episodes": {"reward": "/r"}}, "'done' must name a topic, got None"),
        ({"images": {"max_width": 4}}, "'max_width' must be an integer >= 16, got 4"),
        ({"distro": 2}, "'distro' must be a string"),
    ],
)
def test_invalid_settings_are_refused_with_the_value(data: dict[str, Any], match: str) -> None:
    with pytest.raises(TopicConfigError, match=match):
        parse_config(data)


def test_missing_and_malformed_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(TopicConfigError, match=r"cannot read topic config .*nope.yaml"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("topics: [/odom\n")
    with pytest.raises(TopicConfigError, match=r"bad.yaml' is not valid YAML"):
        load_config(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- /odom\n")
    with pytest.raises(TopicConfigError, match="must hold a mapping, got list"):
        load_config(listy)
