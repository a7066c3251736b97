"""Salvage shapes found by cutting the real recordings at many points (tests/fixtures/real-bags, SOURCES.txt)."""

from __future__ import annotations

import shutil
import sqlite3
import struct
import tempfile
import warnings
from pathlib import Path

import pytest
from rltrack_ros.bag import import_bag
from rltrack_ros.topics import parse_config

import rltrack

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "real-bags"
stream_reader = pytest.importorskip("mcap.stream_reader", reason="mcap is a dev dependency (rltrack[dev])")


def copy_cut(name: str, tmp_path: Path, part: str, keep: float) -> Path:
    folder = tmp_path / name
    shutil.copytree(FIXTURES / name, folder)
    for p in folder.iterdir():
        p.chmod(0o644)
    data = (folder / part).read_bytes()
    (folder / part).write_bytes(data[: int(len(data) * keep)])
    return folder


def run_import(path: Path, store: Path) -> tuple[int, list[str]]:
    with (
        rltrack.init(project="salvage", dir=store, source="real", system_metrics=False) as run,
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        result = import_bag(path, run, parse_config({}))
    return result.messages, [str(w.message) for w in caught]


def test_a_db3_part_not_even_its_repaired_copy_opens_leaves_no_temporary_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Cut at 10 %: the page-count repair makes a copy that still does not open; the copy must go at once.
    folder = copy_cut("rb2_message_compression_nometa", tmp_path, "message_compression_0.db3", 0.1)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    messages, said = run_import(folder, tmp_path / "store")
    assert list(scratch.iterdir()) == []
    assert not [m for m in said if "Implicitly cleaning up" in m]
    assert [m for m in said if m.startswith("bag file message_compression_0.db3: cannot be opened")]
    assert 0 < messages < 369


def test_a_split_mcap_part_cut_before_its_channels_is_named(tmp_path: Path) -> None:
    folder = copy_cut("rb2_mcap_wbag_split", tmp_path, "wbag_0.mcap", 0.1)
    readable = 0
    for f in sorted(folder.glob("*.mcap")):
        with f.open("rb") as fh:
            try:
                for record in stream_reader.StreamReader(fh).records:
                    readable += type(record).__name__ == "Message"
            except Exception:  # the cut part: the stream reader stops where the bytes end
                continue
    messages, said = run_import(folder, tmp_path / "store")
    assert messages == readable and 0 < readable < 6074
    assert [m for m in said if m.startswith("bag file wbag_0.mcap: the recording is cut short (")]
    assert [m for m in said if "`mcap recover`" in m]


def test_split_parts_missing_from_metadata_yaml_are_read_and_named(tmp_path: Path) -> None:
    # A crash after a split leaves parts metadata.yaml does not list: they were silently left out.
    folder = tmp_path / "split"
    shutil.copytree(FIXTURES / "rb2_mcap_wbag_split", folder)
    meta = folder / "metadata.yaml"
    meta.chmod(0o644)
    meta.write_text(meta.read_text().replace("  - wbag_3.mcap\n", "").replace("  - wbag_4.mcap\n", ""))
    messages, said = run_import(folder, tmp_path / "store")
    assert messages == 6074
    assert [m for m in said if m.startswith("bag file wbag_3.mcap: not listed in metadata.yaml")]
    assert [m for m in said if m.startswith("bag file wbag_4.mcap: not listed in metadata.yaml")]
    assert not [m for m in said if "messages read" in m]


def readable_rows(db3: Path) -> int:
    """/topic rows of a cut .db3 that a lookup by id reads (header page count set to the pages there).

    /rosout is left out, as the import leaves it out by default.
    """
    data = bytearray(db3.read_bytes())
    page = struct.unpack(">H", data[16:18])[0] or 65536
    data[28:32] = struct.pack(">I", len(data) // page)
    copy = db3.with_name("oracle-copy.sqlite")
    copy.write_bytes(bytes(data))
    conn = sqlite3.connect(copy)
    found = 0
    for rid in range(1, 2000):
        try:
            row = conn.execute(
                "SELECT t.name, length(m.data) FROM messages m JOIN topics t ON t.id = m.topic_id WHERE m.id = ?",
                (rid,),
            ).fetchone()
        except sqlite3.DatabaseError:
            continue
        found += row is not None and row[0] == "/topic"
    conn.close()
    copy.unlink()
    return found


@pytest.mark.parametrize("keep", [0.3, 0.5, 0.7, 0.9])
def test_a_cut_db3_imports_every_row_a_lookup_by_id_reads(tmp_path: Path, keep: float) -> None:
    # Was one row short at every cut: the scan fails stepping past the last row of the last readable
    # leaf before returning it, and the jump over the damage started above that row.
    folder = copy_cut("rb2_message_compression_nometa", tmp_path, "message_compression_0.db3", keep)
    cut = folder / "message_compression_0.db3"
    others = 0
    for part in sorted(folder.glob("message_compression_[123].db3")):
        conn = sqlite3.connect(f"file:{part}?immutable=1", uri=True)
        others += conn.execute(
            "SELECT count(*) FROM messages m JOIN topics t ON t.id = m.topic_id WHERE t.name = '/topic'"
        ).fetchone()[0]
        conn.close()
    want = others + readable_rows(cut)
    messages, said = run_import(folder, tmp_path / "store")
    assert messages == want
    assert [m for m in said if m.startswith("bag file message_compression_0.db3: the file is cut short")], said
