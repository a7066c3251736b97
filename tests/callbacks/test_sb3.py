from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from rltrack.callbacks import RLTrackCallback
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.callbacks import CallbackList, EvalCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

import rltrack
from rltrack.errors import InvalidValueError, RltrackError, RltrackWarning, RunFinishedError

from .conftest import decode_video, read_run
from .test_sb3_logger import monitor_episodes, stored_episodes


def _ppo(n_envs: int = 1, **kwargs: Any) -> PPO:
    env = make_vec_env("CartPole-v1", n_envs=n_envs, seed=0)
    args: dict[str, Any] = {"n_steps": 64, "batch_size": 64, "n_epochs": 1, **kwargs}
    return PPO("MlpPolicy", env, policy_kwargs={"net_arch": [8]}, device="cpu", seed=0, **args)


def test_config_has_algorithm_hyperparameters_env_and_versions(run: rltrack.Run, store_dir: Path) -> None:
    model = _ppo(n_envs=2, gamma=0.95, clip_range=0.1)
    model.learn(128, callback=RLTrackCallback(run))
    config = read_run(store_dir, run).config
    assert config["algorithm"] == "PPO" and config["policy"] == "MlpPolicy"
    assert config["policy_class"] == "ActorCriticPolicy"
    assert (config["gamma"], config["clip_range"], config["n_steps"]) == (0.95, 0.1, 64)
    assert config["policy_kwargs"] == {"net_arch": [8]}
    assert (config["env_id"], config["n_envs"], config["seed"]) == ("CartPole-v1", 2, 0)
    assert set(config["versions"]) == {"stable_baselines3", "torch", "gymnasium"}


def test_config_keeps_values_the_run_already_has(store_dir: Path) -> None:
    run = rltrack.init(project="p", dir=store_dir, system_metrics=False, config={"gamma": "from the sweep"})
    _ppo(gamma=0.9).learn(64, callback=RLTrackCallback(run))
    assert read_run(store_dir, run).config["gamma"] == "from the sweep"


def test_checkpoints_land_at_the_first_timestep_past_each_multiple(run: rltrack.Run, store_dir: Path) -> None:
    # Three envs step 3 timesteps at a time, so no callback call lands exactly on 100, 200, ...
    model = _ppo(n_envs=3, n_steps=50, batch_size=50)
    model.learn(600, callback=RLTrackCallback(run, checkpoint_every=100))
    read_run(store_dir, run)
    api = rltrack.Api(store_dir)
    name = f"{run.name}-policy"
    versions = sorted(api.artifacts(name), key=lambda v: v.number)
    # 600 is both a multiple and the end: stored once, at the end.
    assert [v.metadata["step"] for v in versions] == [102, 201, 300, 402, 501, 600]
    assert api.artifact(f"{name}:latest").metadata["step"] == 600
    assert all(v.type == "model" and v.logged_by_id == run.id for v in versions)
    restored = PPO.load(api.artifact(f"{name}:latest").download() / "model.zip", device="cpu")
    assert restored.num_timesteps == 600
    # The last rollout's update happens after its last step: the final checkpoint includes it.
    final = model.policy.state_dict()
    assert all(torch.equal(tensor, final[name]) for name, tensor in restored.policy.state_dict().items())


@pytest.mark.parametrize("algorithm", ["ppo", "dqn"])
def test_the_final_checkpoint_holds_the_trained_model_even_after_a_best_one_at_the_last_step(
    run: rltrack.Run, store_dir: Path, algorithm: str
) -> None:
    model: Any = _ppo(n_envs=1) if algorithm == "ppo" else DQN(
        "MlpPolicy", make_vec_env("CartPole-v1", n_envs=1, seed=0), learning_starts=32, train_freq=4,
        policy_kwargs={"net_arch": [8]}, device="cpu", seed=0,
    )
    # An evaluation at the last step stores a "best" checkpoint; the update after it must still be saved.
    evaluator = EvalCallback(make_vec_env("CartPole-v1", n_envs=1, seed=1), eval_freq=128, n_eval_episodes=1)
    model.learn(128, callback=CallbackList([evaluator, RLTrackCallback(run, checkpoint_every=1_000)]))
    read_run(store_dir, run)
    api = rltrack.Api(store_dir)
    latest = api.artifact(f"{run.name}-policy:latest")
    restored = type(model).load(latest.download() / "model.zip", device="cpu")
    final = model.policy.state_dict()
    assert all(torch.equal(tensor, final[name]) for name, tensor in restored.policy.state_dict().items())
    assert "best" in api.artifact(f"{run.name}-policy:best").aliases


