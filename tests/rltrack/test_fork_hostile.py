"""fork_from / resume_from against what goes wrong for real: a rewind killed half-way, hostile stores, PostgreSQL.

A rewind is several transactions (the archive, then the cut). These tests kill a real process (SIGKILL) at
each seam and check what a user then sees: every value is in the run or in an archive, the run's record
names its archive whenever values were cut, and running the same ``init(resume_from=...)`` again completes it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import rltrack
from rltrack._fork import Branch, fork, rewind
from rltrack.errors import InvalidValueError, RltrackError, RltrackWarning
from rltrack.store.open import open_database
from rltrack.store.reader import StoreReader
from rltrack.store.writer import NewRun, StoreWriter, WriterInfo
from rltrack.types import MediaRecord

CUT = 50

# Kills this process at one seam of a rewind: before the archive is ended, or just after the cut is stored.
_KILLER = textwrap.dedent("""
    import os, signal, sys, time
    from rltrack.store.writer import StoreWriter
    store_dir, point, spec = sys.argv[1:4]
    if point in ("archive", "pause"):
        original_end = StoreWriter.end
        def end(self, run_id, *args, **kwargs):
            if "-rewound-" in run_id and point == "archive":
                os.kill(os.getpid(), signal.SIGKILL)
            if "-rewound-" in run_id:  # pause: say so, then wait to be let go
                open(store_dir + "/paused", "w").close()
                while not os.path.exists(store_dir + "/go"):
                    time.sleep(0.01)
            return original_end(self, run_id, *args, **kwargs)
        StoreWriter.end = end
    else:
        original_cut = StoreWriter.truncate_after
        def cut(self, *args, **kwargs):
            original_cut(self, *args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)
        StoreWriter.truncate_after = cut
    import rltrack
    rltrack.init(dir=store_dir, resume_from=spec, quiet=True, system_metrics=False)
    print("not killed")
