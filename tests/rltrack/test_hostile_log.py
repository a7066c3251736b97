"""Hostile input to ``log()`` (issue 19.2): refused at the call, or stored and counted; the writer never dies."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rltrack
from rltrack.errors import InvalidKeyError, InvalidValueError, RltrackWarning
from rltrack.validate import MAX_VALUE_DEPTH


def _init(store_dir: Path) -> rltrack.Run:
    return rltrack.init(project="hostile", dir=store_dir, system_metrics=False, quiet=True)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda run: run.log({"x": 1.0}, step=2**63), InvalidValueError, r"in 0 … 2\*\*63-1, got 9223372036854775808"),
        (lambda run: run.log({"x": 1.0}, step=-5), InvalidValueError, r"step must be in 0 … 2\*\*63-1, got -5"),
        (lambda run: run.log({"x": 1.0}, step=np.int64(-5)), InvalidValueError, "got -5"),
        (lambda run: run.log({"bad\udc80name": 1.0}), InvalidKeyError, "is not valid Unicode .*lone surrogate"),
        (lambda run: run.log({"x": 1.0}, t_ns=2**64), InvalidValueError, "t_ns must fit a signed 64-bit"),
        (lambda run: run.log({"x": 1.0}, t_ns=1.5), InvalidValueError, "t_ns must be an integer"),
    ],
    ids=["step-2**63", "step--5", "numpy-step--5", "lone-surrogate-key", "t_ns-2**64", "t_ns-float"],
)
def test_a_bad_step_key_or_time_is_refused_at_the_call_and_nothing_else_is_lost(
    store_dir: Path, call: Any, error: type[Exception], match: str
) -> None:
    run = _init(store_dir)
    for i in range(2000):  # the reproduction: 2,000 points, the bad call, one more point
        run.log({"x": float(i)}, step=i)
    with pytest.raises(error, match=match):
        call(run)
    run.log({"x": 2000.0}, step=2000)
    run.finish()
    view = rltrack.Api(store_dir).run(run.id)
    assert view.state == "finished"
    np.testing.assert_array_equal(view.series("x")[0], np.arange(2001))
    assert not [k for k in view.summary if k.startswith("_rltrack/")]


def test_step_2_63_as_a_plain_int_no_longer_loses_the_run(store_dir: Path) -> None:
    run = _init(store_dir)
    for i in range(2000):
        run.log({"x": float(i)}, step=i)
    with pytest.raises(InvalidValueError, match="9223372036854775808"):
        run.log({"x": 1.0}, step=2**63)
    run.log({"x": 2000.0}, step=2000)
    run.finish()
    view = rltrack.Api(store_dir).run(run.id)
    assert (view.state, view.reason) == ("finished", None)
    assert view.series("x")[2].tolist() == [float(i) for i in range(2001)]


def test_the_largest_step_is_stored_and_the_counter_beyond_it_is_refused(store_dir: Path) -> None:
    run = _init(store_dir)
    run.log({"x": 1.0}, step=2**63 - 1)
    with pytest.raises(InvalidValueError, match="step must be in 0"):
        run.log({"x": 2.0})  # the counter is now 2**63
    run.finish()
    assert rltrack.Api(store_dir).run(run.id).series("x")[0].tolist() == [2**63 - 1]


class _Unconvertible(int):
    """An int whose float conversion fails: log() lets ints through, the writer cannot pack it."""

    def __float__(self) -> float:
        raise ValueError("no float for you")


def test_a_value_the_writer_cannot_pack_is_dropped_counted_and_warned_once(store_dir: Path) -> None:
    run = _init(store_dir)
    run.log({"x": 0.0, "y": 0.0}, step=0)
    run.flush()
    with pytest.warns(RltrackWarning, match=r"bad-value failed \(ValueError: no float for you\)"):
        run.log({"x": 1.0, "y": _Unconvertible(5)}, step=1)
        run.log({"x": 2.0, "y": 2.0}, step=2)
        run.flush()
    assert run._writer.alive
    with pytest.warns(RltrackWarning, match="finished with data missing: 2 logged values"):
        run.finish()
    view = rltrack.Api(store_dir).run(run.id)
    assert view.series("x")[0].tolist() == [0, 2]  # the whole bad call goes, nothing else
    assert view.series("y")[0].tolist() == [0, 2]
    assert view.summary["_rltrack/dropped/bad-value"] == 2
    assert view.summary["_rltrack/errors/bad-value"] == 1
    assert view.state == "finished"
    assert view.reason == "2 logged values could not be stored (see _rltrack/dropped/* in summary)"


def test_a_batch_the_store_refuses_is_isolated_and_the_rest_of_the_flush_is_stored(store_dir: Path) -> None:
    run = _init(store_dir)
    run.flush()
    # A store-side rule that refuses one series (as a PostgreSQL constraint or a trigger would).
    db = sqlite3.connect(store_dir / "rltrack.db", isolation_level=None)
    db.execute(
        "CREATE TRIGGER refuse_poison BEFORE INSERT ON series WHEN NEW.key = 'poison'"
        " BEGIN SELECT RAISE(ABORT, 'poison refused'); END"
    )
    db.close()
    with pytest.warns(RltrackWarning, match=r"bad-batch failed \(IntegrityError: poison refused\)"):
        for i in range(1000):
            run.log({"a": float(i), "poison": 1.0, "b": -float(i)}, step=i)
        run.flush()
    assert run._writer.alive
    for i in range(1000, 1100):
        run.log({"a": float(i), "b": -float(i)}, step=i)
    with pytest.warns(RltrackWarning, match="1,000 logged values were not stored"):
        run.finish()
    view = rltrack.Api(store_dir).run(run.id)
    np.testing.assert_array_equal(view.series("a")[2], np.arange(1100.0))
    np.testing.assert_array_equal(view.series("b")[2], -np.arange(1100.0))
    assert view.keys() == ["a", "b"]
    assert view.summary["_rltrack/dropped/bad-batch"] == 1000


def test_a_summary_value_json_cannot_hold_is_stored_as_its_repr(store_dir: Path) -> None:
    run = _init(store_dir)
    loop: dict[str, Any] = {}
    loop["self"] = loop
    run.summary["loop"] = loop  # json.dumps raises "Circular reference detected": portable() at the call
    run.log({"x": 1.0})
    run.finish()  # no warning: nothing failed (filterwarnings=error)
    view = rltrack.Api(store_dir).run(run.id)
    node = view.summary["loop"]
    for _ in range(MAX_VALUE_DEPTH - 1):  # kept as JSON 32 levels deep, then as its repr (as online)
        node = node["self"]
    assert node == "{'self': {...}}"
    assert view.summary["x"] == 1.0
    assert view.series("x")[2].tolist() == [1.0]


class _Fatal(BaseException):
    """Not an Exception: what only a bug (or a hostile object) would raise inside the writer."""


class _KillsTheWriter(int):
    def __float__(self) -> float:
        raise _Fatal("writer killed")


def test_a_dead_writer_thread_is_reported_and_the_run_marked_crashed(store_dir: Path) -> None:
    run = _init(store_dir)
    run.log({"x": 1.0}, step=0)
    run.flush()
    run.log({"x": _KillsTheWriter(2)}, step=1)
    run.flush()  # the writer dies here: flush returns instead of waiting forever
    run._writer._thread.join(timeout=60)
    assert not run._writer.alive
    for i in range(2, 30_000):  # log() keeps working; what the dead writer cannot store is counted
        run.log({"x": float(i)}, step=i)
    with pytest.warns(RltrackWarning, match=r"background writer thread died \(_Fatal: writer killed\).*marked crashed"):
        run.finish()
    view = rltrack.Api(store_dir).run(run.id)
    assert view.state == "crashed"
    assert view.reason is not None and "background writer stopped (_Fatal: writer killed)" in view.reason
    assert view.series("x")[2].tolist() == [1.0]
    assert view.summary["_rltrack/dropped/writer-died"] == 29_998 + 1


def test_ints_beyond_int64_are_stored_as_floats(store_dir: Path) -> None:
    run = _init(store_dir)
    run.log({"big": 2**70, "neg": -(2**64)}, step=0)
    run.log({"big": 2**63, "neg": -(2**63) - 1}, step=1)
    run.finish()
    view = rltrack.Api(store_dir).run(run.id)
    assert view.series("big")[2].tolist() == [float(2**70), float(2**63)]
    assert view.series("neg")[2].tolist() == [-float(2**64), -float(2**63)]
    assert not math.isinf(view.summary["big"])
