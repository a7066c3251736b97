"""``rltrack import-tb`` against an oracle: events written by torch's SummaryWriter, every (tag, step, value)."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
from click.testing import CliRunner

import rltrack
from rltrack.cli import main

pytest.importorskip("tensorboard")
SummaryWriter = pytest.importorskip("torch.utils.tensorboard").SummaryWriter

TAGS = ["charts/episodic_return", "charts/episodic_length", "losses/value_loss", "losses/policy_loss"]
STEPS = range(0, 3000, 10)


def _f32(x: float) -> float:
    return float(np.float32(x))  # what TensorBoard's simple_value keeps


def _write_run(logdir, seed: int) -> dict:
    """Write a run with torch's SummaryWriter; return what each tag must read back as."""
    rng = np.random.default_rng(seed)
    expected: dict = {"scalars": {}, "histograms": {}, "images": {}}
    writer = SummaryWriter(str(logdir))
    for step in STEPS:
        for tag in TAGS:
            value = float(rng.normal() * 10.0 ** rng.integers(-8, 9))
            writer.add_scalar(tag, value, step)
            expected["scalars"].setdefault(tag, []).append((step, _f32(value)))
        exact = float(rng.normal())
        writer.add_scalar("exact/double", exact, step, new_style=True, double_precision=True)
        expected["scalars"].setdefault("exact/double", []).append((step, exact))
    writer.add_scalar("special/nan", float("nan"), 5)
    writer.add_scalar("special/inf", float("-inf"), 6)
    expected["scalars"]["special/nan"] = [(5, float("nan"))]
    expected["scalars"]["special/inf"] = [(6, float("-inf"))]
    for step in (0, 100):
        values = rng.normal(size=1000) + step
        writer.add_histogram("weights/actor", values, step, bins=16)
        expected["histograms"][step] = values
    image = rng.integers(0, 256, size=(3, 5, 7), dtype=np.uint8)
    writer.add_image("obs/frame", image, 7)
    expected["images"][7] = image.transpose(1, 2, 0)
    writer.add_text("hyperparameters", "|param|value|\n|-|-|\n|learning_rate|0.00025|\n|env_id|CartPole-v1|\n"
                    "|anneal_lr|True|\n|seed|1|", 0)  # CleanRL's hyperparameter table
    writer.add_hparams({"gamma": 0.99, "optimizer": "adam"}, {"hparam/score": 2.5}, run_name=None)
    writer.close()
    expected["scalars"]["hparam/score"] = [(0, 2.5)]
    return expected


def _import(path, store_dir, *more: str):
    return CliRunner().invoke(main, ["import-tb", str(path), "--dir", str(store_dir), *more])


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_every_value_written_by_torch_reads_back_at_its_step(tmp_path, store_dir) -> None:
    before_ns = time.time_ns()
    expected = {name: _write_run(tmp_path / "runs" / name, seed) for seed, name in enumerate(["ppo_1", "ppo_2"])}
    after_ns = time.time_ns()

    result = _import(tmp_path / "runs", store_dir, "--project", "cleanrl")

    assert result.exit_code == 0, result.output
    assert "imported 'ppo_1' into run" in result.output and "2 run(s) imported into project 'cleanrl'" in result.output
    runs = {r.name: r for r in rltrack.Api(store_dir).runs("cleanrl")}
    assert set(runs) == {"ppo_1", "ppo_2"}  # add_hparams' timestamp sub-folder joined its run
    for name, want in expected.items():
        run = runs[name]
        assert run.state == "finished"
        assert set(run.keys()) == set(want["scalars"])
        for tag, points in want["scalars"].items():
            steps, t_ns, values = run.series(tag)
            assert steps.tolist() == [s for s, _ in points], tag
            assert all(_same(a, b) for a, (_, b) in zip(values.tolist(), points, strict=True)), tag
            assert ((t_ns >= before_ns - 10**6) & (t_ns <= after_ns + 10**6)).all()
        assert run.config == {"gamma": 0.99, "optimizer": "adam", "learning_rate": 0.00025, "env_id": "CartPole-v1",
                              "anneal_lr": True, "seed": 1}
        _check_histograms(run, want["histograms"])
        _check_images(run, want["images"])


