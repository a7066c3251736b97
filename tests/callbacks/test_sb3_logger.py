"""SB3's logger seam: SB3's own CSV output and Monitor files as oracles, and SB3's Image and Figure records."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from rltrack.callbacks import RLTrackCallback
from rltrack.callbacks.sb3_logger import RunOutputFormat, to_number
from sb3_contrib import QRDQN
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3
from stable_baselines3.common.callbacks import CallbackList, EvalCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import Figure, Image, Logger, configure

import rltrack
from rltrack.errors import RltrackWarning

from .conftest import read_run

TINY = {"net_arch": [16]}

CASES: dict[str, tuple[Any, str, int, int, dict[str, Any]]] = {
    # name: (algorithm, env id, n_envs, timesteps, constructor arguments)
    "ppo": (PPO, "CartPole-v1", 2, 1024, {"n_steps": 128, "batch_size": 64, "n_epochs": 2}),
    # With SB3's EvalCallback alongside: eval/* values dump into the same logger.
    "ppo_eval": (PPO, "CartPole-v1", 2, 768, {"n_steps": 64, "batch_size": 64, "n_epochs": 1}),
    "a2c": (A2C, "CartPole-v1", 2, 600, {"n_steps": 8}),
    "dqn": (DQN, "CartPole-v1", 1, 1500, {"learning_starts": 200, "buffer_size": 2000, "target_update_interval": 100}),
    "qrdqn": (QRDQN, "CartPole-v1", 1, 600, {"learning_starts": 200, "buffer_size": 2000}),
    # Pendulum episodes are 200 steps and off-policy algorithms dump once per episode here.
    "sac": (SAC, "Pendulum-v1", 1, 600, {"learning_starts": 100, "buffer_size": 2000, "batch_size": 32}),
    "td3": (TD3, "Pendulum-v1", 1, 400, {"learning_starts": 100, "buffer_size": 2000, "batch_size": 32}),
}


def _train(name: str, tmp_path: Path, store_dir: Path) -> tuple[Any, Path, Path]:
    algo, env_id, n_envs, steps, kwargs = CASES[name]
    run = rltrack.init(project="oracle", dir=store_dir, system_metrics=False)
    monitor_dir = tmp_path / "monitor"
    env = make_vec_env(env_id, n_envs=n_envs, seed=0, monitor_dir=str(monitor_dir))
    model = algo("MlpPolicy", env, policy_kwargs=dict(TINY), device="cpu", seed=0, **kwargs)
    model.set_logger(configure(str(tmp_path / "sb3"), ["csv"]))
    # log_interval: iterations (on-policy) or episodes (off-policy) between dumps.
    log_interval = {"a2c": 5}.get(name, 1)
    callbacks: list[Any] = [RLTrackCallback(run)]
    if name == "ppo_eval":
        eval_env = make_vec_env(env_id, n_envs=1, seed=1)
        callbacks.insert(0, EvalCallback(eval_env, eval_freq=96, n_eval_episodes=2, verbose=0))
    model.learn(steps, callback=CallbackList(callbacks), log_interval=log_interval)
    model.logger.close()
    env.close()  # flushes and closes the Monitor files
    return read_run(store_dir, run), tmp_path / "sb3" / "progress.csv", monitor_dir


def _csv_points(path: Path) -> dict[str, list[tuple[int, float]]]:
    points: dict[str, list[tuple[int, float]]] = {}
    with path.open() as f:
        for row in csv.DictReader(f):
            step = int(row["time/total_timesteps"])
            for key, text in row.items():
                if text != "":
                    points.setdefault(key, []).append((step, float(text)))
    return points


def _same(a: float, b: float) -> bool:
    # The CSV holds str(value): exact for float64, shortest repr for float32 values.
    return a == b or (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_csv_value_is_in_the_run_at_sb3s_step(name: str, tmp_path: Path, store_dir: Path) -> None:
    view, csv_path, _ = _train(name, tmp_path, store_dir)
    expected = _csv_points(csv_path)
    assert any(key.startswith("train/") for key in expected), "too short to train: the oracle would be vacuous"
    if name == "ppo_eval":
        assert len(expected["eval/mean_reward"]) == 4  # every 96 calls of 2 envs: 192, 384, 576, 768
    keys = view.keys()
    sb3_keys = {k for k in keys if k.split("/", 1)[0] in ("train", "rollout", "time", "eval")}
    assert sb3_keys == set(expected)
    for key, points in expected.items():
        steps, _, values = view.series(key)
        got = list(zip(steps.tolist(), values.tolist(), strict=True))
        assert len(got) == len(points), key
        for (step, value), (got_step, got_value) in zip(points, got, strict=True):
            assert step == got_step and _same(value, got_value), (key, step, value, got_step, got_value)


def monitor_episodes(monitor_dir: Path) -> list[tuple[float, int]]:
    """Return (return, length) of every episode in SB3's Monitor files under ``monitor_dir``, sorted."""
    rows: list[tuple[float, int]] = []
    for path in sorted(monitor_dir.glob("*.monitor.csv")):
        with path.open() as f:
            next(f)  # the JSON header line
            rows += [(float(r["r"]), int(r["l"])) for r in csv.DictReader(f)]
    return sorted(rows)


