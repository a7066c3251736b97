from __future__ import annotations

import json

import numpy as np
import pytest

from rltrack.errors import InvalidValueError
from rltrack.media import Histogram


def read(dest_dir, name) -> dict:
    return json.loads((dest_dir / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("num_bins", [1, 7, 64])
def test_counts_equal_numpy_histogram(dest_dir, num_bins) -> None:
    values = np.random.default_rng(3).normal(size=1000)

    name, meta = Histogram(values, num_bins=num_bins, caption="actions").write(dest_dir, "h")

    assert name == "h.json"
    assert sorted(p.name for p in dest_dir.iterdir()) == ["h.json"]
    counts, edges = np.histogram(values, bins=num_bins)
    data = read(dest_dir, name)
    assert data == {"counts": counts.tolist(), "edges": edges.tolist()}
    assert meta == {"bins": num_bins, "count": 1000, "min": values.min(), "max": values.max(), "nonfinite": 0}


def test_nan_and_inf_are_left_out_and_counted(dest_dir) -> None:
    values = np.array([1.0, np.nan, 2.0, np.inf, -np.inf, 3.0, 2.5])

    _, meta = Histogram(values, num_bins=4).write(dest_dir, "h")

    counts, edges = np.histogram([1.0, 2.0, 3.0, 2.5], bins=4)
    assert read(dest_dir, "h.json") == {"counts": counts.tolist(), "edges": edges.tolist()}
    assert (meta["count"], meta["nonfinite"], meta["min"], meta["max"]) == (4, 3, 1.0, 3.0)


def test_values_are_copied_when_the_histogram_is_made(dest_dir) -> None:
    values = np.zeros(10)
    histogram = Histogram(values, num_bins=2)
    values[:] = 5.0

    _, meta = histogram.write(dest_dir, "h")

    assert (meta["min"], meta["max"]) == (0.0, 0.0)


@pytest.mark.parametrize(
    "values", [[1, 2, 2, 3], (1.5, 2.5), np.array([[1, 2], [3, 4]], dtype=np.int16), np.array([True, False])]
)
def test_lists_tuples_ints_and_bools_are_values(dest_dir, values) -> None:
    _, meta = Histogram(values, num_bins=3).write(dest_dir, "h")

    flat = np.asarray(values, dtype=np.float64).ravel()
    assert read(dest_dir, "h.json")["counts"] == np.histogram(flat, bins=3)[0].tolist()
    assert meta["count"] == flat.size


def test_no_finite_values_writes_empty_counts(dest_dir) -> None:
    _, meta = Histogram([np.nan], num_bins=2).write(dest_dir, "h")

    assert read(dest_dir, "h.json")["counts"] == [0, 0]
    assert meta == {"bins": 2, "count": 0, "min": None, "max": None, "nonfinite": 1}


def test_precomputed_counts_and_edges_are_written_as_given(dest_dir) -> None:
    counts, edges = np.array([3, 0, 5]), np.array([-1.0, 0.0, 0.5, 2.0])

    _, meta = Histogram((counts, edges), num_bins=64).write(dest_dir, "h")

    assert read(dest_dir, "h.json") == {"counts": [3, 0, 5], "edges": [-1.0, 0.0, 0.5, 2.0]}
    assert meta == {"bins": 3, "count": 8, "min": -1.0, "max": 2.0, "nonfinite": 0}


def test_precomputed_weighted_counts_stay_floats(dest_dir) -> None:
    _, meta = Histogram(([0.5, 1.25], [0, 1, 2])).write(dest_dir, "h")

    assert read(dest_dir, "h.json")["counts"] == [0.5, 1.25]
    assert meta["count"] == 1.75


def test_torch_tensor_values(dest_dir) -> None:
    torch = pytest.importorskip("torch")
    values = torch.arange(10, dtype=torch.float32, requires_grad=True)

    _, meta = Histogram(values, num_bins=5).write(dest_dir, "h")

    assert read(dest_dir, "h.json")["counts"] == [2, 2, 2, 2, 2]
    assert meta["count"] == 10


@pytest.mark.parametrize(
    ("value", "kwargs", "match"),
    [
        ("abc", {}, r"Histogram values 'abc' are not numeric"),
        (None, {}, r"Histogram values None are not numeric"),
        (np.array(["a", "b"]), {}, r"dtype '<U1'; pass numbers"),
        (np.array([1 + 2j]), {}, r"are complex; pass real numbers"),
        ([1.0], {"num_bins": 0}, r"num_bins=0 is not an int in \[1, 512\]"),
        ([1.0], {"num_bins": 513}, r"num_bins=513 is not an int"),
        ([1.0], {"num_bins": 2.0}, r"num_bins=2.0 is not an int"),
        (([1, 2], [0, 1]), {}, r"2 counts and 2 edges; pass len\(edges\) == len\(counts\) \+ 1"),
        (([], [0]), {}, r"0 counts and 1 edges"),
        (([1, -1], [0, 1, 2]), {}, r"counts \[1.0, -1.0\] must be finite and >= 0"),
        (([1, 1], [0, 2, 1]), {}, r"edges \[0.0, 2.0, 1.0\] must be finite and strictly increasing"),
        (([1, 1], [0, 1, np.inf]), {}, r"edges .* must be finite"),
        ([1.0], {"caption": 1}, r"caption=1 is not a string"),
    ],
)
def test_bad_input_raises(value, kwargs, match) -> None:
    with pytest.raises(InvalidValueError, match=match):
        Histogram(value, **kwargs)
