"""Unmodified wandb scripts run through ``python -m rltrack.wandb_compat`` and land in rltrack."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import rltrack

# The wandb docs' quickstart, as published (it prints every value it logs).
QUICKSTART = textwrap.dedent(
    """
    import random

    import wandb

    # Start a new wandb run to track this script.
    run = wandb.init(
        # Set the wandb project where this run will be logged.
        project="my-awesome-project",
        # Track hyperparameters and run metadata.
        config={
            "learning_rate": 0.02,
            "architecture": "CNN",
            "dataset": "CIFAR-100",
            "epochs": 10,
        },
    )

    # Simulate training.
    epochs = 10
    offset = random.random() / 5
    for epoch in range(2, epochs):
        acc = 1 - 2**-epoch - random.random() / epoch - offset
        loss = 2**-epoch + random.random() / epoch + offset
        print(f"epoch={epoch}, accuracy={acc!r}, loss={loss!r}")

        # Log metrics to wandb.
        run.log({"acc": acc, "loss": loss})

    # Finish the run and upload any remaining data.
    run.finish()
    """
)

# A CleanRL-style script (ppo.py's structure): argparse flags, --track, wandb.init with
# sync_tensorboard/monitor_gym/save_code, a SummaryWriter, and no wandb.finish() (exit does it).
CLEANRL = textwrap.dedent(
    """
    import argparse
    import random
    import time
    from distutils.util import strtobool

    import gymnasium as gym
    import numpy as np
    import torch
    from torch.utils.tensorboard import SummaryWriter


    def parse_args():
        parser = argparse.ArgumentParser()
        parser.add_argument("--exp-name", type=str, default="ppo")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--total-timesteps", type=int, default=300)
        parser.add_argument("--learning-rate", type=float, default=2.5e-4)
        parser.add_argument("--track", type=lambda x: bool(strtobool(x)), default=False, nargs="?", const=True)
        parser.add_argument("--wandb-project-name", type=str, default="cleanRL")
        parser.add_argument("--wandb-entity", type=str, default=None)
        parser.add_argument("--env-id", type=str, default="CartPole-v1")
        return parser.parse_args()


    if __name__ == "__main__":
        args = parse_args()
        run_name = f"{args.env_id}__{args.exp_name}__{args.seed}__{int(time.time())}"
        if args.track:
            import wandb

            wandb.init(
                project=args.wandb_project_name,
                entity=args.wandb_entity,
                sync_tensorboard=True,
                config=vars(args),
                name=run_name,
                monitor_gym=True,
                save_code=True,
            )
        writer = SummaryWriter(f"runs/{run_name}")
        writer.add_text(
            "hyperparameters",
            "|param|value|\\n|-|-|\\n%s" % ("\\n".join([f"|{key}|{value}|" for key, value in vars(args).items()])),
        )
        random.seed(args.seed)
        np.random.seed(args.seed)
        torch.manual_seed(args.seed)
        env = gym.wrappers.RecordEpisodeStatistics(gym.make(args.env_id))
        obs, _ = env.reset(seed=args.seed)
        start_time = time.time()
        for global_step in range(1, args.total_timesteps + 1):
            obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
            if terminated or truncated:
                r, l = float(info["episode"]["r"]), int(info["episode"]["l"])
                print(f"global_step={global_step}, episodic_return={r!r}, episodic_length={l}")
                writer.add_scalar("charts/episodic_return", r, global_step)
                writer.add_scalar("charts/episodic_length", l, global_step)
                obs, _ = env.reset()
            if global_step % 50 == 0:
                value_loss = 1.0 / global_step
                print(f"global_step={global_step}, value_loss={value_loss!r}")
                writer.add_scalar("losses/value_loss", value_loss, global_step)
                writer.add_scalar("charts/SPS", int(global_step / (time.time() - start_time)), global_step)
        env.close()
        writer.close()
    """
)


def _shim(script: Path, *args: str, store: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RLTRACK_DIR": str(store), "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    return subprocess.run(
        [sys.executable, "-m", "rltrack.wandb_compat", str(script), *args],
        cwd=script.parent, env=env, capture_output=True, text=True, timeout=180,
    )


def test_the_wandb_quickstart_runs_unmodified(tmp_path: Path, store_dir: Path) -> None:
    script = tmp_path / "quickstart.py"
    script.write_text(QUICKSTART)
    done = _shim(script, store=store_dir)
    assert done.returncode == 0, done.stderr
    printed = re.findall(r"epoch=(\d+), accuracy=(\S+), loss=(\S+)", done.stdout)
    assert len(printed) == 8
    (view,) = rltrack.Api(store_dir).runs(project="my-awesome-project")
    assert view.state == "finished"
    assert view.config == {"learning_rate": 0.02, "architecture": "CNN", "dataset": "CIFAR-100", "epochs": 10}
    steps, _, acc = view.series("acc")
    assert steps.tolist() == list(range(8))
    assert acc.tolist() == [float(a) for _, a, _ in printed]
    assert view.series("loss")[2].tolist() == [float(x) for _, _, x in printed]


def test_a_cleanrl_style_script_with_track_runs_unmodified(tmp_path: Path, store_dir: Path) -> None:
    pytest.importorskip("tensorboard")
    script = tmp_path / "ppo.py"
    script.write_text(CLEANRL)
    done = _shim(script, "--track", "--seed", "3", store=store_dir)
    assert done.returncode == 0, done.stderr
    assert "rltrack.init() ignores monitor_gym=True" in done.stderr  # the one warning, naming it
    (view,) = rltrack.Api(store_dir).runs(project="cleanRL")
    assert view.state == "finished"
    assert view.name.startswith("CartPole-v1__ppo__3__")
    assert view.config["seed"] == 3 and view.config["track"] is True
    assert view.metadata["code"] == "code/ppo.py"
    assert (view.dir / "code/ppo.py").read_text() == CLEANRL
    episodes = re.findall(r"global_step=(\d+), episodic_return=(\S+), episodic_length=(\d+)", done.stdout)
    assert episodes
    steps, _, returns = view.series("charts/episodic_return")
    assert steps.tolist() == [int(s) for s, _, _ in episodes]
    assert returns.tolist() == [float(r) for _, r, _ in episodes]
    assert view.series("charts/episodic_length")[2].tolist() == [int(n) for _, _, n in episodes]
    losses = re.findall(r"global_step=(\d+), value_loss=(\S+)", done.stdout)
    steps, _, values = view.series("losses/value_loss")
    assert steps.tolist() == [int(s) for s, _ in losses] == list(range(50, 301, 50))
    assert values.tolist() == pytest.approx([float(v) for _, v in losses], rel=1e-6)  # TB stores float32


def test_import_wandb_in_a_child_process_is_the_shim_too(tmp_path: Path, store_dir: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(
        "import subprocess, sys\n"
        "out = subprocess.run([sys.executable, '-c', 'import wandb; print(wandb.__name__)'],"
        " capture_output=True, text=True, check=True)\n"
        "print('child', out.stdout.strip())\n"
    )
    done = _shim(script, store=store_dir)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "child rltrack.wandb_compat"


def test_a_failing_script_exits_non_zero_and_its_run_reads_failed(tmp_path: Path, store_dir: Path) -> None:
    script = tmp_path / "crash.py"
    script.write_text("import wandb\nwandb.init(project='crash')\nwandb.log({'x': 1.0})\nraise ValueError('boom')\n")
    done = _shim(script, store=store_dir)
    assert done.returncode == 1
    assert "ValueError: boom" in done.stderr
    (view,) = rltrack.Api(store_dir).runs(project="crash")
    assert view.state == "failed"
    assert view.series("x")[2].tolist() == [1.0]


def test_a_second_init_returns_the_current_run_as_in_wandb(tmp_path: Path, store_dir: Path) -> None:
    script = tmp_path / "twice.py"
    script.write_text(
        "import wandb\n"
        "a = wandb.init(project='twice')\n"
        "b = wandb.init(project='twice')\n"
        "assert a is b and wandb.run is a\n"
        "c = wandb.init(project='twice', reinit=True)\n"
        "assert c is not a and a.finished\n"
    )
    done = _shim(script, store=store_dir)
    assert done.returncode == 0, done.stderr
    assert len(rltrack.Api(store_dir).runs(project="twice")) == 2


def test_log_with_a_step_leaves_it_open_as_wandb_does(tmp_path: Path, store_dir: Path) -> None:
    script = tmp_path / "steps.py"
    script.write_text(
        "import wandb\n"
        "wandb.init(project='steps')\n"
        "for global_step in (10, 20):\n"
        "    wandb.log({'train/loss': global_step / 10}, step=global_step)\n"
        "    wandb.log({'eval/return': global_step * 1.0})\n"
        "wandb.log({'final': 1.0})\n"
    )
    done = _shim(script, store=store_dir)
    assert done.returncode == 0, done.stderr
    (view,) = rltrack.Api(store_dir).runs(project="steps")
    assert view.series("train/loss")[0].tolist() == [10, 20]
    assert view.series("eval/return")[0].tolist() == [10, 20]  # wandb puts them at the open step
    assert view.series("final")[0].tolist() == [21]


def test_unsupported_names_and_usage(tmp_path: Path) -> None:
    from rltrack import wandb_compat

    with pytest.raises(AttributeError, match=r"wandb\.Audio is not supported by rltrack's wandb shim"):
        _ = wandb_compat.Audio
    assert wandb_compat.run is None
    assert wandb_compat.Table is rltrack.Table
    done = subprocess.run([sys.executable, "-m", "rltrack.wandb_compat", str(tmp_path / "nope.py")],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert "no such script" in done.stderr


# The wandb docs' Stable-Baselines3 example (VecVideoRecorder left out: it needs moviepy), small budget.
SB3 = textwrap.dedent(
    """
    import gymnasium as gym
    from stable_baselines3 import PPO
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    import wandb
    from wandb.integration.sb3 import WandbCallback

    config = {"policy_type": "MlpPolicy", "total_timesteps": 256, "env_name": "CartPole-v1"}
    run = wandb.init(
        project="sb3",
        config=config,
        sync_tensorboard=True,  # auto-upload sb3's tensorboard metrics
        monitor_gym=True,  # auto-upload the videos of agents playing the game
        save_code=True,  # optional
    )


    def make_env():
        env = gym.make(config["env_name"])
        env = Monitor(env)  # record stats such as returns
        return env


    env = DummyVecEnv([make_env])
    model = PPO(config["policy_type"], env, verbose=1, tensorboard_log=f"runs/{run.id}", n_steps=64,
                batch_size=32, n_epochs=1, seed=0)
    model.learn(
        total_timesteps=config["total_timesteps"],
        callback=WandbCallback(gradient_save_freq=100, model_save_path=f"models/{run.id}", verbose=2),
    )
    run.finish()
    """
)


def test_the_wandb_sb3_example_runs_unmodified_and_stores_each_value_once(tmp_path: Path, store_dir: Path) -> None:
    pytest.importorskip("stable_baselines3")
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    script = tmp_path / "sb3.py"
    script.write_text(SB3)
    done = _shim(script, store=store_dir)
    assert done.returncode == 0, done.stderr
    (view,) = rltrack.Api(store_dir).runs(project="sb3")
    assert view.state == "finished"
    assert view.config["total_timesteps"] == 256 and view.config["n_steps"] == 64
    (logdir,) = (tmp_path / "runs" / view.id).iterdir()  # PPO_1, written by SB3's own SummaryWriter
    events = EventAccumulator(str(logdir))
    events.Reload()
    tags = events.Tags()["scalars"]
    assert "rollout/ep_rew_mean" in tags and "train/value_loss" in tags
    for tag in tags:
        expected = events.Scalars(tag)
        steps, _, values = view.series(tag)
        assert steps.tolist() == [e.step for e in expected], tag  # each value once, at SB3's step
        assert values.tolist() == pytest.approx([e.value for e in expected], rel=1e-6), tag
    assert len(view.series("episode/return")[2]) > 0  # the callback's own per-episode values
    assert any(m.key.startswith("gradients/") for m in view.media())


def test_a_module_runs_with_dash_m(tmp_path: Path, store_dir: Path) -> None:
    package = tmp_path / "proj"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "train.py").write_text("import wandb\nwandb.init(project='mod')\nwandb.log({'x': 2.0})\n")
    env = {**os.environ, "RLTRACK_DIR": str(store_dir)}
    done = subprocess.run([sys.executable, "-m", "rltrack.wandb_compat", "-m", "proj.train"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    (view,) = rltrack.Api(store_dir).runs(project="mod")
    assert (view.state, view.series("x")[2].tolist()) == ("finished", [2.0])


def test_wandb_image_forms_are_converted(store_dir: Path) -> None:
    np = pytest.importorskip("numpy")
    torch = pytest.importorskip("torch")
    from rltrack import wandb_compat

    run = wandb_compat.init(dir=store_dir, system_metrics=False, quiet=True)
    chw = torch.zeros(3, 4, 5)
    chw[0] = 1.0  # red, as a float tensor in [0, 1]
    wandb_compat.log({
        "tensor": wandb_compat.Image(chw, caption="grid"),
        "float": wandb_compat.Image(np.full((4, 5), 0.5), mode="L"),
        "uint8": wandb_compat.Image(np.zeros((4, 5, 3), np.uint8)),
    })
    wandb_compat.finish()
    from PIL import Image as PILImage

    media = {m.key: m for m in rltrack.Api(store_dir).run(run.id).media()}
    assert set(media) == {"tensor", "float", "uint8"}
    red = np.asarray(PILImage.open(media["tensor"].path))
    assert red.shape == (4, 5, 3) and red[0, 0].tolist() == [255, 0, 0]
    assert np.asarray(PILImage.open(media["float"].path))[0, 0] == 127
