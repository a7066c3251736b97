"""init(fork_from=...) and init(resume_from=...): branched histories read back exactly through Api."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import rltrack
from rltrack.errors import InvalidValueError, RltrackError, RltrackWarning, RunExistsError, RunNotFoundError


def _init(store_dir: Path, **kwargs: object) -> rltrack.Run:
    return rltrack.init(dir=store_dir, system_metrics=False, quiet=True, **kwargs)  # type: ignore[arg-type]


def _value(step: int) -> float:
    return step * 0.5 - 3.25


def _source_run(store_dir: Path, *, last: int = 299) -> str:
    """A finished run: 'loss' every step to ``last``, 'eval' every 50, a real-robot source and an image."""
    run = _init(store_dir, project="cartpole", name="source <run>", config={"lr": 0.1, "seed": 7})
    for step in range(last + 1):
        data: dict[str, object] = {"loss": _value(step)}
        if step % 50 == 0:
            data["eval"] = float(step)
        if step in (100, 250):
            data["frame"] = rltrack.Image(np.full((4, 4, 3), step % 256, dtype=np.uint8))
        run.log(data, step=step)
    run.finish()
    robot = _init(store_dir, id=run.id, resume="allow", source="real")
    for step in (120, 180, 260):
        robot.log({"odom/speed": step / 100}, step=step)
    robot.finish()
    return run.id


def _steps_values(view: rltrack.RunView, key: str, source: str | None = None) -> tuple[list[int], list[float]]:
    steps, _, values = view.series(key, source=source)
    return steps.tolist(), values.tolist()


def test_fork_copies_history_up_to_the_step_and_continues(store_dir: Path) -> None:
    parent = _source_run(store_dir)
    fork = _init(store_dir, fork_from=f"{parent}?_step=200", config={"lr": 0.01, "clip": 0.2})
    assert fork.id != parent and fork.step == 201 and fork.project == "cartpole"
    for step in range(201, 231):
        fork.log({"loss": -float(step)})
    fork.finish()

    api = rltrack.Api(store_dir)
    view = api.run(fork.id)
    steps, values = _steps_values(view, "loss")
    assert steps == list(range(231))
    assert values == [_value(s) for s in range(201)] + [-float(s) for s in range(201, 231)]
    assert _steps_values(view, "eval") == ([0, 50, 100, 150, 200], [0.0, 50.0, 100.0, 150.0, 200.0])
    # The robot's values up to the fork point come along under their own source.
    assert view.sources == ["sim", "real"]
    assert _steps_values(view, "odom/speed", "real") == ([120, 180], [1.2, 1.8])
    # Media up to the step, files copied into the fork's own folder.
    frames = view.media("frame")
    assert [m.step for m in frames] == [100] and frames[0].path.is_file()
    assert frames[0].path.is_relative_to(view.dir)
    assert view.config == {"lr": 0.01, "seed": 7, "clip": 0.2}
    assert view.metadata["fork"] == {"run": parent, "step": 200, "project": "cartpole"}
    assert view.summary["loss"] == -230.0 and view.summary["eval"] == 200.0
    assert view.summary_of("real")["odom/speed"] == 1.8
    # The parent is untouched.
    original = api.run(parent)
    assert _steps_values(original, "loss") == (list(range(300)), [_value(s) for s in range(300)])
    assert [m.step for m in original.media("frame")] == [100, 250]


def test_fork_at_step_zero_and_at_the_last_step(store_dir: Path) -> None:
    parent = _source_run(store_dir, last=20)
    first = _init(store_dir, fork_from=f"{parent}?_step=0")
    first.finish()
    last = _init(store_dir, fork_from=f"{parent}?_step=20", name="at-end", id="fork-at-end")
    last.finish()
    api = rltrack.Api(store_dir)
    assert _steps_values(api.run(first.id), "loss") == ([0], [_value(0)])
    view = api.run("fork-at-end")
    assert view.name == "at-end"
    assert _steps_values(view, "loss") == (list(range(21)), [_value(s) for s in range(21)])


def test_resume_from_rewinds_the_same_run_and_archives_the_rest(store_dir: Path) -> None:
    parent = _source_run(store_dir)
    with pytest.warns(RltrackWarning, match="rewound to step 200"):
        run = _init(store_dir, resume_from=f"{parent}?_step=200", config={"clip": 0.3})
    assert run.id == parent and run.step == 201
    for step in range(201, 221):
        run.log({"loss": 100.0 + step})
    run.finish()

    api = rltrack.Api(store_dir)
    view = api.run(parent)
    assert view.state == "finished"
    assert _steps_values(view, "loss") == (
        list(range(221)), [_value(s) for s in range(201)] + [100.0 + s for s in range(201, 221)]
    )
    assert _steps_values(view, "eval")[0] == [0, 50, 100, 150, 200]
    assert _steps_values(view, "odom/speed", "real") == ([120, 180], [1.2, 1.8])
    assert [m.step for m in view.media("frame")] == [100]
    assert view.config == {"lr": 0.1, "seed": 7, "clip": 0.3}
    assert view.summary["loss"] == 320.0 and view.summary["eval"] == 200.0
    assert view.summary_of("real")["odom/speed"] == 1.8
    (rewind,) = view.metadata["rewinds"]
    assert rewind["step"] == 200 and rewind["removed_values"] == 99 + 1 + 1  # loss 201..299, eval 250, real 260

    # Everything the rewind took out is in the archive run, exactly as it was.
    archive = api.run(rewind["archive"])
    assert archive.id == f"{parent}-rewound-1" and "rewound" in archive.tags
    assert archive.metadata["rewound"]["run"] == parent and archive.metadata["rewound"]["step"] == 200
    assert _steps_values(archive, "loss") == (list(range(300)), [_value(s) for s in range(300)])
    assert _steps_values(archive, "odom/speed", "real") == ([120, 180, 260], [1.2, 1.8, 2.6])
    frames = archive.media("frame")
    assert [m.step for m in frames] == [100, 250] and all(m.path.is_file() for m in frames)
    assert archive.summary["loss"] == _value(299) and archive.config == {"lr": 0.1, "seed": 7}
    assert archive.state == "finished"


def test_a_second_rewind_gets_its_own_archive(store_dir: Path) -> None:
    parent = _source_run(store_dir, last=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RltrackWarning)
        _init(store_dir, resume_from=f"{parent}?_step=20").finish()
        _init(store_dir, resume_from=f"{parent}?_step=10").finish()
    api = rltrack.Api(store_dir)
    rewinds = api.run(parent).metadata["rewinds"]
    assert [(r["step"], r["archive"]) for r in rewinds] == [(20, f"{parent}-rewound-1"), (10, f"{parent}-rewound-2")]
    assert _steps_values(api.run(parent), "loss")[0] == list(range(11))
    assert _steps_values(api.run(f"{parent}-rewound-2"), "loss")[0] == list(range(21))


@pytest.mark.parametrize(
    "spec", ["abc", "abc?_step=", "abc?_step=-1", "abc?step=10", "a/b?_step=1", "abc?_step=1x", 200,
             "abc?_step=99999999999999999999"],
)
def test_a_malformed_spec_is_refused_before_anything_is_stored(store_dir: Path, spec: object) -> None:
    for kind in ("fork_from", "resume_from"):
        with pytest.raises(InvalidValueError, match=r"RUNID\?_step=N"):
            _init(store_dir, **{kind: spec})
    assert not store_dir.exists()


def test_clear_errors_for_missing_runs_steps_and_both(store_dir: Path) -> None:
    parent = _source_run(store_dir, last=30)
    with pytest.raises(InvalidValueError, match="pass one"):
        _init(store_dir, fork_from=f"{parent}?_step=1", resume_from=f"{parent}?_step=1")
    with pytest.raises(RunNotFoundError, match="no run has id 'nope'"):
        _init(store_dir, fork_from="nope?_step=1")
    with pytest.raises(RunNotFoundError, match="no run has id 'nope'"):
        _init(store_dir, resume_from="nope?_step=1")
    for kind in ("fork_from", "resume_from"):
        # The last step of any source: the robot logged up to 260.
        with pytest.raises(InvalidValueError, match="logged up to step 260; pick a step between 0 and 260"):
            _init(store_dir, **{kind: f"{parent}?_step=261"})
    with pytest.raises(InvalidValueError, match="names another"):
        _init(store_dir, resume_from=f"{parent}?_step=1", id="other")
    with pytest.raises(RunExistsError):
        _init(store_dir, fork_from=f"{parent}?_step=1", id=parent)
    # Nothing was changed by the refusals.
    view = rltrack.Api(store_dir).run(parent)
    assert _steps_values(view, "loss")[0] == list(range(31)) and "rewinds" not in view.metadata
    assert [r.id for r in rltrack.Api(store_dir).runs()] == [parent]


def test_a_running_run_is_not_rewound(store_dir: Path) -> None:
    live = _init(store_dir)
    live.log({"x": 1.0}, step=5)
    live.flush()
    with pytest.raises(RltrackError, match="still being written"):
        _init(store_dir, resume_from=f"{live.id}?_step=2")
    live.finish()
    assert _steps_values(rltrack.Api(store_dir).run(live.id), "x") == ([5], [1.0])


def test_online_mode_says_branching_needs_the_local_store(store_dir: Path) -> None:
    pytest.importorskip("httpx")
    with pytest.raises(RltrackError, match="local store"):
        _init(store_dir, url="http://127.0.0.1:9", fork_from="abc?_step=1")


def test_the_fork_link_is_plain_json_in_the_store(store_dir: Path) -> None:
    parent = _source_run(store_dir, last=5)
    fork = _init(store_dir, fork_from=f"{parent}?_step=3")
    fork.finish()
    meta = rltrack.Api(store_dir).run(fork.id).metadata
    assert json.loads(json.dumps(meta["fork"])) == {"run": parent, "step": 3, "project": "cartpole"}
    assert "python" in json.dumps(meta)  # the fork's own metadata (host, python, ...) is collected too


def test_a_rewind_waits_for_a_second_source_still_writing(store_dir: Path) -> None:
    import subprocess
    import sys

    sim = rltrack.init(project="p", id="twosrc", dir=store_dir, system_metrics=False, quiet=True)
    for step in range(5):
        sim.log({"x": float(step)}, step=step)
    sim.flush()
    # The robot's writer attaches as source 'real' and keeps going after the owner (sim) has finished.
    robot = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, rltrack\n"
         f"r = rltrack.init(id='twosrc', resume='must', source='real', dir={str(store_dir)!r},"
         " system_metrics=False, quiet=True)\n"
         "r.log({'speed': 0.4}, step=1); r.flush(); print('attached', flush=True)\n"
         "sys.stdin.readline(); r.finish()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert robot.stdout is not None and robot.stdout.readline().strip() == "attached"
        sim.finish()
        with pytest.raises(RltrackError, match=r"still being written by source 'real' \(pid \d+ on "):
            rltrack.init(resume_from="twosrc?_step=2", dir=store_dir, system_metrics=False, quiet=True)
        assert rltrack.Api(store_dir).run("twosrc").series("x")[0].tolist() == [0, 1, 2, 3, 4]  # nothing cut
    finally:
        robot.communicate("\n", timeout=60)
    assert robot.returncode == 0
    with pytest.warns(RltrackWarning, match="rewound to step 2"):
        run = rltrack.init(resume_from="twosrc?_step=2", dir=store_dir, system_metrics=False, quiet=True)
    run.finish()
    assert rltrack.Api(store_dir).run("twosrc").series("x")[0].tolist() == [0, 1, 2]
