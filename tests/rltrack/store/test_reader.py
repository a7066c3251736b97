"""The store's read side: series order, chunk statistics, run filters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import rltrack
from rltrack.store.database import Database
from rltrack.store.reader import StoreReader


def test_a_million_points_of_one_key_round_trip(store_dir: Path) -> None:
    run = rltrack.init(project="p", dir=store_dir, system_metrics=False)
    values = np.random.default_rng(0).normal(size=1_000_000)
    log = run.log
    for i, v in enumerate(values.tolist()):
        log({"signal": v}, step=i)
    run.finish()
    steps, times, got = rltrack.Api(store_dir).run(run.id).series("signal")
    np.testing.assert_array_equal(got, values)
    np.testing.assert_array_equal(steps, np.arange(1_000_000))
    assert np.all(np.diff(times) >= 0)


def test_chunk_statistics_match_the_values(store_dir: Path) -> None:
    run = rltrack.init(project="p", dir=store_dir, system_metrics=False)
    for i in range(10):
        run.log({"x": float(i)}, step=i)
    run.flush()
    for i in range(10, 15):
        run.log({"x": float(i)}, step=i)
    run.log({"x": float("nan")}, step=15)
    run.finish()
    reader = StoreReader(Database(store_dir, create=False))
    assert reader.chunk_stats(run.id, "sim", "x") == [(10, 0, 9, 0.0, 9.0), (6, 10, 15, 10.0, 14.0)]


def test_runs_filter_by_project_group_tags_and_state(store_dir: Path) -> None:
    def make(project: str, group: str | None, tags: list[str], code: int) -> str:
        run = rltrack.init(project=project, group=group, tags=tags, dir=store_dir, system_metrics=False)
        run.finish(code)
        return run.id

    a = make("cartpole", "ppo", ["seed0", "baseline"], 0)
    b = make("cartpole", "ppo", ["seed1"], 1)
    c = make("cartpole", "dqn", ["seed0"], 0)
    d = make("pendulum", None, [], 0)
    api = rltrack.Api(store_dir)
    assert api.projects() == ["cartpole", "pendulum"]
    assert [r.id for r in api.runs("cartpole")] == [c, b, a]  # newest first
    assert {r.id for r in api.runs(group="ppo")} == {a, b}
    assert {r.id for r in api.runs(tags=["seed0"])} == {a, c}
    assert [r.id for r in api.runs(tags=["seed0", "baseline"])] == [a]
    assert [r.id for r in api.runs(state="failed")] == [b]
    assert {r.id for r in api.runs()} == {a, b, c, d}


def test_history_with_no_keys_is_empty_columns(store_dir: Path) -> None:
    run = rltrack.init(project="p", dir=store_dir, system_metrics=False)
    run.finish()
    history = rltrack.Api(store_dir).run(run.id).history()
    assert set(history) == {"step", "t_ns"}
    assert history["step"].shape == (0,)


def test_history_df_matches_history(store_dir: Path) -> None:
    pytest.importorskip("pandas")  # an extra: the robot install (numpy 1.21, no pandas) runs this file too
    run = rltrack.init(project="p", dir=store_dir, system_metrics=False)
    run.log({"a": 1.0, "b": 2.0})
    run.finish()
    frame = rltrack.Api(store_dir).run(run.id).history_df()
    assert list(frame.columns) == ["step", "t_ns", "a", "b"]
    assert frame["a"].tolist() == [1.0]