def test_best_alias_follows_the_best_evaluation(run: rltrack.Run, store_dir: Path) -> None:
    model = _ppo(n_envs=1)
    eval_env = make_vec_env("CartPole-v1", n_envs=1, seed=1)
    evaluator = EvalCallback(eval_env, eval_freq=128, n_eval_episodes=2, verbose=0)
    model.learn(768, callback=CallbackList([evaluator, RLTrackCallback(run, checkpoint_every=10_000)]))
    view = read_run(store_dir, run)
    steps, _, rewards = view.series("eval/mean_reward")
    assert len(rewards) == 6
    best = rltrack.Api(store_dir).artifact(f"{run.name}-policy:best")
    first_best = int(np.argmax(rewards))
    assert best.metadata["step"] == steps[first_best]
    assert best.metadata["eval/mean_reward"] == rewards[first_best]
    assert view.summary["eval/mean_reward"] == rewards.max()


def test_video_from_a_render_env_decodes_to_the_episode_frames(run: rltrack.Run, store_dir: Path) -> None:
    video_env = gym.make("CartPole-v1", render_mode="rgb_array")
    model = _ppo(n_envs=2)
    model.learn(256, callback=RLTrackCallback(run, video_env=video_env, video_every=128, video_length=40))
    view = read_run(store_dir, run)
    videos = view.media("video/episode")
    length_steps, _, lengths = view.series("video/length")
    # Videos record on a background thread; one still running defers the next to the step it finishes.
    assert [v.step for v in videos] == length_steps.tolist()
    assert len(videos) == 2 and videos[0].step == 128 and videos[1].step >= 256
    for video, length in zip(videos, lengths, strict=True):
        # The reset frame plus one frame per step, cut at video_length.
        assert decode_video(video.path) == (min(int(length) + 1, 40), 400, 600)
        assert video.meta["fps"] == 50  # CartPole's render_fps


def test_video_env_given_alone_records_one_video_at_the_end(run: rltrack.Run, store_dir: Path) -> None:
    video_env = gym.make("CartPole-v1", render_mode="rgb_array")
    _ppo().learn(128, callback=RLTrackCallback(run, video_env=video_env, video_length=5))
    videos = read_run(store_dir, run).media("video/episode")
    assert [(v.step, decode_video(v.path)[0]) for v in videos] == [(128, 5)]


def test_gradient_and_weight_histograms_cover_every_parameter(run: rltrack.Run, store_dir: Path) -> None:
    model = _ppo()
    model.learn(192, callback=RLTrackCallback(run, gradients_every=128))
    names = [n.replace(".", "/") for n, _ in model.policy.named_parameters()]
    media = read_run(store_dir, run).media()
    expected = {f"{kind}/{n}" for kind in ("weights", "gradients") for n in names}
    assert {m.key for m in media if m.kind == "histogram"} == expected
    assert {m.step for m in media} == {128}


def test_training_stops_when_the_run_asks_to(run: rltrack.Run) -> None:
    def prune(values: Any, step: int) -> None:
        if "time/fps" in values:
            run._should_stop = True  # type: ignore[attr-defined]  # what a sweep's pruner sets

    run._observers.append(prune)
    model = _ppo()
    model.learn(10_000, callback=RLTrackCallback(run, checkpoint_every=10_000))
    assert model.num_timesteps < 300


def test_an_observer_that_raises_after_asking_to_stop_stops_training_cleanly(run: rltrack.Run) -> None:
    def prune(values: Any, step: int) -> None:
        if "time/fps" in values:
            run._should_stop = True  # type: ignore[attr-defined]
            raise RltrackError("trial pruned")

    run._observers.append(prune)
    model = _ppo()
    model.learn(10_000, callback=RLTrackCallback(run))
    assert model.num_timesteps < 300