def stored_episodes(view: Any) -> list[tuple[float, int]]:
    """Return (return, length) of every episode the run stored as ``episode/return``/``episode/length``, sorted."""
    _, _, returns = view.series("episode/return")
    _, _, lengths = view.series("episode/length")
    return sorted(zip(returns.tolist(), lengths.astype(int).tolist(), strict=True))


@pytest.mark.parametrize("name", ["ppo", "dqn"])
def test_episode_returns_equal_the_monitor_files(name: str, tmp_path: Path, store_dir: Path) -> None:
    view, _, monitor_dir = _train(name, tmp_path, store_dir)
    expected = monitor_episodes(monitor_dir)
    assert len(expected) >= 5
    assert stored_episodes(view) == expected


def test_episode_steps_are_the_timesteps_at_which_they_ended(tmp_path: Path, store_dir: Path) -> None:
    view, _, _ = _train("ppo", tmp_path, store_dir)
    steps, _, _ = view.series("episode/return")
    _, _, lengths = view.series("episode/length")
    # Two envs step together, so an episode ends at an even timestep no earlier than 2 * its length.
    assert (steps % 2 == 0).all() and (steps >= 2 * lengths).all()


def test_to_number_keeps_scalars_and_drops_everything_else() -> None:
    assert to_number(np.float32(0.5)) == 0.5
    assert to_number(np.array([3])) == 3
    assert to_number(torch.tensor(2.5)) == 2.5
    assert to_number(True) == 1
    assert to_number("text") is None
    assert to_number(np.zeros(3)) is None


def test_excluding_the_rltrack_format_keeps_a_value_out() -> None:
    seen: list[tuple[dict[str, float | int], int]] = []
    writer = RunOutputFormat(lambda values, step: seen.append((values, step)))
    writer.write({"a": 1.0, "b": 2.0, "c": "x"}, {"a": ("rltrack",), "b": ("tensorboard",)}, step=7)
    assert seen == [({"b": 2.0}, 7)]


# ---- SB3 Image and Figure records ---------------------------------------------------------

NOT_TEXT = ("stdout", "log", "json", "csv")  # how SB3's docs record images: kept out of the text formats
HEIGHT, WIDTH = 6, 10
TINY_PPO: dict[str, Any] = {"policy_kwargs": dict(TINY), "device": "cpu", "seed": 0}


def _logger(run: rltrack.Run) -> Logger:
    """A real SB3 logger whose only output is rltrack, writing into ``run``."""
    return Logger(folder=None, output_formats=[RunOutputFormat(lambda values, step: run.log(values, step=step))])


def _dump(logger: Logger, records: dict[str, Any], step: int) -> None:
    """Record ``records`` the way SB3's docs record images, then dump them at ``step``."""
    for key, value in records.items():
        logger.record(key, value, exclude=NOT_TEXT)
    logger.dump(step)


