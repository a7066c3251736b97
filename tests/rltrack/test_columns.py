"""Packing a flush of queued log() calls into per-key columns: order, mixed shapes, overflow."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rltrack
from rltrack._columns import Entry, clamp_overflows, to_columns
from rltrack.errors import RltrackWarning


def _columns(entries: list[Entry]) -> dict[str, tuple[list[int], list[int], list[float]]]:
    out = {}
    for key, steps, times, values in to_columns(entries):
        assert steps.dtype == np.int64 and times.dtype == np.int64 and values.dtype == np.float64
        assert values.flags.c_contiguous
        out[key] = (steps.tolist(), times.tolist(), values.tolist())
    return out


def _reference(entries: list[Entry]) -> dict[str, tuple[list[int], list[int], list[float]]]:
    # What every packing path must equal: a plain loop over the calls, in call order.
    out: dict[str, tuple[list[int], list[int], list[float]]] = {}
    for step, t_ns, values in entries:
        for key, value in values.items():
            column = out.setdefault(key, ([], [], []))
            column[0].append(step)
            column[1].append(t_ns)
            column[2].append(float(value))
    return out


def test_uniform_calls_become_one_column_per_key() -> None:
    entries = [(i, 1000 + i, {"a": float(i), "b": i * 2}) for i in range(50)]
    assert _columns(entries) == _reference(entries)


def test_a_few_other_shapes_among_many_calls_keep_call_order() -> None:
    # A per-step loop with an episode end now and then and a system-metrics sample: the common
    # shape takes the fast path and the others are merged back in call order.
    entries: list[Entry] = []
    for i in range(200):
        entries.append((i, i, {"x": float(i), "y": -float(i), "done": 0}))
        if i % 37 == 5:
            entries.append((i, i, {"x": 0.5, "episode/return": float(i)}))  # shares "x" with the main shape
        if i == 100:
            entries.append((i, i, {"system/cpu": 3.0, "system/mem": 4.0, "system/net": 5.0}))  # same length
    assert _columns(entries) == _reference(entries)


def test_same_length_but_other_keys_or_order_is_packed_by_key() -> None:
    entries: list[Entry] = [
        (0, 0, {"a": 1.0, "b": 2.0}),
        (1, 1, {"b": 20.0, "a": 10.0}),
        (2, 2, {"a": 100.0, "c": 300.0}),
        (3, 3, {"c": 3000.0, "d": 4000.0}),
        (4, 4, {"a": 1e4, "b": 2e4}),
    ]
    assert _columns(entries) == _reference(entries)


def test_when_one_value_calls_are_the_most_common_they_lead() -> None:
    entries: list[Entry] = [(i, i, {"loss": float(i)}) for i in range(10)] + [(10, 10, {"a": 1.0, "b": 2.0})]
    entries.insert(3, (99, 99, {"loss": 7.0, "lr": 1e-3}))
    assert _columns(entries) == _reference(entries)


def test_clamp_overflows_turns_huge_ints_into_signed_infinity() -> None:
    entries: list[Entry] = [(0, 0, {"a": 10**400, "b": -(10**400), "c": 10**30, "d": 1.5})]
    (clamped,) = clamp_overflows(entries)
    assert clamped[2] == {"a": math.inf, "b": -math.inf, "c": 10**30, "d": 1.5}
    with pytest.raises(OverflowError):
        list(to_columns(entries))


def test_an_int_beyond_float64_is_stored_as_inf_with_one_warning(store_dir: Path) -> None:
    run = rltrack.init(project="test", dir=store_dir, system_metrics=False)
    run.log({"x": 1, "y": 1.0}, step=0)
    run.log({"x": 10**400, "y": 2.0}, step=1)
    with pytest.warns(RltrackWarning, match=r"value-overflow .*int too large to convert to float"):
        run.flush()
    run.log({"x": -(10**400), "y": 3.0}, step=2)
    run.finish()  # counted, not warned again
    view = rltrack.Api(store_dir).run(run.id)
    assert view.series("x")[2].tolist() == [1.0, math.inf, -math.inf]
    assert view.series("y")[2].tolist() == [1.0, 2.0, 3.0]
    summary: dict[str, Any] = dict(view.summary)
    assert summary["_rltrack/errors/value-overflow"] == 2