def test_an_observer_error_without_a_stop_request_propagates(run: rltrack.Run) -> None:
    def broken(values: Any, step: int) -> None:
        if "time/fps" in values:
            raise RltrackError("observer failed")

    run._observers.append(broken)
    with pytest.raises(RltrackError, match="observer failed"):
        _ppo().learn(10_000, callback=RLTrackCallback(run))


def test_env_without_monitor_warns_once_and_still_logs_episodes(run: rltrack.Run, store_dir: Path) -> None:
    env = DummyVecEnv([lambda: gym.make("CartPole-v1")] * 2)
    model = PPO("MlpPolicy", env, n_steps=64, n_epochs=1, batch_size=64, policy_kwargs={"net_arch": [8]}, device="cpu")
    with pytest.warns(RltrackWarning, match=r"VecMonitor\(env\)") as caught:
        model.learn(256, callback=RLTrackCallback(run))
    assert len(caught) == 1
    _, _, lengths = read_run(store_dir, run).series("episode/length")
    assert len(lengths) >= 5 and lengths.sum() <= 256


def test_run_finished_during_training_warns_once_and_training_goes_on(run: rltrack.Run) -> None:
    from stable_baselines3.common.callbacks import BaseCallback

    class FinishRun(BaseCallback):  # type: ignore[misc]
        def _on_step(self) -> bool:
            if self.num_timesteps == 100:
                run.finish()
            return True

    model = _ppo()
    with pytest.warns(RltrackWarning, match="finished while training went on") as caught:
        model.learn(256, callback=CallbackList([FinishRun(), RLTrackCallback(run, checkpoint_every=50)]))
    assert model.num_timesteps == 256
    assert len(caught) == 1


def test_callback_given_a_finished_run_raises(run: rltrack.Run) -> None:
    run.finish()
    with pytest.raises(RunFinishedError, match="has finished"):
        RLTrackCallback(run)


def test_callback_without_a_run_starts_one_with_the_init_arguments(store_dir: Path) -> None:
    callback = RLTrackCallback(project="started", dir=store_dir, system_metrics=False)
    assert rltrack.run is callback.run and callback.run.project == "started"


@pytest.mark.parametrize("every", [0, -5, 1.5, True])
def test_checkpoint_every_must_be_a_positive_int(run: rltrack.Run, every: Any) -> None:
    with pytest.raises(InvalidValueError, match="checkpoint_every="):
        RLTrackCallback(run, checkpoint_every=every)


def test_video_env_without_rgb_array_rendering_is_refused(run: rltrack.Run) -> None:
    with pytest.raises(InvalidValueError, match="render_mode=None"):
        RLTrackCallback(run, video_env=gym.make("CartPole-v1"), video_every=100)


def test_a_vector_video_env_is_refused(run: rltrack.Run) -> None:
    venv = make_vec_env("CartPole-v1", n_envs=2, env_kwargs={"render_mode": "rgb_array"})
    with pytest.raises(InvalidValueError, match="num_envs=2"):
        RLTrackCallback(run, video_env=venv, video_every=100)


def test_video_every_without_a_video_env_is_refused(run: rltrack.Run) -> None:
    with pytest.raises(InvalidValueError, match="needs video_env"):
        RLTrackCallback(run, video_every=100)


def test_a_one_env_vecenv_works_as_video_env(run: rltrack.Run, store_dir: Path) -> None:
    video_env = make_vec_env("CartPole-v1", n_envs=1, seed=3, env_kwargs={"render_mode": "rgb_array"})
    _ppo().learn(64, callback=RLTrackCallback(run, video_env=video_env, video_length=30))
    view = read_run(store_dir, run)
    (video,) = view.media("video/episode")
    length = int(view.series("video/length")[2][0])
    # A VecEnv resets itself at the end, so the last frame would show the next episode: it is not kept.
    assert decode_video(video.path) == (min(length, 30), 400, 600)


