from __future__ import annotations

from typing import Any

import pytest
from rltrack_ros.episodes import EpisodeResult, EpisodeTracker
from rltrack_ros.errors import DecodeError
from rltrack_ros.topics import EpisodeConfig
from rosbags.typesys import Stores, get_typestore

TS = get_typestore(Stores.ROS2_JAZZY)


def msg(msgtype: str, **fields: Any) -> Any:
    return TS.types[msgtype](**fields)


def reward(value: float) -> Any:
    return msg("std_msgs/msg/Float32", data=value)


def feed(tracker: EpisodeTracker, rows: list[tuple[str, Any]]) -> list[EpisodeResult]:
    out = []
    for t, (topic, m) in enumerate(rows):
        res = tracker.on_message(topic, m, t)
        if res is not None:
            out.append(res)
    return out


def test_bool_done_closes_episodes_with_return_and_length() -> None:
    tracker = EpisodeTracker(EpisodeConfig(reward="/r", done="/d"))
    done, not_done = msg("std_msgs/msg/Bool", data=True), msg("std_msgs/msg/Bool", data=False)
    rows = [("/r", reward(1.0)), ("/d", not_done), ("/r", reward(2.5)), ("/d", done),
            ("/r", reward(-1.0)), ("/d", done)]
    got = feed(tracker, rows)
    assert [(e.index, e.ret, e.length, e.success, e.t_ns, e.env_steps) for e in got] == [
        (0, 3.5, 2, None, 3, 2), (1, -1.0, 1, None, 5, 3)]
    assert got[0].values() == {"episode/return": 3.5, "episode/length": 2}


def test_empty_messages_are_boundaries_and_repeats_are_not_episodes() -> None:
    tracker = EpisodeTracker(EpisodeConfig(reward="/r", done="/reset"))
    empty = msg("std_msgs/msg/Empty", structure_needs_at_least_one_member=0)
    got = feed(tracker, [("/reset", empty), ("/r", reward(1.0)), ("/reset", empty), ("/reset", empty)])
    assert [(e.ret, e.length) for e in got] == [(1.0, 1)]


def test_step_counter_reset_ends_the_running_episode() -> None:
    tracker = EpisodeTracker(EpisodeConfig(reward="/r", done="/step"))
    rows: list[tuple[str, Any]] = []
    for counter, r in [(0, 1.0), (1, 1.0), (2, 1.0), (0, 5.0), (1, 5.0)]:
        rows += [("/step", msg("std_msgs/msg/UInt32", data=counter)), ("/r", reward(r))]
    got = feed(tracker, rows)
    assert [(e.ret, e.length) for e in got] == [(3.0, 3)]


def test_success_topic_and_threshold() -> None:
    with_topic = EpisodeTracker(EpisodeConfig(reward="/r", done="/d", success="/ok"))
    done = msg("std_msgs/msg/Bool", data=True)
    got = feed(with_topic, [("/r", reward(0.0)), ("/ok", msg("std_msgs/msg/Bool", data=True)), ("/d", done),
                            ("/r", reward(0.0)), ("/d", done)])
    assert [e.success for e in got] == [True, None]
    assert got[0].values()["episode/success"] == 1
    by_return = EpisodeTracker(EpisodeConfig(reward="/r", done="/d", success_threshold=1.0))
    got = feed(by_return, [("/r", reward(1.0)), ("/d", done), ("/r", reward(0.5)), ("/d", done)])
    assert [e.values()["episode/success"] for e in got] == [1, 0]


def test_missing_reward_field_names_the_option() -> None:
    tracker = EpisodeTracker(EpisodeConfig(reward="/r", done="/d", reward_field="value"))
    with pytest.raises(DecodeError, match=r"no field 'value'.*\\*_field option"):
        tracker.on_message("/r", reward(1.0), 0)


def test_string_done_field_is_refused() -> None:
    tracker = EpisodeTracker(EpisodeConfig(reward="/r", done="/d"))
    with pytest.raises(DecodeError, match="neither bool nor integer: 'yes'"):
        tracker.on_message("/d", msg("std_msgs/msg/String", data="yes"), 0)
