"""The sync_tensorboard building block: a SummaryWriter in this process, mirrored into a run while it writes."""

from __future__ import annotations

import numpy as np
import pytest

import rltrack
from rltrack.tensorboard import mirror
from rltrack.tensorboard.events import EventFileReader

pytest.importorskip("tensorboard")
SummaryWriter = pytest.importorskip("torch.utils.tensorboard").SummaryWriter

# The eight scalars CleanRL's ppo.py writes every update.
TAGS = ["charts/learning_rate", "losses/value_loss", "losses/policy_loss", "losses/entropy",
        "losses/old_approx_kl", "losses/approx_kl", "losses/clipfrac", "losses/explained_variance"]


@pytest.mark.parametrize("package", ["torch.utils.tensorboard", "tensorboardX"])
def test_a_cleanrl_style_loop_reads_back_every_value_at_its_step(tmp_path, package) -> None:
    writer_type = pytest.importorskip(package).SummaryWriter
    logdir = tmp_path / "runs" / "CartPole-v1__ppo__1"
    run = rltrack.init(project="cleanrl", dir=tmp_path / "store", system_metrics=False, quiet=True)
    sync = mirror(run, logdir, interval_s=0.05)  # started before the writer makes the folder, as in init()
    writer = writer_type(str(logdir))
    rng = np.random.default_rng(0)
    written: dict[str, list[tuple[int, float]]] = {tag: [] for tag in TAGS}
    for update in range(300):
        global_step = update * 512
        for tag in TAGS:
            value = float(rng.normal())
            writer.add_scalar(tag, value, global_step)
            written[tag].append((global_step, float(np.float32(value))))
        if update == 150:
            writer.flush()
            sync.poll()  # what the writer flushed is in the run before it closes
            if package == "tensorboardX":  # its flush() leaves what its queue thread holds
                assert sync.logged.get("scalars", 0) <= 151 * len(TAGS)
            else:
                assert sync.logged["scalars"] == 151 * len(TAGS)
    writer.add_histogram("actions", rng.normal(size=100), 299 * 512, bins=8)
    writer.add_hparams({"lr": 2.5e-4, "env": "CartPole-v1"}, {"hparam/return": 500.0})
    writer.close()
    sync.stop()
    run.finish()

    view = rltrack.Api(tmp_path / "store").run(run.id)
    assert sorted(view.keys()) == sorted([*TAGS, "hparam/return"])
    assert view.config == {"lr": 2.5e-4, "env": "CartPole-v1"}
    for tag, points in written.items():
        steps, _, values = view.series(tag)
        assert list(zip(steps.tolist(), values.tolist(), strict=True)) == points, tag
    (hist,) = view.media("actions")
    assert (hist.kind, hist.step, hist.meta["count"]) == ("histogram", 299 * 512, 100)
    assert sync.errors == [] and view.summary.get("_rltrack/errors/tensorboard") is None


