"""The store's conformance suite: the same behaviour from the embedded SQLite store and from PostgreSQL.

Every test takes the ``backend`` fixture (tests/rltrack/store/conftest.py), so it runs once per back-end.
"""

from __future__ import annotations

import math
import os
import threading
import time

import numpy as np
import pytest

from rltrack.errors import RunExistsError, RunNotFoundError, StoreError
from rltrack.store.artifacts import ArtifactStore, FileRow, NewVersion
from rltrack.store.chunks import pack
from rltrack.store.ingest import BoundDatabase, ensure_schema, mark_applied, was_applied
from rltrack.store.reader import StoreReader
from rltrack.store.schema import SCHEMA_VERSION
from rltrack.store.writer import NewRun, StoreWriter, WriterInfo
from rltrack.types import MediaRecord

from .conftest import StoreUnderTest

HOST = os.uname().nodename


def who(pid: int | None = None) -> WriterInfo:
    return WriterInfo(host=HOST, pid=os.getpid() if pid is None else pid, pid_started_ns=0, now_ns=time.time_ns())


def new_run(run_id: str, project: str = "p", *, group: str | None = None, tags: tuple[str, ...] = ()) -> NewRun:
    return NewRun(id=run_id, project=project, name=f"name-{run_id}", group=group, job_type="train", notes="n",
                  tags=tags, config={"lr": 0.1}, source="sim")


def chunk(key: str, steps: list[int], values: list[float], source: str = "sim") -> object:
    s = np.array(steps, dtype=np.int64)
    return pack(source, key, s, s * 1000, np.array(values, dtype=np.float64))


def test_a_created_run_reads_back_field_by_field(backend: StoreUnderTest) -> None:
    db = backend.open()
    writer = StoreWriter(db)
    assert not writer.run_exists("r1")
    writer.create_run(new_run("r1", group="g", tags=("a", "b")), who())
    run = StoreReader(db).run("r1")
    assert (run.id, run.project, run.name, run.group, run.job_type, run.notes) == ("r1", "p", "name-r1", "g",
                                                                                    "train", "n")
    assert (run.tags, run.config, run.metadata, run.primary_source, run.state) == (["a", "b"], {"lr": 0.1}, {},
                                                                                   "sim", "running")
    assert writer.run_exists("r1") and writer.count_runs("p") == 1 and writer.count_runs("other") == 0
    owner = writer.owner_of("r1")
    assert owner is not None and (owner.host, owner.pid, owner.source) == (HOST, os.getpid(), "sim")
    assert writer.owner_of("nope") is None


def test_a_taken_run_id_is_refused_and_the_first_run_is_kept(backend: StoreUnderTest) -> None:
    db = backend.open()
    writer = StoreWriter(db)
    writer.create_run(new_run("r1"), who())
    with pytest.raises(RunExistsError, match=r"run id 'r1' already exists in .*pass resume='allow'"):
        writer.create_run(new_run("r1", project="q"), who())
    assert [r.project for r in StoreReader(db).runs()] == ["p"]


