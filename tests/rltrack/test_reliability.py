"""Reliability with real processes and a real store: kills, concurrency, two writers in one run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import rltrack
from rltrack.store import reader as store_reader


def _spawn(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


KILLED_WRITER = """
    import sys, rltrack
    run = rltrack.init(project="crash", dir=sys.argv[1], system_metrics=False)
    print(run.id, flush=True)
    for i in range(5000):
        run.log({"x": float(i), "y": -float(i)}, step=i)
    run.flush()
    print("flushed", flush=True)
    i = 5000
    while True:  # keeps logging until killed
        run.log({"x": float(i), "y": -float(i)}, step=i)
        i += 1
"""


def test_sigkill_mid_logging_keeps_everything_flushed_and_reads_as_crashed(store_dir: Path) -> None:
    proc = _spawn(KILLED_WRITER, str(store_dir))
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    assert proc.stdout.readline().strip() == "flushed"
    proc.send_signal(signal.SIGKILL)
    proc.communicate()  # reaps it and closes the pipes
    view = rltrack.Api(store_dir).run(run_id)
    assert view.state == "crashed"
    steps, _, values = view.series("x")
    # Everything logged before the flush is there, in order, with nothing torn.
    assert steps.shape[0] >= 5000
    np.testing.assert_array_equal(steps[:5000], np.arange(5000))
    np.testing.assert_array_equal(values, steps.astype(float))
    np.testing.assert_array_equal(view.series("y")[2][: steps.shape[0]], -steps.astype(float))


def test_stale_heartbeat_from_another_host_reads_as_crashed(store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = rltrack.init(project="p", dir=store_dir, system_metrics=False)
    run.flush()
    monkeypatch.setattr(store_reader, "CRASH_AFTER_S", -1.0)  # any heartbeat is now "too old"
    assert rltrack.Api(store_dir).run(run.id).state == "crashed"
    monkeypatch.undo()
    run.finish()
    assert rltrack.Api(store_dir).run(run.id).state == "finished"


PARALLEL_WRITER = """
    import sys, rltrack
    run = rltrack.init(project="parallel", dir=sys.argv[1], name=sys.argv[2], system_metrics=False)
    for i in range(50_000):
        run.log({"value": float(i)}, step=i)
    run.finish()
    print(run.id)
"""


def test_four_processes_write_one_store_at_once_without_loss(store_dir: Path) -> None:
    procs = [_spawn(PARALLEL_WRITER, str(store_dir), f"writer-{n}") for n in range(4)]
    outputs = [p.communicate(timeout=240) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "locked" not in err
    api = rltrack.Api(store_dir)
    runs = api.runs("parallel")
    assert sorted(r.name for r in runs) == [f"writer-{n}" for n in range(4)]
    for r in runs:
        steps, _, values = r.series("value")
        np.testing.assert_array_equal(steps, np.arange(50_000))
        np.testing.assert_array_equal(values, np.arange(50_000, dtype=float))
        assert r.state == "finished"


REAL_WRITER = """
    import sys, rltrack
    run = rltrack.init(id=sys.argv[2], resume="must", source="real", dir=sys.argv[1], system_metrics=False)
    for i in range(20_000):
        run.log({"episode/return": float(i)}, step=i)
    run.finish()