def _pixels(path: Path) -> np.ndarray:
    """Decode a stored image file with Pillow: (H, W) for grey, (H, W, C) otherwise."""
    pil_image = pytest.importorskip("PIL.Image")
    with pil_image.open(path) as img:
        return np.asarray(img)


def _rgb() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)


# name: (what to record, dataformats, the pixels expected back (H, W) or (H, W, C))
IMAGES: dict[str, tuple[Any, str, np.ndarray]] = {
    "hwc_uint8": (_rgb(), "HWC", _rgb()),
    "chw_uint8": (_rgb().transpose(2, 0, 1), "CHW", _rgb()),
    "hw_uint8": (_rgb()[:, :, 0], "HW", _rgb()[:, :, 0]),
    "hwc_float": (_rgb() / 255.0, "HWC", _rgb()),
    "chw_float_tensor": (torch.tensor(_rgb().transpose(2, 0, 1) / 255.0, dtype=torch.float32), "CHW", _rgb()),
    "hw_float": (_rgb()[:, :, 1] / 255.0, "HW", _rgb()[:, :, 1]),
    "hwc_rgba": (np.dstack([_rgb(), _rgb()[:, :, :1]]), "HWC", np.dstack([_rgb(), _rgb()[:, :, :1]])),
    "chw_one_channel": (_rgb()[None, :, :, 2], "CHW", _rgb()[:, :, 2]),
    "wh_lowercase": (_rgb()[:, :, 0].T, "wh", _rgb()[:, :, 0]),
    # TensorBoard tiles a batch into a grid 8 images wide; two images sit side by side.
    "nchw_grid": (np.stack([_rgb(), 255 - _rgb()]).transpose(0, 3, 1, 2), "NCHW", np.hstack([_rgb(), 255 - _rgb()])),
}


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_sb3_image_records_are_stored_as_images_with_their_pixels(name: str, run: rltrack.Run, store_dir: Path) -> None:
    image, dataformats, expected = IMAGES[name]
    _dump(_logger(run), {"obs/frame": Image(image, dataformats)}, step=40)
    (stored,) = read_run(store_dir, run).media("obs/frame")
    assert (stored.kind, stored.step) == ("image", 40)
    assert (stored.meta["width"], stored.meta["height"]) == (expected.shape[1], expected.shape[0])
    np.testing.assert_array_equal(_pixels(stored.path), expected)


def test_an_image_given_as_a_file_path_is_stored_as_that_file(
    run: rltrack.Run, store_dir: Path, tmp_path: Path
) -> None:
    pil_image = pytest.importorskip("PIL.Image")
    path = tmp_path / "frame.png"
    pil_image.fromarray(_rgb()).save(path)
    _dump(_logger(run), {"img": Image(str(path), "HWC")}, step=2)
    (stored,) = read_run(store_dir, run).media("img")
    assert stored.path.read_bytes() == path.read_bytes()


def test_float_images_are_clipped_to_0_1_and_nan_is_black(run: rltrack.Run, store_dir: Path) -> None:
    values = np.array([[-0.5, 0.0, 0.5, 1.0, 2.0, np.nan]])
    _dump(_logger(run), {"img": Image(values, "HW")}, step=1)
    (stored,) = read_run(store_dir, run).media("img")
    assert _pixels(stored.path).tolist() == [[0, 0, 128, 255, 255, 0]]


def _figure(*, width_px: int, height_px: int) -> Any:
    """A pyplot figure of the given size in pixels: white, with a red square in the middle."""
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(width_px / 50, height_px / 50), dpi=50)
    fig.add_axes((0.25, 0.25, 0.5, 0.5)).set_facecolor("red")
    return fig


