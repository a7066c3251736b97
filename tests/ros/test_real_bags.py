"""Real recordings (tests/fixtures/real-bags, see SOURCES.txt) against an independent oracle.

The oracle reads the storage itself — the sqlite3 tables with the standard library, MCAP with the
``mcap`` library, ROS 1 bags through ``rosbags.convert``'s rosbag2 copy — decodes each message with
a rosbags typestore built from the file's own definitions, and flattens it with the decoder's public
``flatten_groups``. The import must read exactly the storage's messages per topic and store every
numeric field at its time (``clock: receive``: the log time), nothing more.
"""

from __future__ import annotations

import math
import sqlite3
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from rltrack_ros.bag import import_bag
from rltrack_ros.decode import Decoder
from rltrack_ros.topics import IGNORED_TOPICS, parse_config
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

import rltrack

zstandard = pytest.importorskip("zstandard", reason="the oracle unpacks zstd with zstandard (a dev dependency)")
mcap_reader = pytest.importorskip("mcap.reader", reason="mcap is a dev dependency (rltrack[dev])")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "real-bags"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
Raw = tuple[str, str, int, bytes]  # topic, type, log time, CDR bytes


def unzstd(data: bytes) -> bytes:
    return zstandard.ZstdDecompressor().decompressobj().decompress(data)


def read_sqlite(files: list[Path], tmp: Path) -> tuple[list[Raw], dict[str, str]]:
    """Every message of the .db3 (or .db3.zstd) files, and the definitions they store."""
    rows: list[Raw] = []
    defs: dict[str, str] = {}
    for f in files:
        if f.name.endswith(".zstd"):
            plain = tmp / f.name.removesuffix(".zstd")
            plain.write_bytes(unzstd(f.read_bytes()))
            f = plain
        conn = sqlite3.connect(f"file:{f}?immutable=1", uri=True)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "message_definitions" in tables:
            for name, enc, text in conn.execute(
                "SELECT topic_type, encoding, encoded_message_definition FROM message_definitions"
            ):
                if enc == "ros2msg" and text:
                    defs[name] = text
        for topic, typ, t_ns, data in conn.execute(
            "SELECT t.name, t.type, m.timestamp, m.data FROM messages m JOIN topics t ON m.topic_id = t.id"
        ):
            rows.append((topic, typ, t_ns, unzstd(data) if data[:4] == ZSTD_MAGIC else bytes(data)))
        conn.close()
    return rows, defs


def read_mcap(files: list[Path]) -> tuple[list[Raw], dict[str, str]]:
    rows: list[Raw] = []
    defs: dict[str, str] = {}
    for f in files:
        with f.open("rb") as fh:
            for schema, channel, message in mcap_reader.make_reader(fh).iter_messages():
                assert schema is not None
                if schema.encoding == "ros2msg":
                    defs[schema.name] = schema.data.decode()
                rows.append((channel.topic, schema.name, message.log_time, bytes(message.data)))
    return rows, defs


def oracle_typestore(defs: dict[str, str]) -> Any:
    store = get_typestore(Stores.ROS2_JAZZY)
    typs: dict[str, Any] = {}
    for name, text in defs.items():
        try:
            typs.update(get_types_from_msg(text, name))
        except Exception:  # e.g. a service definition stored as one: not decodable
            continue
    merged = dict(store.fielddefs)
    merged.update(typs)
    out = get_typestore(Stores.EMPTY)
    out.register(merged)
    return out


def raw_read(folder: Path, tmp: Path) -> tuple[list[Raw], Any]:
    """The oracle's own read of a fixture folder."""
    if list(folder.glob("*.bag")):
        from rosbags.convert import convert

        rosbag2 = tmp / "converted"
        convert(sorted(folder.glob("*.bag")), rosbag2, dst_storage="sqlite3", dst_version=9, compress=None,
                compress_mode="file", default_typestore=None, typestore=None, exclude_topics=(),
                include_topics=(), exclude_msgtypes=(), include_msgtypes=())  # fmt: skip
        folder = rosbag2
    dbs = sorted(folder.glob("*.db3")) + sorted(folder.glob("*.db3.zstd"))
    rows, defs = read_sqlite(dbs, tmp) if dbs else read_mcap(sorted(folder.glob("*.mcap")))
    return rows, oracle_typestore(defs)


def value_key(v: float) -> Any:
    return "nan" if math.isnan(v) else v


def expected_points(rows: list[Raw], store: Any) -> tuple[Counter[tuple[str, int, Any]], Counter[str]]:
    """(key, t_ns, value) the run must hold, and the messages per topic the oracle read."""
    decoder = Decoder(store)
    points: Counter[tuple[str, int, Any]] = Counter()
    per_topic: Counter[str] = Counter()
    for topic, typ, t_ns, data in rows:
        name = "/" + topic.lstrip("/")
        per_topic[name] += 1
        if name in IGNORED_TOPICS or not decoder.knows(typ):
            continue
        for values, _stamp in decoder.flatten_groups(data, typ, topic=name):
            for key, v in values.items():
                points[(key, t_ns, value_key(float(v)))] += 1
    return points, per_topic