"""


def test_second_process_writes_the_same_run_under_another_source(store_dir: Path) -> None:
    run = rltrack.init(project="sim2real", dir=store_dir, system_metrics=False)
    run.flush()
    proc = _spawn(REAL_WRITER, str(store_dir), run.id)
    for i in range(20_000):
        run.log({"episode/return": -float(i)}, step=i)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    # The robot's process finishing does not end the training run.
    assert rltrack.Api(store_dir).run(run.id).state == "running"
    run.finish()
    view = rltrack.Api(store_dir).run(run.id)
    assert view.state == "finished"
    assert view.sources == ["sim", "real"]
    np.testing.assert_array_equal(view.series("episode/return", source="sim")[2], -np.arange(20_000.0))
    np.testing.assert_array_equal(view.series("episode/return", source="real")[2], np.arange(20_000.0))
    assert view.summary_of("real")["episode/return"] == 19_999.0


def test_attaching_under_the_owner_source_while_it_runs_is_refused(store_dir: Path) -> None:
    run = rltrack.init(project="p", dir=store_dir, system_metrics=False)
    with pytest.raises(rltrack.RltrackError, match="attach with another source"):
        rltrack.init(id=run.id, resume="must", dir=store_dir, system_metrics=False)
    run.finish()


def test_resume_allow_continues_the_steps_of_a_finished_run(store_dir: Path) -> None:
    first = rltrack.init(project="p", id="resumable", dir=store_dir, system_metrics=False)
    first.log({"x": 1.0})
    first.log({"x": 2.0})
    first.finish()
    second = rltrack.init(id="resumable", resume="allow", dir=store_dir, system_metrics=False)
    assert second.step == 2
    second.log({"x": 3.0})
    second.finish()
    view = rltrack.Api(store_dir).run("resumable")
    assert view.series("x")[0].tolist() == [0, 1, 2]
    assert view.state == "finished"


def test_a_resumed_run_logging_media_at_a_used_step_keeps_the_earlier_file(store_dir: Path) -> None:
    first = rltrack.init(project="p", id="pics", dir=store_dir, system_metrics=False, quiet=True)
    first.log({"img": rltrack.Image(np.zeros((4, 4, 3), np.uint8))}, step=3)
    first.finish()
    second = rltrack.init(id="pics", resume="allow", dir=store_dir, system_metrics=False, quiet=True)
    second.log({"img": rltrack.Image(np.full((4, 4, 3), 255, np.uint8))}, step=3)
    second.finish()
    rows = rltrack.Api(store_dir).run("pics").media("img")
    assert [r.step for r in rows] == [3, 3] and rows[0].path != rows[1].path
    from rltrack.media.image import encode_png

    black, white = (encode_png(np.full((4, 4, 3), v, np.uint8)) for v in (0, 255))
    assert [r.path.read_bytes() for r in rows] == [black, white]  # each row still shows the image it logged


def test_resume_must_with_an_unknown_id_raises(store_dir: Path) -> None:
    with pytest.raises(rltrack.errors.RunNotFoundError, match="no run has id 'nope'"):
        rltrack.init(id="nope", resume="must", dir=store_dir, system_metrics=False)


def test_existing_id_without_resume_raises_and_leaves_the_run_intact(store_dir: Path) -> None:
    run = rltrack.init(project="p", id="taken", dir=store_dir, system_metrics=False)
    run.log({"x": 1.0})
    run.finish()
    with pytest.raises(rltrack.errors.RunExistsError, match="run id 'taken' already exists"):
        rltrack.init(id="taken", dir=store_dir, system_metrics=False)
    assert rltrack.Api(store_dir).run("taken").series("x")[2].tolist() == [1.0]


def test_sigterm_flushes_and_marks_failed(store_dir: Path) -> None:
    code = """
        import sys, rltrack
        run = rltrack.init(project="p", dir=sys.argv[1], system_metrics=False)
        for i in range(1000):
            run.log({"x": float(i)})
        print(run.id, flush=True)
        sys.stdin.readline()  # wait to be terminated
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), str(store_dir)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGTERM
    view = rltrack.Api(store_dir).run(run_id)
    assert (view.state, view.reason) == ("failed", "terminated by SIGTERM")
    assert view.series("x")[2].shape[0] == 1000


def test_ctrl_c_flushes_and_marks_failed(store_dir: Path) -> None:
    code = """
        import sys, rltrack
        run = rltrack.init(project="p", dir=sys.argv[1], system_metrics=False)
        for i in range(1000):
            run.log({"x": float(i)})
        print(run.id, flush=True)
        sys.stdin.readline()  # wait for Ctrl-C
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), str(store_dir)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert "KeyboardInterrupt" in err, (proc.returncode, run_id, out, err)
    view = rltrack.Api(store_dir).run(run_id)
    assert (view.state, view.reason) == ("failed", "KeyboardInterrupt")
    assert view.series("x")[2].shape[0] == 1000


def test_uncaught_exception_at_exit_marks_failed(store_dir: Path) -> None:
    code = """
        import sys, rltrack
        run = rltrack.init(project="p", dir=sys.argv[1], system_metrics=False)
        run.log({"x": 1.0})
        print(run.id, flush=True)
        raise ValueError("reward exploded")
    """
    proc = _spawn(code, str(store_dir))
    out, _ = proc.communicate(timeout=60)
    view = rltrack.Api(store_dir).run(out.strip())
    assert (view.state, view.reason) == ("failed", "ValueError: reward exploded")
    assert view.series("x")[2].tolist() == [1.0]


def test_normal_exit_without_finish_finishes_the_run(store_dir: Path) -> None:
    code = """
        import sys, rltrack
        run = rltrack.init(project="p", dir=sys.argv[1], system_metrics=False)
        run.log({"x": 1.0})
        print(run.id, flush=True)
    """
    proc = _spawn(code, str(store_dir))
    out, _ = proc.communicate(timeout=60)
    view = rltrack.Api(store_dir).run(out.strip())
    assert view.state == "finished"
    assert view.series("x")[2].tolist() == [1.0]


def test_exit_hooks_are_not_installed_for_disabled_runs(store_dir: Path) -> None:
    assert os.environ.get("RLTRACK_MODE") is None
    run = rltrack.init(dir=store_dir, mode="disabled")
    run.finish()
