"""Every real recording in ``../shared/fixtures/real-bags`` through ``rltrack import-bag``, against an oracle.

The recordings too big (or too many) to copy into tests/fixtures are read where CI keeps them,
``<repo>/../shared/fixtures/real-bags`` (see its SOURCES.txt); the tests skip when that folder is absent.
Each import goes through the CLI a user types (``rltrack import-bag PATH --project ... --clock receive
--msg-dir msgdefs``). Two oracles: ``test_real_bags``'s (raw storage read, rosbags decode, per topic and
key every value at its log time) and an independent one that walks the rosbags-decoded message itself:
every value the run holds for a topic must be a numeric leaf of that topic's messages (as a multiset),
so a value the decoder invented or took from the wrong field cannot pass.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from rltrack_ros.topics import IGNORED_TOPICS
from rosbags.typesys import get_types_from_msg
from test_real_bags import ORACLE_FIXTURES, expected_points, raw_read, run_points

import rltrack
from rltrack.cli import main

SHARED = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "real-bags"
pytestmark = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"{SHARED} is absent (the shared real recordings live beside the checkout in CI)"
)
ALL = sorted(p.name for p in SHARED.iterdir() if p.is_dir() and p.name != "msgdefs") if SHARED.is_dir() else []
EMPTY = {
    "rb2_sqlite_empty": "its topics: /parameter_events (0), /rosout (0)",
    "rb2_sqlite_zstd_file_compressed": "its topics: /parameter_events (0), /rosout (0)",  # empty, zstd file mode
    "rb2_only_topics_mcap": "its topics: /events/write_split (0), /parameter_events (7), /rosout (0)",
}
#: Every message on a topic skipped for what the recording is (not CDR): refused before a run exists.
WRONG_FORMAT = {
    "rb2_mcap_wrong_rmw": "no selected topic of '{path}' can be read: /array_topic (test_msgs/msg/Arrays: "
    "serialization format 'wrong_format' is not CDR), /test_topic (test_msgs/msg/BasicTypes: serialization "
    "format 'wrong_format' is not CDR)",
}


def cli_import(path: Path, store: Path, *extra: str) -> tuple[int, str, list[str]]:
    """Run ``rltrack import-bag`` as a user would; exit code, output and the new run ids."""
    args = ["import-bag", str(path), "--project", "q2", "--dir", str(store), "--msg-dir", str(SHARED / "msgdefs")]
    result = CliRunner().invoke(main, [*args, *extra])
    runs = [r.id for r in rltrack.Api(dir=store).runs(project="q2")] if (store / "rltrack.db").exists() else []
    return result.exit_code, result.output, runs


def bag_path(folder: Path) -> Path:
    return next(folder.glob("*.bag"), folder)


def numeric_leaves(msg: Any) -> list[float]:
    """Every number and boolean inside a rosbags-decoded message, strings and stamps included as they are."""
    if isinstance(msg, bool | int | float | np.integer | np.floating | np.bool_):
        return [float(msg)]
    if isinstance(msg, np.ndarray):
        return [float(v) for v in msg.ravel().tolist()] if msg.dtype.kind in "biuf" else []
    if isinstance(msg, list | tuple):
        return [v for item in msg for v in numeric_leaves(item)]
    if dataclasses.is_dataclass(msg):
        names = [f.name for f in dataclasses.fields(msg) if not f.name.startswith("__")]
        if names == ["sec", "nanosec"]:  # a Time/Duration is also kept as seconds
            return [float(msg.sec), float(msg.nanosec), msg.sec + msg.nanosec * 1e-9]
        return [v for name in names for v in numeric_leaves(getattr(msg, name))]
    return []


def norm(v: float) -> Any:
    return "nan" if math.isnan(v) else v


@pytest.mark.parametrize("name", [n for n in ALL if n not in EMPTY and n not in WRONG_FORMAT])
def test_cli_import_matches_the_oracle(tmp_path: Path, name: str) -> None:
    folder = SHARED / name
    rows, store = raw_read(folder, tmp_path)
    want, per_topic = expected_points(rows, store)
    code, out, runs = cli_import(bag_path(folder), tmp_path / "store", "--clock", "receive")
    assert code == 0, out
    (run_id,) = runs
    got = run_points(tmp_path / "store", run_id)
    assert got == want
    # The printed table: every selected topic read in full.
    for topic, n in per_topic.items():
        if topic in IGNORED_TOPICS:
            continue
        line = next(ln for ln in out.splitlines() if ln.startswith(topic + " "))
        read, expected = (int(x) for x in line.split()[2:4])
        assert expected == n
        assert read == n, line
    view = rltrack.Api(dir=tmp_path / "store").run(run_id)
    assert view.state == "finished"


@pytest.mark.parametrize("name", [n for n in ALL if n not in EMPTY and n not in WRONG_FORMAT])
def test_every_stored_value_is_a_number_of_its_topics_messages(tmp_path: Path, name: str) -> None:
    folder = SHARED / name
    rows, store = raw_read(folder, tmp_path)
    leaves: dict[str, Counter[Any]] = {}
    for topic, typ, _t, data in rows:
        name_ = "/" + topic.lstrip("/")
        if typ not in store.fielddefs and typ.count("/") == 1:  # a legacy name: the .msg of msgdefs
            pkg, base = typ.split("/")
            text = (SHARED / "msgdefs" / pkg / "msg" / f"{base}.msg").read_text()
            store.register(get_types_from_msg(text, f"{pkg}/msg/{base}"))
            typ = f"{pkg}/msg/{base}"
        try:
            msg = store.deserialize_cdr(data, typ)
        except Exception:  # types the oracle cannot decode either give nothing
            continue
        leaves.setdefault(name_, Counter()).update(norm(v) for v in numeric_leaves(msg))
    code, out, runs = cli_import(bag_path(folder), tmp_path / "store", "--clock", "receive")
    assert code == 0, out
    got: dict[str, Counter[Any]] = {}
    topics = sorted(leaves, key=len, reverse=True)
    for key, _t, v in run_points(tmp_path / "store", runs[0]):
        topic = next(t for t in topics if ("/" + key).startswith(t + "/"))
        got.setdefault(topic, Counter())[v] += 1
    for topic, values in got.items():
        assert not values - leaves[topic], (topic, values - leaves[topic])
    assert bool(got) == bool(expected_points(rows, store)[0])  # numbers where the messages have numbers


@pytest.mark.parametrize("name", sorted(EMPTY))
def test_an_empty_recording_is_refused_before_any_run_exists(tmp_path: Path, name: str) -> None:
    code, out, runs = cli_import(SHARED / name, tmp_path / "store")
    assert code == 1 and runs == []
    assert "nothing to import" in out and EMPTY[name] in out


@pytest.mark.parametrize("strict", [(), ("--strict",)])
@pytest.mark.parametrize("name", sorted(WRONG_FORMAT))
def test_a_recording_nothing_of_which_can_be_read_is_refused_before_any_run_exists(
    tmp_path: Path, name: str, strict: tuple[str, ...]
) -> None:
    # Was: an empty finished run (and under --strict an empty failed one) holding only skip counters.
    code, out, runs = cli_import(SHARED / name, tmp_path / "store", *strict)
    assert code == 1 and runs == [], out
    assert "Error: nothing to import: " + WRONG_FORMAT[name].format(path=SHARED / name) in " ".join(out.split())


def test_a_selection_of_unknown_types_only_is_refused_before_any_run_exists(tmp_path: Path) -> None:
    code, out, runs = cli_import(SHARED / "rb2_sqlite_topics_services", tmp_path / "store", "--topic",
                                 "/test_service1/_service_event")  # fmt: skip
    assert code == 1 and runs == []
    assert ("nothing to import: the message types of /test_service1/_service_event (test_msgs/srv/BasicTypes_Event)"
            " in ") in out and "are unknown; pass a folder of <pkg>/msg/*.msg and <pkg>/srv/*.srv files" in out


def test_coverage_of_the_shared_folder() -> None:
    # Every shared recording is in one of the lists above or in test_real_bags' oracle list.
    assert len(ALL) == 26 and set(ORACLE_FIXTURES) <= set(ALL)


@pytest.mark.parametrize("name", [n for n in ALL if n.startswith("ros1_")])
def test_a_ros1_bag_and_its_rosbag2_conversion_give_the_same_run(tmp_path: Path, name: str) -> None:
    from rosbags.convert import convert

    src = bag_path(SHARED / name)
    convert([src], tmp_path / "converted", dst_storage="mcap", dst_version=9, compress=None, compress_mode="file",
            default_typestore=None, typestore=None, exclude_topics=(), include_topics=(), exclude_msgtypes=(),
            include_msgtypes=())  # fmt: skip
    code_a, out_a, (a,) = cli_import(src, tmp_path / "a")
    code_b, out_b, (b,) = cli_import(tmp_path / "converted", tmp_path / "b")
    assert code_a == code_b == 0, out_a + out_b
    got_a, got_b = run_points(tmp_path / "a", a), run_points(tmp_path / "b", b)
    assert got_a == got_b and got_a
    table = [ln for ln in out_a.splitlines() if ln.startswith("/")]
    assert table == [ln for ln in out_b.splitlines() if ln.startswith("/")]
