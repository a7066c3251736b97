"""The gap compares the robot's episodes with the sim episodes of the policy it ran, not the learning curve."""

from __future__ import annotations

from pathlib import Path

from rltrack.sim2real.deployed import RECENT_EPISODES, DeployedEpisodes, deployed_view

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
    view = deployed_view(rltrack.Api(tmp_path).run(run_id))
    assert isinstance(view, DeployedEpisodes)
    assert view.series("episode/return", source="sim")[2].tolist() == [500.0, 480.0, 490.0]


def test_without_evaluation_the_last_training_episodes_are_used(tmp_path: Path) -> None:
    run_id = _training_run(tmp_path, evaluated=False)
    view = deployed_view(rltrack.Api(tmp_path).run(run_id))
    values = view.series("episode/return", source="sim")[2]
    assert values.tolist() == [float(i) for i in range(300 - RECENT_EPISODES, 300)]


def test_signals_and_other_sources_are_untouched(tmp_path: Path) -> None:
    run_id = _training_run(tmp_path, evaluated=True)
    real = rltrack.init(id=run_id, resume="must", source="real", dir=tmp_path, system_metrics=False)
    real.log({"episode/return": 300.0}, step=3000)
    real.finish()
    view = deployed_view(rltrack.Api(tmp_path).run(run_id))
    assert view.series("episode/return", source="real")[2].tolist() == [300.0]
    assert view.series("episode/length", source="sim")[2].shape[0] == 3


def test_a_run_without_a_policy_step_is_returned_as_is(tmp_path: Path) -> None:
    run = rltrack.init(project="p", dir=tmp_path, system_metrics=False)
    run.finish()
    view = rltrack.Api(tmp_path).run(run.id)
    assert deployed_view(view) is view