@pytest.mark.parametrize("close", [True, False])
def test_sb3_figure_records_are_stored_as_the_drawn_figure(close: bool, run: rltrack.Run, store_dir: Path) -> None:
    fig = _figure(width_px=120, height_px=80)
    import matplotlib.pyplot as plt

    try:
        _dump(_logger(run), {"plots/value": Figure(fig, close=close)}, step=64)
        assert plt.fignum_exists(fig.number) is not close
    finally:
        plt.close(fig)
    (stored,) = read_run(store_dir, run).media("plots/value")
    pixels = _pixels(stored.path)
    assert stored.step == 64 and pixels.shape == (80, 120, 3)  # opaque figures drop the alpha channel
    assert pixels[0, 0].tolist() == [255, 255, 255] and pixels[40, 60].tolist() == [255, 0, 0]


def test_a_figure_on_a_non_agg_canvas_is_drawn_and_keeps_its_canvas(run: rltrack.Run, store_dir: Path) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(2, 1), dpi=40)
    svg = FigureCanvasSVG(fig)
    _dump(_logger(run), {"plot": Figure(fig, close=True)}, step=3)
    assert fig.canvas is svg
    (stored,) = read_run(store_dir, run).media("plot")
    assert _pixels(stored.path).shape == (40, 80, 3)


BAD_RECORDS: dict[str, tuple[Callable[[], Any], str]] = {
    # name: (the record, a phrase of the warning)
    "unknown_letter": (lambda: Image(_rgb(), "HWX"), "dataformats='HWX'"),
    "repeated_letter": (lambda: Image(_rgb(), "HHW"), "dataformats='HHW'"),
    "too_few_letters": (lambda: Image(_rgb(), "HW"), r"dataformats='HW' for an array of shape \(6, 10, 3\)"),
    "not_a_string": (lambda: Image(_rgb(), None), "dataformats=None"),
    "two_channels": (lambda: Image(_rgb()[:, :, :2], "HWC"), "has 2 channels"),
    "int_out_of_range": (lambda: Image(np.full((4, 4), 300, dtype=np.int16), "HW"), "'int16' with values outside"),
    "not_a_figure": (lambda: Figure("not a figure", close=False), "could not be drawn"),
    "missing_file": (lambda: Image("/nonexistent/frame.png", "HWC"), "is not an existing file"),
}


@pytest.mark.parametrize("name", sorted(BAD_RECORDS))
def test_a_bad_image_record_is_skipped_with_one_warning_and_nothing_else_is_lost(
    name: str, run: rltrack.Run, store_dir: Path
) -> None:
    make, phrase = BAD_RECORDS[name]
    good, logger = Image(_rgb(), "HWC"), _logger(run)
    with pytest.warns(RltrackWarning, match=phrase) as caught:
        for step in (10, 20):
            _dump(logger, {"bad": make(), "good": good, "train/loss": 0.5}, step=step)
    assert len(caught) == 1 and "'bad'" in str(caught[0].message)
    view = read_run(store_dir, run)
    assert {m.key for m in view.media()} == {"good"}
    assert [m.step for m in view.media("good")] == [10, 20]
    assert view.series("train/loss")[0].tolist() == [10, 20]


def test_image_and_figure_records_land_through_the_callback_at_sb3s_step(run: rltrack.Run, store_dir: Path) -> None:
    from stable_baselines3.common.callbacks import BaseCallback

    fig = _figure(width_px=60, height_px=40)

    class RecordPictures(BaseCallback):  # type: ignore[misc]  # the pattern of SB3's docs
        def _on_step(self) -> bool:
            if self.n_calls == 1:
                self.logger.record("obs/frame", Image(_rgb(), "HWC"), exclude=NOT_TEXT)
                self.logger.record("plots/value", Figure(fig, close=True), exclude=NOT_TEXT)
            return True

    model = PPO("MlpPolicy", "CartPole-v1", n_steps=64, batch_size=64, n_epochs=1, **TINY_PPO)
    model.learn(64, callback=CallbackList([RecordPictures(), RLTrackCallback(run)]))
    media = read_run(store_dir, run).media()
    assert [(m.key, m.step, m.meta["width"], m.meta["height"]) for m in media] == [
        ("obs/frame", 64, WIDTH, HEIGHT),
        ("plots/value", 64, 60, 40),
    ]