def test_a_record_cut_at_the_end_is_read_once_complete(tmp_path) -> None:
    source = tmp_path / "source"
    writer = SummaryWriter(str(source))
    for step in range(20):
        writer.add_scalar("x", float(step), step)
    writer.close()
    (file,) = source.glob("events.out.tfevents.*")
    data = file.read_bytes()
    tailed = tmp_path / "tailed" / file.name
    tailed.parent.mkdir()
    tailed.write_bytes(data[: len(data) // 2])  # the writer's buffer reached the disk half-way through a record

    run = rltrack.init(project="tail", dir=tmp_path / "store", system_metrics=False, quiet=True)
    sync = mirror(run, tailed.parent, interval_s=60)  # polled by hand below
    sync.poll()
    first = sync.logged.get("scalars", 0)
    with open(tailed, "ab") as f:
        f.write(data[len(data) // 2 :])
    sync.stop()
    run.finish()

    assert 0 < first < 20
    steps, _, values = rltrack.Api(tmp_path / "store").run(run.id).series("x")
    assert steps.tolist() == list(range(20)) and values.tolist() == [float(s) for s in range(20)]
    assert EventFileReader(tailed).read(final=True)  # the file is whole again


def test_a_corrupt_file_is_counted_in_the_run_and_the_others_go_on(tmp_path) -> None:
    good = SummaryWriter(str(tmp_path / "logs"))
    bad = SummaryWriter(str(tmp_path / "logs" / "eval"))
    for step in range(10):
        good.add_scalar("train/x", float(step), step)
        bad.add_scalar("y", float(step), step)
    good.close()
    bad.close()
    (bad_file,) = (tmp_path / "logs" / "eval").glob("events.out.tfevents.*")
    data = bytearray(bad_file.read_bytes())
    data[-10] ^= 0xFF
    bad_file.write_bytes(bytes(data))

    run = rltrack.init(project="tail", dir=tmp_path / "store", system_metrics=False, quiet=True)
    sync = mirror(run, tmp_path / "logs", interval_s=60)
    with pytest.warns(rltrack.errors.RltrackWarning, match="tensorboard failed"):
        sync.stop()
    run.finish()

    view = rltrack.Api(tmp_path / "store").run(run.id)
    assert view.series("train/x")[0].tolist() == list(range(10))
    assert view.series("eval/y")[0].tolist() == list(range(9))  # the good records of the bad file, prefixed
    assert view.summary["_rltrack/errors/tensorboard"] == 1
    assert len(sync.errors) == 1 and str(bad_file) in sync.errors[0]


def test_skip_existing_leaves_out_earlier_experiments_and_add_follows_more_writers(tmp_path) -> None:
    old = SummaryWriter(str(tmp_path / "runs" / "old"))
    old.add_scalar("x", 1.0, 0)
    old.close()
    run = rltrack.init(project="tail", dir=tmp_path / "store", system_metrics=False, quiet=True)
    sync = mirror(run, tmp_path / "runs", interval_s=60, skip_existing=True)
    new = SummaryWriter(str(tmp_path / "runs" / "new"))
    other = SummaryWriter(str(tmp_path / "elsewhere"))
    sync.add(tmp_path / "elsewhere")
    for step in range(3):
        new.add_scalar("x", float(step), step)
        other.add_scalar("y", float(-step), step)
    new.close()
    other.close()
    sync.stop()
    run.finish()

    view = rltrack.Api(tmp_path / "store").run(run.id)
    assert sorted(view.keys()) == ["new/x", "y"]
    assert view.series("new/x")[2].tolist() == [0.0, 1.0, 2.0] and view.series("y")[2].tolist() == [0.0, -1.0, -2.0]


@pytest.mark.parametrize("package", ["torch.utils.tensorboard", "tensorboardX"])
def test_follow_writers_takes_each_new_writers_events_once(tmp_path, package) -> None:
    writer_type = pytest.importorskip(package).SummaryWriter
    run = rltrack.init(project="follow", dir=tmp_path / "store", system_metrics=False, quiet=True)
    # The writer's folder is also under a tailed log dir: its values must still land once.
    sync = mirror(run, tmp_path / "runs", interval_s=0.01, follow_writers=True)
    writer = writer_type(str(tmp_path / "runs" / "ppo"), flush_secs=3600)
    elsewhere = writer_type(str(tmp_path / "somewhere" / "deep"), flush_secs=3600)
    for step in range(200):
        writer.add_scalar("charts/x", float(step), step)
        elsewhere.add_scalar("y", float(-step), step)
    writer.add_histogram("h", np.arange(10.0), 199)
    sync.stop()  # the writers are still open, their events maybe not on disk: stop() has them all
    run.finish()
    after = writer_type(str(tmp_path / "later"))  # made after stop(): not followed
    after.add_scalar("late", 1.0, 0)
    after.close()
    writer.close()
    elsewhere.close()

    view = rltrack.Api(tmp_path / "store").run(run.id)
    assert sorted(view.keys()) == ["ppo/charts/x", "y"]
    assert view.series("ppo/charts/x")[2].tolist() == [float(s) for s in range(200)]
    assert view.series("y")[0].tolist() == list(range(200))
    assert [m.meta["count"] for m in view.media("ppo/h")] == [10]


def test_a_followed_writer_with_odd_values_stores_the_good_ones_and_counts_the_rest(tmp_path) -> None:
    from tensorboard.compat.proto.summary_pb2 import Summary

    run = rltrack.init(project="odd", dir=tmp_path / "store", system_metrics=False, quiet=True)
    sync = mirror(run, None, interval_s=0.01, follow_writers=True)
    writer = SummaryWriter(str(tmp_path / "runs"))
    writer.add_scalar("loss", float("nan"), 0)
    writer.add_scalar("bad//tag", 1.0, 0)  # TensorBoard takes it; a run key cannot have an empty part
    writer.add_scalar("loss", 2.0, -3)  # TensorBoard allows negative steps; a run's x-axis starts at 0
    # One event holding two scalars (as TF1 summaries do), then a histogram and a scalar at the same step.
    two = Summary(value=[Summary.Value(tag="a", simple_value=1.5), Summary.Value(tag="b", simple_value=-2.5)])
    writer._get_file_writer().add_summary(two, global_step=4)
    writer.add_histogram("h", np.arange(5.0), 4)
    writer.add_scalar("a", 3.5, 4)  # the same key again at one step: both points kept, in order
    writer.add_scalar("loss", float("inf"), 5)
    sync.stop()
    assert writer._get_file_writer().event_writer.__dict__["_rltrack_taps"] == ()  # later events are not held
    run.finish()
    writer.close()

    view = rltrack.Api(tmp_path / "store").run(run.id)
    assert sorted(view.keys()) == ["a", "b", "loss"]
    steps, _, values = view.series("loss")
    assert steps.tolist() == [0, 5] and np.isnan(values[0]) and values[1] == float("inf")
    assert view.series("a")[0].tolist() == [4, 4] and view.series("a")[2].tolist() == [1.5, 3.5]
    assert view.series("b")[2].tolist() == [-2.5]
    assert [m.meta["count"] for m in view.media("h")] == [5]
    assert sync.skipped == {"values at a negative step": 1, next(k for k in sync.skipped if "bad//tag" in k): 1}
    assert view.summary["_rltrack/errors/tensorboard"] == 1
    assert "1 values at a negative step" in sync.errors[-1] and "bad//tag" in sync.errors[-1]