""")


def _init(store_dir: Path, **kwargs: object) -> rltrack.Run:
    return rltrack.init(dir=store_dir, system_metrics=False, quiet=True, **kwargs)  # type: ignore[arg-type]


def _source(store_dir: Path) -> str:
    """A finished run: 'loss' at 0..99, images at 10 and 80, and a 'real' source at 30 and 70."""
    run = _init(store_dir, project="p", id="src", name="source", config={"lr": 0.1})
    for step in range(100):
        data: dict[str, object] = {"loss": float(step)}
        if step in (10, 80):
            data["frame"] = rltrack.Image(np.full((4, 4, 3), step, dtype=np.uint8))
        run.log(data, step=step)
    run.finish()
    robot = _init(store_dir, id="src", resume="allow", source="real")
    for step in (30, 70):
        robot.log({"speed": step / 10}, step=step)
    robot.finish()
    return run.id


def _everything(store_dir: Path, run_id: str) -> dict[str, object]:
    """Every value (per source and key) and media row of a run, as plain lists."""
    view = rltrack.Api(store_dir).run(run_id)
    out: dict[str, object] = {}
    for source in view.sources:
        for key in view.keys(source=source):
            steps, _, values = view.series(key, source=source)
            out[f"{source}/{key}"] = list(zip(steps.tolist(), values.tolist(), strict=True))
    reader = StoreReader(open_database(store_dir, None, create=False))
    out["media"] = sorted((m.source, m.key, m.step) for m in reader.media(run_id))
    return out


def _kill_at(store_dir: Path, point: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _KILLER, str(store_dir), point, f"src?_step={CUT}"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == -9, (result.returncode, result.stdout, result.stderr)


def _rerun(store_dir: Path) -> rltrack.Run:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = _init(store_dir, resume_from=f"src?_step={CUT}")
    assert any(issubclass(w.category, RltrackWarning) and "rewound to step 50" in str(w.message) for w in caught)
    return run


def _cut_of(whole: dict[str, object]) -> dict[str, object]:
    return {k: [p for p in v if p[0] <= CUT] if k != "media" else [m for m in v if m[2] <= CUT]  # type: ignore[union-attr]
            for k, v in whole.items()}


def test_a_rewind_killed_while_archiving_leaves_the_run_whole_and_a_rerun_labels_the_partial_copy(
    store_dir: Path,
) -> None:
    _source(store_dir)
    before = _everything(store_dir, "src")
    _kill_at(store_dir, "archive")

    api = rltrack.Api(store_dir)
    assert _everything(store_dir, "src") == before  # nothing was cut
    # The killed rewind had claimed the run: it reads as its process crashed, with every value kept.
    assert api.run("src").state == "crashed" and "rewinds" not in api.run("src").metadata
    assert api.run("src-rewound-1").state == "crashed"

    run = _rerun(store_dir)
    run.log({"loss": -1.0})
    run.finish()
    api = rltrack.Api(store_dir)
    partial = api.run("src-rewound-1")
    assert partial.state == "failed" and partial.metadata["rewound"]["interrupted"] is True
    reason = partial.reason or ""
    assert "stopped (the process ended)" in reason and "'src' still holds all of it" in reason
    assert _everything(store_dir, "src-rewound-2") == before
    assert [r["archive"] for r in api.run("src").metadata["rewinds"]] == ["src-rewound-2"]
    after = _everything(store_dir, "src")
    assert after["sim/loss"] == [(s, float(s)) for s in range(CUT + 1)] + [(CUT + 1, -1.0)]
    assert after["real/speed"] == [(30, 3.0)] and after["media"] == [("sim", "frame", 10)]


def test_a_rewind_killed_just_after_the_cut_has_recorded_it_with_the_summaries(store_dir: Path) -> None:
    _source(store_dir)
    before = _everything(store_dir, "src")
    _kill_at(store_dir, "cut")

    api = rltrack.Api(store_dir)
    view = api.run("src")
    assert _everything(store_dir, "src") == _cut_of(before)
    assert _everything(store_dir, "src-rewound-1") == before  # the archive was complete before the cut
    (record,) = view.metadata["rewinds"]
    removed = sum(len(v) for k, v in before.items() if k != "media") - sum(
        len(v) for k, v in _cut_of(before).items() if k != "media")  # type: ignore[arg-type]
    assert (record["step"], record["archive"], record["removed_values"]) == (CUT, "src-rewound-1", removed)
    # The summaries were cut in the same transaction: no value from after the step is shown.
    assert view.summary["loss"] == float(CUT)
    assert view.summary_of("real")["speed"] == 3.0

    run = _rerun(store_dir)  # completes it: no second archive (nothing more to keep), the run goes on at 51
    assert run.step == CUT + 1
    run.finish()
    api = rltrack.Api(store_dir)
    assert "interrupted" not in api.run("src-rewound-1").metadata["rewound"]
    assert [r["archive"] for r in api.run("src").metadata["rewinds"]] == ["src-rewound-1"]
    assert sorted(r.id for r in api.runs()) == ["src", "src-rewound-1"] and api.run("src").state == "finished"
    assert _everything(store_dir, "src") == _cut_of(before)


def _hostile_store(store_dir: Path) -> tuple[Path, Path]:
    """A run whose media rows name a file of another run ('..') and a symbolic link to a file outside the store."""
    _source(store_dir)
    victim = _init(store_dir, project="p", id="victim")
    victim.log({"x": 1.0})
    victim.finish()
    secret = store_dir.parent / "secret.txt"
    secret.write_text("not the run's")
    target = store_dir / "runs" / "victim" / "files" / "model.pt"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"weights")
    (store_dir / "runs" / "src" / "media" / "link.png").symlink_to(secret)
    # Written past the checks, as a store copied from elsewhere or an older writer could hold.
    writer = StoreWriter(open_database(store_dir, None, create=False))
    writer.write("src", "sim", owner=False, media=[
        MediaRecord("sim", "stolen", 90, 1, "image", "../victim/files/model.pt", None, {}),
        MediaRecord("sim", "linked", 20, 1, "image", "media/link.png", None, {}),
        MediaRecord("sim", "linked", 95, 1, "image", "media/link.png", None, {}),
    ])
    return target, secret


def test_forks_and_rewinds_never_copy_or_remove_files_outside_the_run(store_dir: Path) -> None:
    target, secret = _hostile_store(store_dir)
    fork = _init(store_dir, fork_from="src?_step=99", id="fork")
    fork.finish()
    fork_dir = store_dir / "runs" / "fork"
    assert not (fork_dir / "media" / "link.png").exists()  # the link's target was not copied in
    assert sorted(p.name for p in (fork_dir / "media").iterdir()) == sorted(
        p.name for p in (store_dir / "runs" / "src" / "media").iterdir() if not p.is_symlink())

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RltrackWarning)
        _init(store_dir, resume_from="src?_step=5").finish()
    assert target.read_bytes() == b"weights" and secret.read_text() == "not the run's"
    assert (store_dir / "runs" / "src" / "media" / "link.png").is_symlink()  # a link is not ours to remove


def test_a_step_past_a_live_runs_stored_values_says_the_run_is_still_running(store_dir: Path) -> None:
    live = _init(store_dir, project="p", id="live")
    live.log({"x": 1.0}, step=3)
    live.flush()
    with pytest.raises(InvalidValueError, match=r"logged up to step 3 .*still running"):
        _init(store_dir, fork_from="live?_step=9")
    live.finish()


def test_resume_from_an_archive_and_a_long_id_keep_archive_ids_unique_and_valid(store_dir: Path) -> None:
    long_id = "r" * 64
    run = _init(store_dir, project="p", id=long_id)
    for step in range(10):
        run.log({"x": float(step)})
    run.finish()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RltrackWarning)
        for step in (8, 6, 4):
            _init(store_dir, resume_from=f"{long_id}?_step={step}").finish()
        archives = [r["archive"] for r in rltrack.Api(store_dir).run(long_id).metadata["rewinds"]]
        assert len(set(archives)) == 3 and all(len(a) <= 64 for a in archives)
        # An archive is an ordinary run: it can itself be rewound (its own archive) and forked.
        _init(store_dir, resume_from=f"{archives[0]}?_step=7").finish()
    api = rltrack.Api(store_dir)
    assert api.run(archives[0]).history()["x"].tolist() == [float(s) for s in range(8)]
    assert len({r.id for r in api.runs()}) == len(list(api.runs())) == 5


def test_rewind_and_fork_on_postgresql(pg_cluster: object, tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    url = pg_cluster.new_database()  # type: ignore[attr-defined]
    db = open_database(tmp_path / "pg", url)
    try:
        store = StoreWriter(db)
        now = time.time_ns()
        who = WriterInfo(host=os.uname().nodename, pid=os.getpid(), pid_started_ns=0, now_ns=now)
        store.create_run(NewRun(id="r", project="p", name="r", group=None, job_type=None, notes=None, tags=(),
                                config={"lr": 1}, source="sim"), who)
        from rltrack.store.chunks import pack

        steps = np.arange(20, dtype=np.int64)
        store.write("r", "sim", batches=[pack("sim", "loss", steps, steps + now, steps * 2.0)],
                    summary={"loss": 38.0})
        store.end("r", "sim", state="finished", reason=None, exit_code=0, ended_ns=now + 1, owner=True)
        start, archive = rewind(store, Branch("resume_from", "r", 7), who, source="sim",
                                run_dir=lambda rid: tmp_path / "pg" / "runs" / rid)
        reader = StoreReader(db)
        assert (start.step, archive) == (8, "r-rewound-1")
        assert reader.series("r", "sim", "loss")[2].tolist() == [s * 2.0 for s in range(8)]
        assert reader.series(archive, "sim", "loss")[2].tolist() == [s * 2.0 for s in range(20)]
        assert reader.summary("r", "sim") == {"loss": 14.0} and reader.summary(archive, "sim") == {"loss": 38.0}
        (record,) = reader.run("r").metadata["rewinds"]
        assert (record["archive"], record["removed_values"]) == ("r-rewound-1", 12)
        branch = fork(store, Branch("fork_from", archive, 15), who, NewRun(
            id="f", project="", name="", group=None, job_type=None, notes=None, tags=(), config={"lr": 2},
            source="sim"), defaults={}, run_dir=lambda rid: tmp_path / "pg" / "runs" / rid, name_for=lambda p: "n")
        assert (branch.step, branch.project, branch.config) == (16, "p", {"lr": 2})
        assert reader.series("f", "sim", "loss")[2].tolist() == [s * 2.0 for s in range(16)]
        assert reader.run("f").metadata["fork"] == {"run": archive, "step": 15, "project": "p"}
        assert reader.summary("f", "sim") == {"loss": 30.0}
    finally:
        db.close()


def test_fork_from_inside_a_sweep_trial_fails_the_trial_with_why_instead_of_being_dropped(store_dir: Path) -> None:
    pytest.importorskip("optuna", reason="sweeps need the sweeps extra")
    from rltrack.sweeps import agent, sweep

    parent = _init(store_dir, project="sw", id="pre")
    for step in range(10):
        parent.log({"score": float(step)})
    parent.finish()
    sweep_id = sweep({"method": "grid", "metric": {"name": "score", "goal": "maximize"},
                      "parameters": {"a": {"values": [1]}}}, project="sw", dir=store_dir)

    def train() -> None:
        run = rltrack.init(fork_from="pre?_step=3")
        run.log({"score": 1.0})

    (result,) = agent(sweep_id, function=train, dir=store_dir, verbose=False)
    assert result.state == "failed"
    assert "inside a sweep trial" in (result.reason or "") and "'pre'" in (result.reason or "")
    assert rltrack.Api(store_dir).run(result.run_id).keys() == []  # nothing was logged as if it were a branch


def test_a_refused_config_change_is_refused_before_the_rewind_cuts_anything(store_dir: Path) -> None:
    import threading

    _source(store_dir)
    before = _everything(store_dir, "src")
    with pytest.raises(InvalidValueError, match=r"config 'lr'=0.2 would change the run's 0.1; nothing was rewound"):
        _init(store_dir, resume_from=f"src?_step={CUT}", config={"lr": 0.2}, allow_val_change=False)
    assert _everything(store_dir, "src") == before
    assert [r.id for r in rltrack.Api(store_dir).runs()] == ["src"]
    assert rltrack.Api(store_dir).run("src").state == "finished"
    assert not [t.name for t in threading.enumerate() if t.name == "rltrack-writer-src"]
    run = _rerun(store_dir)  # the retry the message asks for works
    run.finish()


def test_a_rewind_or_fork_that_fails_while_copying_ends_its_new_run_as_failed_and_partial(store_dir: Path) -> None:
    _source(store_dir)
    before = _everything(store_dir, "src")
    # A file where the archive's and the fork's folders go: copying the media fails (NotADirectoryError).
    for name in ("src-rewound-1", "fk"):
        (store_dir / "runs" / name).write_text("in the way")
    with pytest.raises(OSError):
        _init(store_dir, resume_from=f"src?_step={CUT}")
    with pytest.raises(OSError):
        _init(store_dir, fork_from=f"src?_step={CUT}", id="fk")
    api = rltrack.Api(store_dir)
    archive, fork = api.run("src-rewound-1"), api.run("fk")
    assert archive.state == "failed" and archive.metadata["rewound"]["interrupted"] is True
    assert "stopped (NotADirectoryError)" in (archive.reason or "")
    assert fork.state == "failed" and fork.metadata["fork"] == {"run": "src", "step": CUT, "project": "p",
                                                                "interrupted": True}
    assert "this run may be partial" in (fork.reason or "")
    assert _everything(store_dir, "src") == before and api.run("src").state == "finished"
    _rerun(store_dir).finish()  # the next try archives into a new run and cuts
    assert [r["archive"] for r in rltrack.Api(store_dir).run("src").metadata["rewinds"]] == ["src-rewound-2"]
    assert _everything(store_dir, "src-rewound-2") == before


def test_a_media_file_shared_by_a_kept_and_a_cut_row_stays(store_dir: Path) -> None:
    _source(store_dir)
    view = rltrack.Api(store_dir).run("src")
    (early,) = [m for m in view.media() if m.step == 10]
    # Two rows naming one file (a resumed run that logged media again at a used step writes the same name).
    writer = StoreWriter(open_database(store_dir, None, create=False))
    relative = early.path.relative_to(store_dir / "runs" / "src").as_posix()
    writer.write("src", "sim", owner=False, media=[MediaRecord("sim", "frame", 90, 1, "image", relative, None, {})])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RltrackWarning)
        _init(store_dir, resume_from=f"src?_step={CUT}").finish()
    assert early.path.is_file()
    assert [m.step for m in rltrack.Api(store_dir).run("src").media()] == [10]


def test_forking_into_an_existing_id_says_a_fork_is_a_new_run(store_dir: Path) -> None:
    from rltrack.errors import RunExistsError

    _source(store_dir)
    other = _init(store_dir, project="p", id="other")
    other.finish()
    with pytest.raises(RunExistsError, match=r"id='other': that run exists; a fork is a new run"):
        _init(store_dir, fork_from="src?_step=3", id="other", resume="allow")
    assert rltrack.Api(store_dir).run("other").keys() == []


def test_a_second_rewind_while_one_is_running_is_refused(store_dir: Path) -> None:
    _source(store_dir)
    before = _everything(store_dir, "src")
    first = subprocess.Popen([sys.executable, "-c", _KILLER, str(store_dir), "pause", f"src?_step={CUT}"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (store_dir / "paused").exists():  # the first rewind is half-way through its archive
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.01)
        with pytest.raises(RltrackError, match="is still being written"):
            _init(store_dir, resume_from="src?_step=20")
    finally:
        (store_dir / "go").touch()
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0 and "not killed" in out, err
    api = rltrack.Api(store_dir)
    assert [r["archive"] for r in api.run("src").metadata["rewinds"]] == ["src-rewound-1"]
    assert _everything(store_dir, "src-rewound-1") == before
    assert _everything(store_dir, "src") == _cut_of(before)
    assert sorted(r.id for r in api.runs()) == ["src", "src-rewound-1"]


def test_an_archive_leaves_its_runs_group_so_group_charts_count_each_history_once(store_dir: Path) -> None:
    for seed in range(3):
        run = _init(store_dir, project="p", id=f"seed{seed}", group="ppo-seeds")
        for step in range(10):
            run.log({"reward": float(step + seed)})
        run.finish()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RltrackWarning)
        _init(store_dir, resume_from="seed1?_step=4").finish()
    api = rltrack.Api(store_dir)
    assert sorted(r.id for r in api.runs(group="ppo-seeds")) == ["seed0", "seed1", "seed2"]
    archive = api.run("seed1-rewound-1")
    assert archive.group is None and archive.metadata["rewound"]["group"] == "ppo-seeds"


def test_forking_a_run_still_logging_in_this_process_forks_all_it_logged(store_dir: Path) -> None:
    parent = _init(store_dir, project="p", id="live")
    for step in range(200):
        parent.log({"x": float(step)})  # still in the writer's queue: not stored yet
    child = _init(store_dir, fork_from=f"live?_step={parent.step - 1}")
    assert child.step == 200
    child.finish()
    parent.log({"x": -1.0})  # the parent goes on, untouched
    parent.finish()
    api = rltrack.Api(store_dir)
    assert api.run(child.id).history()["x"].tolist() == [float(s) for s in range(200)]
    assert api.run("live").history()["x"].tolist() == [float(s) for s in range(200)] + [-1.0]


def test_a_fork_of_a_rich_run_reads_back_through_api(store_dir: Path, tmp_path: Path) -> None:
    pixels = np.full((8, 8, 3), 200, dtype=np.uint8)
    run = _init(store_dir, project="p", id="rich")
    for step in range(10):
        data: dict[str, object] = {"loss": float(step), "system/cpu_percent": float(step * 10)}
        if step % 3 == 0:
            data["weights"] = rltrack.Histogram(np.arange(step + 5, dtype=float))
            data["samples"] = rltrack.Table(columns=["i", "frame"], data=[[step, rltrack.Image(pixels)]])
        run.log(data, step=step)
    work = tmp_path / "work"
    work.mkdir()
    (work / "policy.pt").write_bytes(b"\x01" * 64)
    run.save(str(work / "policy.pt"), base_path=work, policy="now")
    run.log_artifact(str(work / "policy.pt"), name="policy", type="model")
    run.finish()

    fork = _init(store_dir, fork_from="rich?_step=4", id="richfork")
    fork.finish()
    view = rltrack.Api(store_dir).run("richfork")
    assert view.series("system/cpu_percent")[2].tolist() == [0.0, 10.0, 20.0, 30.0, 40.0]
    assert sorted((m.key, m.step) for m in view.media()) == [
        ("samples", 0), ("samples", 3), ("weights", 0), ("weights", 3)]
    table = view.table("samples")
    frames = list(table["frame"]) if hasattr(table, "columns") else table["frame"]
    assert list(table["i"]) == [3] and frames[0].path.is_file()
    assert frames[0].path.is_relative_to(store_dir / "runs" / "richfork")  # a copy, not the parent's file
    # Saved files and artifacts stay with the run that made them.
    assert not (store_dir / "runs" / "richfork" / "files").exists()
    assert [v.name for v in rltrack.Api(store_dir).artifacts("policy")] == ["policy"]


def test_resume_from_says_it_keeps_the_runs_project_and_name(store_dir: Path) -> None:
    _source(store_dir)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = _init(store_dir, resume_from=f"src?_step={CUT}", project="elsewhere", name="renamed")
    run.finish()
    messages = [str(w.message) for w in caught if issubclass(w.category, RltrackWarning)]
    assert any("ignores project='elsewhere' (it stays 'p'); name='renamed' (it stays 'source')" in m for m in messages)
    assert (run.project, run.name) == ("p", "source")
