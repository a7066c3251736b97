"""Property test of ``log()`` (issue 19): any key, value, step or time is refused at the call or stored exactly.

One run takes every example (a few seconds in all); after each, the writer is alive and the
marker points logged before and after the example are stored.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rltrack
from rltrack.errors import RltrackError

MARK = "probe/marker"


def _mostly(good: st.SearchStrategy[Any], hostile: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Three in four draws from ``good``, so that a good share of the calls is stored, not refused."""
    return st.sampled_from([True, True, True, False]).flatmap(lambda ok: good if ok else hostile)


# Keys: any text (lone surrogates, control characters, 300 characters), reserved names, non-strings.
KEYS = _mostly(
    st.from_regex(r"[a-zé][a-z0-9_. é-]{0,5}(/[a-z0-9_]{1,4})?", fullmatch=True),
    st.one_of(
        st.text(st.characters(exclude_categories=()), max_size=300),
        st.sampled_from(["step", "t_ns", "_rltrack/errors/x", "a//b", "/a", "a/", "x\udc80y"]),
        st.integers(),
        st.none(),
    ),
)
NUMPY = st.one_of(
    st.floats(width=32).map(np.float32),
    st.integers(-(2**63), 2**63 - 1).map(np.int64),
    st.integers(0, 2**64 - 1).map(np.uint64),
    st.booleans().map(np.bool_),
)
VALUES = _mostly(
    st.one_of(
        st.floats(),  # NaN and ±inf included
        st.integers(),  # unbounded: beyond int64, beyond float64
        st.sampled_from([2**63, -(2**63) - 1, 10**400, -(10**400)]),
        st.booleans(),
        NUMPY,
    ),
    st.one_of(st.text(max_size=5), st.none(), st.lists(st.floats(), max_size=2)),
)
STEPS = _mostly(
    st.one_of(st.none(), st.integers(0, 2**63 - 1), st.integers(0, 2**63 - 1).map(np.int64)),
    st.one_of(
        st.integers(-(2**70), 2**70),
        st.sampled_from([-5, -1, 2**63, 2**64]),
        st.floats(),
        st.booleans(),
        st.text(max_size=3),
    ),
)
TIMES = _mostly(
    st.one_of(st.none(), st.integers(-(2**63) + 1, 2**63 - 1)),
    st.one_of(st.integers(-(2**70), 2**70), st.sampled_from([2**63, -(2**63), 2**64])),
)


def _expected(value: Any) -> float:
    """What the store holds for an accepted number: float64, ±inf for an int beyond its range."""
    if isinstance(value, np.generic):
        value = value.item()
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _same(stored: float, expected: float) -> bool:
    return (math.isnan(stored) and math.isnan(expected)) or stored == expected


def _surely_fine(key: object, value: object, step: object, t_ns: object) -> bool:
    """Inputs that must be accepted: an ordinary key, a float, a step and time in range."""
    return (
        isinstance(key, str) and key.isascii() and key.replace("_", "a").isalnum() and key not in ("step",)
        and type(value) is float
        and (step is None or (type(step) is int and 0 <= step < 2**62))
        and (t_ns is None or (type(t_ns) is int and 0 <= t_ns < 2**62))
    )  # fmt: skip


def _surely_bad(key: object, value: object, step: object, t_ns: object) -> bool:
    """Inputs that must be refused: a key the store cannot hold, no number, a step or time out of range."""
    bad_key = not isinstance(key, str) or key in ("", "step", "t_ns") or key.startswith("_rltrack/")
    if isinstance(key, str) and not bad_key:
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            bad_key = True
    bad_value = isinstance(value, (str, list)) or value is None
    # int() first: numpy 1.21 compares a uint64 with 2**63 through float64, where 2**63 - 512 == 2**63.
    bad_step = isinstance(step, (int, np.integer)) and not isinstance(step, bool) and not 0 <= int(step) < 2**63
    bad_time = isinstance(t_ns, int) and not -(2**63) < t_ns < 2**63
    return bad_key or bad_value or bad_step or bad_time


def test_any_input_is_refused_at_the_call_or_stored_exactly(store_dir: Path) -> None:
    run = rltrack.init(project="props", dir=store_dir, system_metrics=False, quiet=True)
    api = rltrack.Api(store_dir)
    examples = {"refused": 0, "stored": 0}

    @settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(key=KEYS, value=VALUES, step=STEPS, t_ns=TIMES)
    def one_call(key: Any, value: Any, step: Any, t_ns: Any) -> None:
        mark = float(examples["refused"] + examples["stored"])
        run.log({MARK: mark}, step=int(mark) * 2)  # before
        expected_step = run.step if step is None else step
        try:
            run.log({key: value}, step=step, t_ns=t_ns)
        except RltrackError:
            accepted = False
        else:
            accepted = True
        run.log({MARK: mark + 0.5}, step=int(mark) * 2 + 1)  # after
        run.flush()
        assert run._writer.alive
        view = api.run(run.id)
        marks = view.series(MARK)[2]
        assert marks[-2:].tolist() == [mark, mark + 0.5]
        if accepted:
            assert not _surely_bad(key, value, step, t_ns), (key, value, step, t_ns)
        if not accepted:
            examples["refused"] += 1
            assert not _surely_fine(key, value, step, t_ns), (key, value, step, t_ns)
            return
        examples["stored"] += 1
        steps, times, values = view.series(key)
        assert steps.size and int(steps[-1]) == int(expected_step)
        if t_ns is not None:
            assert int(times[-1]) == t_ns
        assert _same(float(values[-1]), _expected(value)), (key, value, values[-1])

    one_call()
    run.finish()
    view = api.run(run.id)
    assert view.state == "finished" and view.reason is None
    assert not [k for k in view.summary if k.startswith("_rltrack/dropped/")]
    # Both outcomes were exercised, so neither check above was vacuous.
    assert examples["refused"] > 20 and examples["stored"] > 20, examples


@pytest.mark.parametrize("step", [2**63, -5])
def test_plain_int_steps_out_of_range_are_refused_like_numpy_ones(store_dir: Path, step: int) -> None:
    run = rltrack.init(project="props", dir=store_dir, system_metrics=False, quiet=True)
    for given_step in (step, np.int64(step) if -(2**63) <= step < 2**63 else step):
        with pytest.raises(rltrack.errors.InvalidValueError, match=f"got {step}"):
            run.log({"x": 1.0}, step=given_step)
    run.finish()