def test_vecnormalize_statistics_travel_with_the_checkpoint(run: rltrack.Run, store_dir: Path) -> None:
    from stable_baselines3.common.vec_env import VecNormalize

    env = VecNormalize(make_vec_env("CartPole-v1", n_envs=2, seed=0))
    model = PPO("MlpPolicy", env, n_steps=32, batch_size=64, n_epochs=1, policy_kwargs={"net_arch": [8]}, device="cpu")
    video_env = gym.make("CartPole-v1", render_mode="rgb_array")
    model.learn(128, callback=RLTrackCallback(run, checkpoint_every=64, video_env=video_env, video_length=10))
    read_run(store_dir, run)
    latest = rltrack.Api(store_dir).artifact(f"{run.name}-policy:latest")
    assert sorted(f.path for f in latest.files) == ["model.zip", "vecnormalize.pkl"]
    assert len(rltrack.Api(store_dir).run(run.id).media("video/episode")) == 1


def test_a_disabled_run_trains_without_storing_anything(tmp_path: Path) -> None:
    run = rltrack.init(project="p", mode="disabled")
    video_env = gym.make("CartPole-v1", render_mode="rgb_array")
    model = _ppo()
    model.learn(128, callback=RLTrackCallback(run, checkpoint_every=64, video_env=video_env, video_length=5))
    assert model.num_timesteps == 128


def test_sb3_video_and_hparam_records_become_a_video_and_config(run: rltrack.Run, store_dir: Path) -> None:
    import torch
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.logger import HParam, Video

    not_text = ("stdout", "log", "json", "csv")

    class RecordExtras(BaseCallback):  # type: ignore[misc]  # the pattern of SB3's docs
        def _on_training_start(self) -> None:
            self.logger.record("hparams", HParam({"lr_note": "tuned"}, {"rollout/ep_rew_mean": 0}), exclude=not_text)

        def _on_step(self) -> bool:
            if self.n_calls == 1:
                frames = torch.zeros((1, 4, 3, 32, 48), dtype=torch.uint8)
                self.logger.record("trajectory/video", Video(frames, fps=10), exclude=not_text)
            return True

    _ppo().learn(64, callback=CallbackList([RecordExtras(), RLTrackCallback(run)]))
    view = read_run(store_dir, run)
    (video,) = view.media("trajectory/video")
    assert (video.step, decode_video(video.path)) == (64, (4, 32, 48))
    assert view.config["lr_note"] == "tuned"


def test_episodes_of_every_sub_env_carry_return_length_and_success(run: rltrack.Run, store_dir: Path) -> None:
    from .conftest import StairsEnv

    env = make_vec_env(lambda: StairsEnv(3), n_envs=2, seed=0)
    model = PPO("MlpPolicy", env, n_steps=32, batch_size=64, n_epochs=1, policy_kwargs={"net_arch": [8]}, device="cpu")
    model.learn(64, callback=RLTrackCallback(run))
    view = read_run(store_dir, run)
    steps, _, returns = view.series("episode/return")
    # Both envs finish an episode every 3 vector steps (6 timesteps): 10 steps of 2 envs -> 2 x 10.
    assert steps.tolist() == [t for t in range(6, 65, 6) for _ in range(2)]
    assert set(returns.tolist()) == {6.0}
    assert set(view.series("episode/length")[2].tolist()) == {3.0}
    assert set(view.series("episode/success")[2].tolist()) == {1.0}


def test_episodes_from_subprocess_envs_equal_their_monitor_files(
    run: rltrack.Run, store_dir: Path, tmp_path: Path
) -> None:
    # Each worker process writes its own Monitor file; episodes reach the callback only through `infos`.
    monitor_dir = tmp_path / "monitor"
    env = make_vec_env(
        "CartPole-v1",
        n_envs=2,
        seed=0,
        monitor_dir=str(monitor_dir),
        vec_env_cls=SubprocVecEnv,
        vec_env_kwargs={"start_method": "forkserver"},
    )
    try:
        model = PPO(
            "MlpPolicy",
            env,
            n_steps=64,
            batch_size=64,
            n_epochs=1,
            policy_kwargs={"net_arch": [8]},
            device="cpu",
            seed=0,
        )
        model.learn(384, callback=RLTrackCallback(run))
    finally:
        env.close()  # flushes and closes the Monitor files in the workers
    expected = monitor_episodes(monitor_dir)
    assert len(expected) >= 5 and len(list(monitor_dir.glob("*.monitor.csv"))) == 2
    assert stored_episodes(read_run(store_dir, run)) == expected