def run_points(store: Path, run_id: str) -> Counter[tuple[str, int, Any]]:
    view = rltrack.Api(dir=store).run(run_id)
    points: Counter[tuple[str, int, Any]] = Counter()
    for key in view.keys(source="real"):
        _, t_ns, values = view.series(key, source="real")
        for t, v in zip(t_ns.tolist(), values.tolist(), strict=True):
            points[(key, t, value_key(v))] += 1
    return points


def import_fixture(path: Path, store: Path) -> tuple[Any, str, list[str]]:
    with (
        rltrack.init(project="oracle", dir=store, source="real", system_metrics=False) as run,
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        result = import_bag(path, run, parse_config({"clock": "receive"}))
    return result, run.id, [str(w.message) for w in caught]


ORACLE_FIXTURES = [
    "rb2_sqlite_cdr_test",  # sqlite3, test_msgs with stored definitions, int64 extremes
    "rb2_mcap_cdr_test",  # the same in MCAP
    "rb2_sqlite_talker",  # Humble-era: QoS in metadata.yaml differs from the storage's
    "rb2_mcap_talker",
    "rb2_file_compression_withmeta",  # zstd file compression, split in 4
    "rb2_file_compression_nometa",  # the same without metadata.yaml: reindexed from the files
    "rb2_multiple_files_nometa",
    "rb2_message_compression_nometa",  # zstd per message, split, no metadata.yaml
    "rb2_mcap_wbag_split",  # 5 MCAP parts
    "rb2_sqlite_topics_services",  # service-event topics next to ordinary ones
    "ros1_test_bag",  # ROS 1, slashless topics
    "ros1_bagv2_multiple_connections",  # ROS 1, two connections per topic
    "rsrs_mcap_alltypes",  # 94 message types
]


@pytest.mark.parametrize("name", ORACLE_FIXTURES)
def test_every_message_and_value_matches_the_oracle(tmp_path: Path, name: str) -> None:
    folder = FIXTURES / name
    rows, store = raw_read(folder, tmp_path)
    want, per_topic = expected_points(rows, store)
    path = next(folder.glob("*.bag"), folder)
    result, run_id, _ = import_fixture(path, tmp_path / "store")
    assert result.report is not None
    read = {line.topic: line.read for line in result.report.lines if line.selected and line.read}
    assert read == {t: n for t, n in per_topic.items() if t not in IGNORED_TOPICS}
    got = run_points(tmp_path / "store", run_id)
    assert got == want
    assert sum(per_topic.values()) > 0


def test_qos_mismatch_still_reads_every_message(tmp_path: Path) -> None:
    # metadata.yaml and the storage's topics table disagree on QoS: rosbags alone pairs no connection.
    from rosbags.highlevel import AnyReader

    folder = FIXTURES / "rb2_sqlite_talker"
    with AnyReader([folder], default_typestore=get_typestore(Stores.ROS2_HUMBLE)) as reader:
        assert sum(1 for _ in reader.messages()) == 0
    result, _, said = import_fixture(folder, tmp_path / "store")
    assert result.messages == 10 and not [m for m in said if "messages read" in m]


def test_wrong_serialization_format_is_skipped_counted_and_warned(tmp_path: Path) -> None:
    result, run_id, said = import_fixture(FIXTURES / "rb2_mcap_wrong_rmw", tmp_path / "store")
    assert result.messages == 0
    assert sorted(m for m in said if "messages read" in m) == [
        "topic '/array_topic': 0 of 4 messages read, 4 skipped: serialization format 'wrong_format' is not CDR",
        "topic '/test_topic': 0 of 3 messages read, 3 skipped: serialization format 'wrong_format' is not CDR",
    ]
    summary = rltrack.Api(dir=tmp_path / "store").run(run_id).summary_of("real")
    assert summary["_rltrack/ros/skipped/array_topic"] == 4


def test_ros1_bag_gives_the_keys_and_values_of_its_rosbag2_conversion(tmp_path: Path) -> None:
    from rosbags.convert import convert

    src = FIXTURES / "ros1_test_bag" / "test_bag.bag"
    for storage in ("sqlite3", "mcap"):
        converted = tmp_path / f"converted_{storage}"
        convert([src], converted, dst_storage=storage, dst_version=9, compress=None, compress_mode="file",
                default_typestore=None, typestore=None, exclude_topics=(), include_topics=(), exclude_msgtypes=(),
                include_msgtypes=())  # fmt: skip
        _, a, _ = import_fixture(src, tmp_path / f"a_{storage}")
        _, b, _ = import_fixture(converted, tmp_path / f"b_{storage}")
        got_a, got_b = run_points(tmp_path / f"a_{storage}", a), run_points(tmp_path / f"b_{storage}", b)
        assert got_a == got_b and {k for k, _, _ in got_a} == {"int_topic/data"}


def test_a_bad_file_in_a_split_bag_does_not_stop_the_others(tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "split"
    shutil.copytree(FIXTURES / "rb2_mcap_wbag_split", folder)
    bad = folder / "wbag_2.mcap"
    bad.write_bytes(b"not an mcap file at all")
    rows, _ = read_mcap([f for f in sorted(folder.glob("*.mcap")) if f != bad])
    result, _, said = import_fixture(folder, tmp_path / "store")
    assert result.messages == len(rows) and 0 < len(rows) < 6074
    assert [m for m in said if m.startswith("bag file wbag_2.mcap: ")]
    assert [m for m in said if m.startswith("topic '/AAA': ") and "unread (the recording lists 804)" in m]