def _check_histograms(run, want: dict) -> None:
    media = run.media("weights/actor")
    assert [m.step for m in media] == sorted(want)
    for m in media:
        values = want[m.step]
        counts, edges = np.histogram(values, bins=16)
        nonzero = np.flatnonzero(counts)
        first, last = nonzero[0], nonzero[-1]
        edges = edges[first : last + 2].copy()
        edges[0], edges[-1] = values.min(), values.max()
        stored = json.loads(m.path.read_text())
        assert stored["counts"] == counts[first : last + 1].tolist()
        assert stored["edges"] == edges.astype(np.float32).astype(np.float64).tolist()
        assert m.meta["count"] == 1000


def _check_images(run, want: dict) -> None:
    from PIL import Image

    (m,) = run.media("obs/frame")
    assert (m.kind, m.step, m.meta) == ("image", 7, {"width": 7, "height": 5, "format": "png"})
    with Image.open(m.path) as img:
        assert np.array_equal(np.asarray(img.convert("RGB")), want[m.step])


def _corrupt(path, at: float) -> None:
    data = bytearray(path.read_bytes())
    i = int(len(data) * at)
    data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_corrupt_file_names_the_file_and_keeps_what_was_imported(tmp_path, store_dir) -> None:
    good = _write_run(tmp_path / "runs" / "a_good", 0)
    _write_run(tmp_path / "runs" / "b_bad", 1)
    (bad_file,) = (tmp_path / "runs" / "b_bad").glob("events.out.tfevents.*")
    _corrupt(bad_file, 0.5)

    result = _import(tmp_path / "runs", store_dir)

    assert result.exit_code == 1
    assert f"TensorBoard event file {str(bad_file)!r} is corrupt after " in result.output
    assert "failed event crc32 check" in result.output or "failed header crc32 check" in result.output
    assert "marked failed; runs imported before it are kept" in result.output
    runs = {r.name: r for r in rltrack.Api(store_dir).runs()}
    assert runs["a_good"].state == "finished"
    assert runs["a_good"].series(TAGS[0])[0].tolist() == [s for s, _ in good["scalars"][TAGS[0]]]
    bad = runs["b_bad"]
    assert bad.state == "failed" and "is corrupt after" in (bad.reason or "")
    steps = bad.series(TAGS[0])[0].tolist()
    assert 0 < len(steps) < len(STEPS) and steps == list(STEPS)[: len(steps)]  # everything before the bad record


def test_a_file_cut_inside_a_record_is_an_error_naming_it(tmp_path, store_dir) -> None:
    _write_run(tmp_path / "run", 0)
    (file,) = (tmp_path / "run").glob("events.out.tfevents.*")
    file.write_bytes(file.read_bytes()[:-7])

    result = _import(file, store_dir)

    assert result.exit_code == 1
    assert f"{str(file)!r} has truncated record" in result.output
    (run,) = rltrack.Api(store_dir).runs()
    assert run.state == "failed" and run.name == "run"
    assert run.series("exact/double")[0].tolist() == list(STEPS)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "nothing", "does not exist"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "no TensorBoard event files (events.out.tfevents.*) under"),
        (lambda p: (p / "x.txt").write_text("hi") and p / "x.txt", "is not a TensorBoard event file"),
    ],
)
def test_bad_paths_create_no_run(tmp_path, store_dir, make, message) -> None:
    result = _import(make(tmp_path), store_dir)

    assert result.exit_code != 0 and message in result.output, result.output
    assert not (store_dir / "rltrack.db").exists()


def test_name_is_for_one_run_and_odd_tags_and_steps_are_counted_not_fatal(tmp_path, store_dir) -> None:
    for name in ("a", "b"):
        writer = SummaryWriter(str(tmp_path / "runs" / name))
        writer.add_scalar("ok", 1.0, 3)
        writer.add_scalar("step", 2.0, 3)  # a reserved key
        writer.add_scalar("early", 3.0, -1)
        writer.close()

    refused = _import(tmp_path / "runs", store_dir, "--name", "x")
    result = _import(tmp_path / "runs" / "a", store_dir, "--name", "renamed")

    assert refused.exit_code == 2 and "--name names one run but" in refused.output
    assert result.exit_code == 0, result.output
    assert "1 values at a negative step" in result.output and "tag 'step' is not a valid key" in result.output
    (run,) = rltrack.Api(store_dir).runs()
    assert run.name == "renamed" and run.keys() == ["ok"] and run.series("ok")[0].tolist() == [3]