def test_values_round_trip_exactly_across_flushes_with_nan_inf_and_int64_steps(backend: StoreUnderTest) -> None:
    db = backend.open()
    writer = StoreWriter(db)
    writer.create_run(new_run("r1"), who())
    big = 2**63 - 1
    writer.write("r1", "sim", batches=[chunk("loss", [0, 1, 2], [0.5, math.nan, -math.inf]),
                                       chunk("acc", [0], [1.0])])
    writer.write("r1", "sim", batches=[chunk("loss", [3, big // 1000], [1e308, 5e-324])])
    reader = StoreReader(backend.open())  # another connection sees the commit
    steps, t_ns, values = reader.series("r1", "sim", "loss")
    assert steps.tolist() == [0, 1, 2, 3, big // 1000]
    assert t_ns.tolist() == [0, 1000, 2000, 3000, (big // 1000) * 1000]
    assert values[0] == 0.5 and math.isnan(values[1]) and values[2] == -math.inf
    assert values[3:].tolist() == [1e308, 5e-324]
    assert reader.keys("r1", "sim") == ["acc", "loss"]
    assert reader.chunk_stats("r1", "sim", "loss") == [(3, 0, 2, -math.inf, 0.5), (2, 3, big // 1000, 5e-324, 1e308)]
    assert reader.chunk_stats("r1", "sim", "acc") == [(1, 0, 0, 1.0, 1.0)]
    assert backend.raw("SELECT count FROM series WHERE key = ?", "loss") == [(5,)]
    empty = reader.series("r1", "sim", "never-logged")
    assert [a.size for a in empty] == [0, 0, 0]


def test_a_large_series_round_trips(backend: StoreUnderTest) -> None:
    db = backend.open()
    writer = StoreWriter(db)
    writer.create_run(new_run("r1"), who())
    values = np.random.default_rng(0).normal(size=300_000)
    steps = np.arange(values.size, dtype=np.int64)
    for start in range(0, values.size, 100_000):
        part = slice(start, start + 100_000)
        writer.write("r1", "sim", batches=[pack("sim", "x", steps[part], steps[part], values[part])])
    got_steps, _, got = StoreReader(db).series("r1", "sim", "x")
    np.testing.assert_array_equal(got_steps, steps)
    np.testing.assert_array_equal(got, values)


def test_summary_is_replaced_and_config_metadata_are_merged_keeping_none(backend: StoreUnderTest) -> None:
    db = backend.open()
    writer = StoreWriter(db)
    writer.create_run(new_run("r1"), who())
    writer.write("r1", "sim", summary={"a": 1, "b": 2}, config={"batch": None}, metadata={"git": "abc"})
    writer.write("r1", "sim", summary={"a": 3, "nan": math.nan}, config={"lr": 0.2}, metadata={"host": "h"})
    writer.write("r1", "real", summary={"r": 1})
    reader = StoreReader(db)
    summary = reader.summary("r1", "sim")
    assert summary["a"] == 3 and "b" not in summary and math.isnan(summary["nan"])
    assert reader.summary("r1", "real") == {"r": 1} and reader.summary("r1", "none") == {}
    run = reader.run("r1")
    assert run.config == {"lr": 0.2, "batch": None} and run.metadata == {"git": "abc", "host": "h"}


def test_attach_and_end_follow_the_owner_rules(backend: StoreUnderTest) -> None:
    db = backend.open()
    writer = StoreWriter(db)
    writer.create_run(new_run("r1"), who())
    writer.write("r1", "sim", batches=[chunk("x", [0, 7], [1.0, 2.0])], summary={"x": 2.0})
    beside = writer.attach_run("r1", "real", who(pid=1), owner_alive=True)
    assert (beside.owner, beside.next_step, beside.summary) == (False, 0, {})
    again = writer.attach_run("r1", "sim", who(), owner_alive=True)
    assert (again.next_step, again.summary, again.config, again.project) == (8, {"x": 2.0}, {"lr": 0.1}, "p")
    writer.end("r1", "real", state="finished", reason=None, exit_code=None, ended_ns=time.time_ns(), owner=False)
    assert StoreReader(db).run("r1").state == "running"
    writer.end("r1", "sim", state="failed", reason="boom", exit_code=3, ended_ns=time.time_ns(), owner=True)
    run = StoreReader(db).run("r1")
    assert (run.state, run.reason, run.exit_code) == ("failed", "boom", 3) and run.ended_ns is not None
    assert StoreReader(db).sources("r1") == ["real", "sim"]  # in order of (re)attaching
    resumed = writer.attach_run("r1", "sim", who(), owner_alive=False)
    assert resumed.owner and StoreReader(db).run("r1").state == "running"
    with pytest.raises(RunNotFoundError, match=r"no run with id 'zz' in .*resume='allow'"):
        writer.attach_run("zz", "sim", who(), owner_alive=False)


def test_runs_filter_by_project_group_tags_state_and_limit(backend: StoreUnderTest) -> None:
    db = backend.open()
    writer = StoreWriter(db)
    writer.create_run(new_run("a", "p1", group="g", tags=("x", "y")), who())
    writer.create_run(new_run("b", "p1", tags=("y",)), who())
    writer.create_run(new_run("c", "p2", group="g", tags=("it's", "100%")), who())
    writer.end("b", "sim", state="finished", reason=None, exit_code=0, ended_ns=time.time_ns(), owner=True)
    reader = StoreReader(db)
    ids = lambda rows: [r.id for r in rows]  # noqa: E731
    assert reader.projects() == ["p1", "p2"]
    assert ids(reader.runs()) == ["c", "b", "a"]  # newest first
    assert ids(reader.runs("p1")) == ["b", "a"]
    assert ids(reader.runs(group="g")) == ["c", "a"]
    assert ids(reader.runs(tags=["y"])) == ["b", "a"] and ids(reader.runs(tags=["x", "y"])) == ["a"]
    assert ids(reader.runs(tags=["it's"])) == ["c"] and ids(reader.runs(tags=["100%"])) == ["c"]
    assert ids(reader.runs(tags=["' OR 1=1 --"])) == []
    assert ids(reader.runs(state="finished")) == ["b"] and ids(reader.runs(limit=1)) == ["c"]
    with pytest.raises(RunNotFoundError, match="no run with id 'nope'"):
        reader.run("nope")


def test_media_rows_round_trip_in_key_then_step_order(backend: StoreUnderTest) -> None:
    db = backend.open()
    writer = StoreWriter(db)
    writer.create_run(new_run("r1"), who())
    rows = [MediaRecord(source="sim", key="video", step=5, t_ns=1, kind="video", path="media/v5.mp4",
                        caption="late", meta={"fps": 30}),
            MediaRecord(source="real", key="cam", step=0, t_ns=2, kind="image", path="media/c.png", caption=None,
                        meta={}),
            MediaRecord(source="sim", key="video", step=1, t_ns=3, kind="video", path="media/v1.mp4", caption=None,
                        meta={"fps": 30})]
    writer.write("r1", "sim", media=rows)
    reader = StoreReader(db)
    assert [(m.key, m.step) for m in reader.media("r1")] == [("cam", 0), ("video", 1), ("video", 5)]
    late = reader.media("r1", source="sim", key="video")[-1]
    assert (late.path, late.caption, late.meta, late.kind) == ("media/v5.mp4", "late", {"fps": 30}, "video")
    assert [m.source for m in reader.media("r1", source="real")] == ["real"]


def test_truncate_after_keeps_every_point_up_to_the_step_in_order_on_every_source(backend: StoreUnderTest) -> None:
    db = backend.open()
    writer = StoreWriter(db)
    writer.create_run(new_run("r1"), who())
    # Three flushes of "loss" (the cut falls inside the second chunk), a key wholly after the cut, a real source.
    writer.write("r1", "sim", batches=[chunk("loss", [0, 1, 2], [0.0, 1.0, 2.0]), chunk("late", [9], [9.0])])
    writer.write("r1", "sim", batches=[chunk("loss", [3, 4, 5], [3.0, math.nan, 5.0])])
    writer.write("r1", "sim", batches=[chunk("loss", [6, 7], [6.0, 7.0])])
    writer.write("r1", "real", batches=[chunk("speed", [2, 4, 8], [0.2, 0.4, 0.8], source="real")],
                 media=[MediaRecord(source="real", key="cam", step=s, t_ns=s, kind="image", path=f"media/c{s}.png")
                        for s in (4, 5)])
    assert writer.truncate_after("r1", 4) == 1 + 1 + 3  # late@9, speed@8, loss@5,6,7
    reader = StoreReader(backend.open())
    steps, t_ns, values = reader.series("r1", "sim", "loss")
    assert steps.tolist() == [0, 1, 2, 3, 4] and t_ns.tolist() == [0, 1000, 2000, 3000, 4000]
    assert values[:4].tolist() == [0.0, 1.0, 2.0, 3.0] and math.isnan(values[4])
    assert reader.series("r1", "sim", "late")[0].size == 0
    assert reader.series("r1", "real", "speed")[0].tolist() == [2, 4]
    assert reader.chunk_stats("r1", "sim", "loss") == [(3, 0, 2, 0.0, 2.0), (2, 3, 4, 3.0, 3.0)]
    assert [m.step for m in reader.media("r1")] == [4]
    assert backend.raw("SELECT count FROM series WHERE key = ?", "loss") == [(5,)]
    assert writer.truncate_after("r1", 4) == 0  # nothing left after the step


def test_a_failed_transaction_stores_nothing(backend: StoreUnderTest) -> None:
    db = backend.open()
    writer = StoreWriter(db)
    writer.create_run(new_run("r1"), who())
    ensure_schema(db)
    with pytest.raises(RuntimeError, match="crash mid-batch"), db.transaction() as conn:
        StoreWriter(BoundDatabase(db, conn)).write("r1", "sim", batches=[chunk("x", [0], [1.0])])
        mark_applied(conn, "w:1", "r1", time.time_ns())
        raise RuntimeError("crash mid-batch")
    with db.reading() as conn:
        assert not was_applied(conn, "w:1")
    assert StoreReader(db).keys("r1", "sim") == []
    with db.transaction() as conn:
        StoreWriter(BoundDatabase(db, conn)).write("r1", "sim", batches=[chunk("x", [0], [1.0])])
        mark_applied(conn, "w:1", "r1", time.time_ns())
    with db.reading() as conn:
        assert was_applied(conn, "w:1") and not was_applied(conn, "w:2")
    ensure_schema(backend.open())  # idempotent on a store that has the table


def test_two_writers_into_one_run_lose_nothing(backend: StoreUnderTest) -> None:
    first = StoreWriter(backend.open())
    first.create_run(new_run("r1"), who())
    second = StoreWriter(backend.open())
    second.attach_run("r1", "real", who(pid=1), owner_alive=True)

    def log(writer: StoreWriter, source: str) -> None:
        for i in range(20):
            writer.write("r1", source, batches=[chunk(f"k{i % 3}", [i], [float(i)], source)],
                         config={f"{source}{i}": i})

    threads = [threading.Thread(target=log, args=(w, s)) for w, s in ((first, "sim"), (second, "real"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reader = StoreReader(backend.open())
    for source in ("sim", "real"):
        got = sorted(int(s) for k in ("k0", "k1", "k2") for s in reader.series("r1", source, k)[0])
        assert got == list(range(20))
    assert len(reader.run("r1").config) == 41  # lr + 40 merged keys: no merge lost another's


def test_artifact_versions_aliases_and_usage(backend: StoreUnderTest) -> None:
    store = ArtifactStore(backend.open())
    files = (FileRow("model.pt", "a" * 64, 10), FileRow("cfg.yaml", "b" * 64, 3))

    def version(digest: str) -> NewVersion:
        return NewVersion(name="policy", type="model", digest=digest, files=files, metadata={"step": 1},
                          description=None, run_id="r1", created_ns=time.time_ns())

    v0 = store.add_version(version("d0"), ["best"])
    assert v0.created and v0.version is not None and (v0.version.number, v0.version.size) == (0, 13)
    same = store.add_version(version("d0"), [])
    assert not same.created and same.version is not None and same.version.id == v0.version.id
    v1 = store.add_version(version("d1"), ["best"])
    assert v1.version is not None and v1.version.number == 1
    assert store.aliases(v1.version.id) == ["best", "latest"] and store.aliases(v0.version.id) == []
    clash = store.add_version(NewVersion(name="policy", type="dataset", digest="d2", files=(), metadata={},
                                         description=None, run_id=None, created_ns=0), [])
    assert (clash.version, clash.stored_type) == (None, "model")
    found = store.find("policy", alias="best")
    assert found is not None and found.number == 1
    assert [f.path for f in store.files(v0.version.id)] == ["cfg.yaml", "model.pt"]
    store.record_use(v0.version.id, "r2", "real", 5)
    store.record_use(v0.version.id, "r2", "real", 9)  # once
    assert store.users(v0.version.id) == ["r2"]
    assert [v.number for v in store.used_by_run("r2")] == [0]
    assert store.labels("policy") == ([0, 1], ["best"]) and store.names() == ["policy"]
    assert store.digests_of_size(10, 5) == ["a" * 64]
    store.set_aliases(v0.version.id, ["prod"], replace=True)
    assert [v.number for v in store.versions("policy", type="model")] == [0, 1]


def test_add_version_asks_owner_ok_inside_its_transaction_with_the_first_versions_project(
    backend: StoreUnderTest,
) -> None:
    db = backend.open()
    writer = StoreWriter(db)
    writer.create_run(new_run("a1", project="team-a"), who())
    writer.create_run(new_run("b1", project="team-b"), who())
    store = ArtifactStore(db)
    asked: list[str | None] = []

    def version(name: str, digest: str, run_id: str | None) -> NewVersion:
        return NewVersion(name=name, type="model", digest=digest, files=(), metadata={}, description=None,
                          run_id=run_id, created_ns=0)

    def only_b(project: str | None) -> bool:
        asked.append(project)
        return project == "team-b"

    assert store.add_version(version("policy", "d0", "a1"), [], owner_ok=only_b).created  # a new name: not asked
    refused = store.add_version(version("policy", "d1", "b1"), ["best"], owner_ok=only_b)
    assert (refused.refused, refused.version, asked) == (True, None, ["team-a"])
    assert [v.number for v in store.versions("policy")] == [0] and store.find("policy", alias="best") is None
    store.add_version(version("orphan", "d0", None), [])
    assert store.add_version(version("orphan", "d1", "b1"), [], owner_ok=only_b).refused and asked[-1] is None
    assert store.add_version(version("policy", "d1", "a1"), [], owner_ok=lambda p: p == "team-a").created


def test_a_new_store_gets_the_current_schema_and_reopens(backend: StoreUnderTest) -> None:
    backend.open()
    backend.open()  # opening again migrates nothing
    if backend.kind == "sqlite":
        assert backend.raw("PRAGMA user_version") == [(SCHEMA_VERSION,)]
    else:
        assert backend.raw("SELECT version FROM rltrack_schema") == [(SCHEMA_VERSION,)]


def test_a_store_from_a_newer_rltrack_is_refused_untouched(backend: StoreUnderTest) -> None:
    writer = StoreWriter(backend.open())
    writer.create_run(new_run("r1"), who())
    if backend.kind == "sqlite":
        backend.raw(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    else:
        backend.raw("UPDATE rltrack_schema SET version = ?", SCHEMA_VERSION + 1)
    with pytest.raises(StoreError, match=rf"schema version {SCHEMA_VERSION + 1}, newer than this rltrack"):
        backend.open()
    assert backend.raw("SELECT id FROM runs") == [("r1",)]


def test_reading_where_no_store_exists_says_so(backend: StoreUnderTest) -> None:
    with pytest.raises(StoreError, match="no rltrack store"):
        backend.open(create=False)


def test_a_store_at_an_older_version_migrates_forward_keeping_its_runs(backend: StoreUnderTest) -> None:
    from rltrack.store.schema import MIGRATIONS

    first = MIGRATIONS[0][1]
    if backend.kind == "sqlite":
        backend.root.mkdir(parents=True)
        for statement in (s for s in first.split(";") if s.strip()):
            backend.raw(statement)
        backend.raw("PRAGMA user_version = 1")
    else:
        from rltrack.store.postgres.dialect import to_postgres_ddl
        from rltrack.store.postgres.schema import _BOOTSTRAP

        for statement in _BOOTSTRAP:
            backend.raw(statement)
        for statement in (s for s in first.split(";") if s.strip()):
            for translated in to_postgres_ddl(statement):
                backend.raw(translated)
        backend.raw("UPDATE rltrack_schema SET version = 1")
    backend.raw("INSERT INTO runs (id, project, name, primary_source, state, created_ns, heartbeat_ns, host, pid,"
                " pid_started_ns) VALUES ('old', 'p', 'old', 'sim', 'finished', 1, 1, 'h', 1, 0)")
    db = backend.open(create=False)  # a reader-only open still migrates an existing store forward
    assert StoreReader(db).run("old").state == "finished"
    added = ArtifactStore(db).add_version(NewVersion(name="a", type="model", digest="d", files=(), metadata={},
                                                     description=None, run_id="old", created_ns=1), [])
    assert added.created  # migration 2's tables exist
    version = "PRAGMA user_version" if backend.kind == "sqlite" else "SELECT version FROM rltrack_schema"
    assert backend.raw(version) == [(SCHEMA_VERSION,)]


def test_another_connections_commit_changes_the_data_version(backend: StoreUnderTest) -> None:
    reader, other = backend.open(), backend.open()
    StoreWriter(other).create_run(new_run("r1"), who())

    def data_version() -> int:
        with reader.reading() as conn:
            return int(conn.execute("PRAGMA data_version").fetchone()[0])

    before = data_version()
    assert data_version() == before  # nothing committed: the read cache keeps its entries
    StoreWriter(other).write("r1", "sim", summary={"x": 1})
    assert data_version() != before  # another process wrote: the read cache drops them
