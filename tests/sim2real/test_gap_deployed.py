"""The gap compares the robot's episodes with the sim episodes of the policy it ran, not the learning curve."""

from __future__ import annotations

from pathlib import Path

import pytest
from rltrack.sim2real.deployed import RECENT_EPISODES, DeployedEpisodes, deployed_view, policy_step_of, select_sim
from s2r_standin import Deployed

import rltrack


def _training_run(store: Path, *, evaluated: bool) -> str:
    run = rltrack.init(project="p", dir=store, system_metrics=False)
    for i in range(300):  # a learning curve: returns grow from 0 to 299
        run.log({"episode/return": float(i), "episode/length": 10}, step=i * 10 + 5)
    if evaluated:  # evaluation episodes of the checkpoint at step 3000
        for ret in (500.0, 480.0, 490.0):
            run.log({"episode/return": ret, "episode/length": 10}, step=3000)
    run.config["policy_step"] = 3000
    run.finish()
    return run.id


def test_evaluation_episodes_at_the_policy_step_are_used(tmp_path: Path) -> None:
    run_id = _training_run(tmp_path, evaluated=True)
    chosen = select_sim(rltrack.Api(tmp_path).run(run_id))
    assert isinstance(chosen.view, DeployedEpisodes)
    assert chosen.view.series("episode/return", source="sim")[2].tolist() == [500.0, 480.0, 490.0]
    assert (chosen.kind, chosen.policy_step, chosen.n_episodes) == ("eval", 3000, 3)
    assert chosen.description == "sim: 3 eval episodes at step 3,000"


def test_without_evaluation_the_last_training_episodes_are_used(tmp_path: Path) -> None:
    run_id = _training_run(tmp_path, evaluated=False)
    chosen = select_sim(rltrack.Api(tmp_path).run(run_id))
    values = chosen.view.series("episode/return", source="sim")[2]
    assert values.tolist() == [float(i) for i in range(300 - RECENT_EPISODES, 300)]
    assert chosen.description == (
        f"sim: last {RECENT_EPISODES} episodes of training up to step 3,000 (no eval episodes at that step)"
    )


def test_signals_and_other_sources_are_untouched(tmp_path: Path) -> None:
    run_id = _training_run(tmp_path, evaluated=True)
    real = rltrack.init(id=run_id, resume="must", source="real", dir=tmp_path, system_metrics=False)
    real.log({"episode/return": 300.0}, step=3000)
    real.finish()
    view = deployed_view(rltrack.Api(tmp_path).run(run_id))
    assert view.series("episode/return", source="real")[2].tolist() == [300.0]
    assert view.series("episode/length", source="sim")[2].shape[0] == 3


def test_a_run_without_a_policy_step_keeps_every_episode_and_says_so(tmp_path: Path) -> None:
    run = rltrack.init(project="p", dir=tmp_path, system_metrics=False)
    run.log({"episode/return": 1.0, "episode/length": 3})
    run.finish()
    view = rltrack.Api(tmp_path).run(run.id)
    chosen = select_sim(view)
    assert chosen.view is view and deployed_view(view) is view
    assert (chosen.kind, chosen.description) == ("all", "sim: all 1 episode (no deployed policy step recorded)")


def test_real_episodes_logged_at_one_step_mark_the_deployed_policy(tmp_path: Path) -> None:
    # The README's robot writer: real episodes at the deployed checkpoint's step, nothing else recorded.
    run = rltrack.init(project="p", dir=tmp_path, system_metrics=False)
    for i in range(300):  # a learning curve: returns grow from 0 to 299
        run.log({"episode/return": float(i), "episode/length": 10}, step=i * 10 + 5)
    run.finish()
    robot = rltrack.init(id=run.id, resume="must", source="real", dir=tmp_path, system_metrics=False)
    for ret in (250.0, 260.0):
        robot.log({"episode/return": ret, "episode/length": 10}, step=2000)
    robot.finish()
    chosen = select_sim(rltrack.Api(tmp_path).run(run.id))
    assert (chosen.kind, chosen.policy_step) == ("recent", 2000)
    values = chosen.view.series("episode/return", source="sim")[2]
    assert values.tolist() == [float(i) for i in range(200 - RECENT_EPISODES, 200)]  # not the untrained start
    assert chosen.description == (
        f"sim: last {RECENT_EPISODES} episodes of training up to step 2,000 (no eval episodes at that step; "
        "every real episode was logged at it)"
    )


def test_real_episodes_at_several_steps_record_no_policy_step(tmp_path: Path) -> None:
    run = rltrack.init(project="p", dir=tmp_path, system_metrics=False)
    for i in range(5):
        run.log({"episode/return": float(i), "episode/length": 3}, step=i)
    run.finish()
    robot = rltrack.init(id=run.id, resume="must", source="real", dir=tmp_path, system_metrics=False)
    for i in range(3):
        robot.log({"episode/return": 1.0, "episode/length": 3}, step=i)
    robot.finish()
    chosen = select_sim(rltrack.Api(tmp_path).run(run.id))
    assert (chosen.kind, chosen.description) == ("all", "sim: all 5 episodes (no deployed policy step recorded)")


def test_the_policy_version_comes_from_the_robot_run_lineage(deployed: Deployed) -> None:
    chosen = select_sim(rltrack.Api(deployed.root).run(deployed.run_id))
    assert chosen.description == deployed.description == "sim: 6 eval episodes at step 3,000, policy v2"


def test_an_explicit_policy_step_overrides_the_recorded_one(deployed: Deployed) -> None:
    chosen = select_sim(rltrack.Api(deployed.root).run(deployed.run_id), policy_step=2000)
    assert chosen.kind == "recent"
    assert chosen.view.series("episode/return", source="sim")[1].size == 28  # training episodes at steps <= 2000
    assert chosen.description.startswith("sim: last 28 episodes of training up to step 2,000, policy v1")


@pytest.mark.parametrize(
    ("metadata", "config", "step"),
    [
        ({}, {"policy_step": 3000}, 3000),
        ({"deployed_step": 7}, {"policy_step": 3000}, 7),  # metadata first
        ({}, {"policy": {"step": 12.0}}, 12),
        ({}, {"policy_step": True}, None),  # a bool is not a step
        ({}, {}, None),
    ],
)
def test_policy_step_lookup(metadata: dict[str, object], config: dict[str, object], step: int | None) -> None:
    assert policy_step_of(metadata, config) == step
