"""Hostile config and summary values on an online run: the values logged beside them always reach the server.

Found by probing a real ``rltrack server`` (issue 19 follow-up): a lone surrogate (what
``os.listdir`` returns for a non-UTF-8 file name), a numpy scalar, a set, an object whose
``repr`` raises or a dict nested 200 deep in ``run.config``/``run.summary`` made the server refuse
(or the spool fail on) the flush that carried them, and the *metrics* of that flush went with it:
a run of 100 logged points read back with none. Now such values travel as the local store keeps
them (their ``repr``, U+FFFD for a surrogate), values travel apart from a config or large summary,
and a value over the server's body limit (a 40 MB string) is sent as a note, with one warning,
instead of making that and every later config or summary write a dead letter.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rltrack
from rltrack.api import Api
from rltrack.remote import wire
from rltrack.server import ServerSettings
from rltrack.server.serve import BackgroundServer
from rltrack.validate import MAX_VALUE_DEPTH


class RaisingRepr:
    """An object whose repr (and str) raise, as a half-built user object's may."""

    def __repr__(self) -> str:
        raise RuntimeError("boom")


def nested(depth: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    node = root
    for _ in range(depth):
        node["x"] = {}
        node = node["x"]
    return root


@pytest.fixture
def server(tmp_path: Path) -> Iterator[BackgroundServer]:
    with BackgroundServer(ServerSettings(root=tmp_path / "server", ingest=True)) as s:
        yield s


def log_around(
    server: BackgroundServer, tmp_path: Path, hostile: Callable[[rltrack.Run], None]
) -> tuple[Any, list[str]]:
    """Log 100 points with ``hostile`` applied half way; return the run as the server stored it, and warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = rltrack.init(project="hostile", dir=tmp_path / "client", mode="online", url=server.url,
                           system_metrics=False, quiet=True, config={"good": 1})
        for step in range(50):
            run.log({"x": float(step)}, step=step)
        run.flush()
        hostile(run)
        for step in range(50, 100):
            run.log({"x": float(step)}, step=step)
        run.finish()
    return Api(tmp_path / "server").run(run.id), [str(w.message) for w in caught]


@pytest.mark.parametrize(
    ("where", "key", "value", "stored"),
    [
        ("config", "path", "bad\udcffname", "bad\ufffdname"),
        ("config", "bad\udcffkey", 1, 1),
        ("summary", "path", "bad\udcffname", "bad\ufffdname"),
        ("config", "lr", np.float32(0.5), "np.float32(0.5)"),
        ("config", "seeds", {3}, "{3}"),
        ("summary", "obj", RaisingRepr(), "<RaisingRepr object; repr() raised RuntimeError>"),
        ("config", "deep", nested(200), None),
    ],
    ids=["config-surrogate", "config-surrogate-key", "summary-surrogate", "numpy-scalar", "set", "raising-repr",
         "nested-200"],
)
def test_an_odd_config_or_summary_value_keeps_every_logged_point(
    server: BackgroundServer, tmp_path: Path, where: str, key: str, value: Any, stored: Any
) -> None:
    def hostile(run: rltrack.Run) -> None:
        if where == "config":
            run.config.update({key: value})
        else:
            run.summary[key] = value

    run, _ = log_around(server, tmp_path, hostile)
    assert run.state == "finished"
    assert run.history()["x"].tolist() == [float(s) for s in range(100)]
    assert run.config["good"] == 1
    kept = dict(run.config if where == "config" else run.summary)
    clean_key = key.replace("\udcff", "\ufffd")
    if stored is not None:
        assert kept[clean_key] == stored
    else:  # nested deeper than the wire keeps: the top levels are stored, the rest as its repr
        level = kept[clean_key]  # config["deep"] is one level into the config
        for _ in range(MAX_VALUE_DEPTH - 2):
            level = level["x"]
        assert isinstance(level["x"], str) and level["x"].startswith("{'x': {'x':")
    assert not [k for k in run.summary if k.startswith("_rltrack/dead_letters")]


@pytest.mark.parametrize("where", ["config", "summary"])
def test_a_value_too_large_for_the_server_is_sent_as_a_note(server: BackgroundServer, tmp_path: Path,
                                                             where: str) -> None:
    def hostile(run: rltrack.Run) -> None:
        if where == "config":
            run.config.update({"blob": "x" * (40 << 20), "lr": 0.1})
        else:
            run.summary["blob"] = "x" * (40 << 20)  # flushed together with steps 50-99

    run, warned = log_around(server, tmp_path, hostile)
    assert run.history()["x"].tolist() == [float(s) for s in range(100)]
    kept = run.config if where == "config" else run.summary
    assert kept["blob"] == f"<str of {(40 << 20) + 2} bytes as JSON: too large to send to an rltrack server>"
    assert run.summary["x"] == 99.0  # later summaries still reach the server
    if where == "config":
        assert kept["lr"] == 0.1
    assert not [k for k in run.summary if k.startswith("_rltrack/dead_letters")]
    assert sum(f"{where} value 'blob' is {(40 << 20) + 2} bytes as JSON" in w for w in warned) == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"a": [1, 2.5, None, True]}, {"a": [1, 2.5, None, True]}),
        ({5: "five", True: 1, None: 2, 1.5: 3}, {"5": "five", "true": 1, "null": 2, "1.5": 3}),
        ({("tuple", "key"): 1}, {"('tuple', 'key')": 1}),
        (b"\xff", "b'\\xff'"),
        ("emoji 🎉 kept", "emoji 🎉 kept"),
    ],
    ids=["json", "json-keys", "tuple-key", "bytes", "emoji"],
)
def test_portable_keeps_json_and_writes_the_rest_as_the_local_store_does(value: Any, expected: Any) -> None:
    assert wire.portable(value) == expected


def test_portable_writes_an_int_past_pythons_digit_limit_as_its_size() -> None:
    assert wire.portable({"big": 10**5000}) == {"big": "<int of 16610 bits>"}


def test_portable_keeps_nan_and_infinity() -> None:
    out = wire.portable({"nan": float("nan"), "inf": float("inf")})
    assert np.isnan(out["nan"]) and out["inf"] == float("inf")


@pytest.mark.parametrize("where", ["config", "summary"])
def test_a_value_holding_more_entries_than_the_server_keeps_is_sent_as_a_note(
    server: BackgroundServer, tmp_path: Path, where: str
) -> None:
    # The server keeps at most 100,000 values in a run's config or summary (reading a run loads them all);
    # a 150,000-item list under 4 MiB of JSON made every later config/summary write a dead letter.
    def hostile(run: rltrack.Run) -> None:
        if where == "config":
            run.config.update({"seeds": list(range(150_000)), "lr": 0.1})
        else:
            run.summary["seeds"] = list(range(150_000))

    run, warned = log_around(server, tmp_path, hostile)
    assert run.history()["x"].tolist() == [float(s) for s in range(100)]
    kept = run.config if where == "config" else run.summary
    assert kept["seeds"] == "<list of 150,000 values: too many to send to an rltrack server>"
    assert run.summary["x"] == 99.0
    assert not [k for k in run.summary if k.startswith("_rltrack/dead_letters")]
    assert sum(f"{where} value 'seeds' holds 150,000 values; a server keeps at most 100,000" in w
               for w in warned) == 1
