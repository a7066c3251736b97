"""Saved dashboards over HTTP on both backends: a real server (uvicorn on loopback) on SQLite and on PostgreSQL.

Each server is filled by real online runs (``rltrack.init(mode="online")``), then its dashboards API is
driven with httpx: round trips, the 409 of a stale save, share links (read-only, limited to what the
dashboard shows, revocable), hostile bodies, the newer-schema refusal and the offline HTML export.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the server needs the ui extra: pip install 'rltrack[server]'")

import httpx

import rltrack
from rltrack.errors import StoreError
from rltrack.server import ServerSettings
from rltrack.server.dashboards import parse_dashboard
from rltrack.server.dashboards_open import open_dashboards
from rltrack.server.serve import BackgroundServer

HOSTILE = '<img src=x onerror="window.pwned=1">"\'&</script>'


@dataclass
class Served:
    url: str
    root: Path
    db: str | None
    alpha: str  # cartpole: train/loss, rollout/reward
    beta: str  # cartpole: train/loss, rollout/reward
    other: str  # project "secret": secret/key

    def api(self, path: str) -> str:
        return f"{self.url}/api/projects/cartpole{path}"


def _fill(url: str, spool: Path) -> tuple[str, str, str]:
    ids = []
    for name, project, keys in (("alpha", "cartpole", ("train/loss", "rollout/reward")),
                                ("beta", "cartpole", ("train/loss", "rollout/reward")),
                                ("hidden", "secret", ("secret/key",))):
        run = rltrack.init(project=project, name=name, mode="online", url=url, dir=spool, config={"lr": len(ids)},
                           system_metrics=False)
        for step in range(50):
            run.log({k: float(step * (len(ids) + 1)) for k in keys}, step=step)
        run.finish()
        ids.append(run.id)
    return ids[0], ids[1], ids[2]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp(f"dash-{request.param}")
    db = request.getfixturevalue("pg_cluster").new_database() if request.param == "postgresql" else None
    server = BackgroundServer(ServerSettings(root=root / "server", ingest=True, db=db))
    try:
        alpha, beta, other = _fill(server.url, root / "spool")
        yield Served(server.url, root / "server", db, alpha, beta, other)
    finally:
        server.stop()


def _create(s: Served, **body: Any) -> dict[str, Any]:
    r = httpx.post(s.api("/dashboards"), json={"kind": "workspace", "name": "ws", **body})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_a_workspace_round_trips_and_every_save_adds_one_version(served: Served) -> None:
    made = _create(served, name="PPO seeds", layout={"x_axis": "wall", "runs": [served.alpha], "smoothing": 0.5})
    assert (made["version"], made["name"], made["created_by"], made["kind"]) == (1, "PPO seeds", None, "workspace")
    assert made["layout"]["x_axis"] == "wall" and made["layout"]["recent"] == 50  # defaults filled in
    assert made["url"] == f"/projects/cartpole?d={made['id']}"
    listed = httpx.get(served.api("/dashboards")).json()["dashboards"]
    assert made["id"] in [d["id"] for d in listed] and "layout" not in listed[0]
    got = httpx.get(served.api(f"/dashboards/{made['id']}")).json()
    assert got["layout"] == made["layout"]
    saved = httpx.put(served.api(f"/dashboards/{made['id']}"),
                      json={"name": "renamed", "layout": {"log_y": True}, "version": 1}).json()
    assert (saved["version"], saved["name"], saved["layout"]["log_y"], saved["layout"]["x_axis"]) == (
        2, "renamed", True, "step")  # a save replaces the layout: what was left out takes its default
    assert saved["updated_ns"] >= made["updated_ns"] and saved["created_ns"] == made["created_ns"]
    # Another project does not see it; the wrong project in the URL is a 404.
    assert httpx.get(f"{served.url}/api/projects/secret/dashboards/{made['id']}").status_code == 404
    assert httpx.delete(served.api(f"/dashboards/{made['id']}")).json() == {"deleted": made["id"]}
    assert httpx.get(served.api(f"/dashboards/{made['id']}")).status_code == 404
    assert httpx.put(served.api(f"/dashboards/{made['id']}"), json={"name": "x", "version": 2}).status_code == 404


def test_a_stale_save_is_refused_with_409_and_keeps_the_newer_version(served: Served) -> None:
    made = _create(served, name="shared view")
    first = httpx.put(served.api(f"/dashboards/{made['id']}"), json={"name": "mine", "version": 1})
    assert first.status_code == 200 and first.json()["version"] == 2
    stale = httpx.put(served.api(f"/dashboards/{made['id']}"), json={"name": "theirs", "version": 1})
    assert stale.status_code == 409
    assert "version 2" in stale.json()["detail"] and "since you opened version 1" in stale.json()["detail"]
    assert httpx.get(served.api(f"/dashboards/{made['id']}")).json()["name"] == "mine"


def test_concurrent_saves_of_one_version_store_exactly_one(served: Served) -> None:
    made = _create(served, name="race")
    start = threading.Barrier(8)
    statuses: list[int] = []

    def save(i: int) -> None:
        start.wait()
        r = httpx.put(served.api(f"/dashboards/{made['id']}"), json={"name": f"writer {i}", "version": 1}, timeout=30)
        statuses.append(r.status_code)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [409] * 7
    final = httpx.get(served.api(f"/dashboards/{made['id']}")).json()
    assert final["version"] == 2 and final["name"].startswith("writer ")


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"kind": "workspace", "name": ""}, 400, "name"),
    ({"kind": "workspace", "name": "x" * 201}, 400, "at most 200"),
    ({"kind": "workspace", "name": "a\x00b"}, 400, "control characters"),
    ({"kind": "dashboard", "name": "x"}, 400, "kind"),
    ({"kind": "workspace", "name": "x", "owner": "me"}, 400, "unknown field"),
    ({"kind": "workspace", "name": "x", "layout": {"x_axis": "sideways"}}, 400, "x_axis"),
    ({"kind": "workspace", "name": "x", "layout": {"runs": ["../../etc"]}}, 400, "run id"),
    ({"kind": "workspace", "name": "x", "blocks": [{"markdown": "hi"}]}, 400, "a workspace has no blocks"),
    ({"kind": "report", "name": "x", "blocks": [{"html": "<b>"}]}, 400, "block 0"),
    ({"kind": "report", "name": "x", "blocks": [{"markdown": "x" * 20_001}]}, 400, "at most 20000"),
    ({"kind": "report", "name": "x", "blocks": [{"panel": {"key": "a", "source": "'; DROP TABLE dashboards;--"}}]},
     400, "source"),
    (["not", "an", "object"], 400, "JSON object"),
])
def test_invalid_dashboards_are_refused_naming_the_field(served: Served, body: Any, status: int, words: str) -> None:
    r = httpx.post(served.api("/dashboards"), json=body)
    assert r.status_code == status, r.text
    assert words in r.json()["detail"]


def test_malformed_oversized_and_stale_less_bodies_get_4xx_never_5xx(served: Served) -> None:
    headers = {"content-type": "application/json"}
    assert httpx.post(served.api("/dashboards"), content=b"{not json", headers=headers).status_code == 422
    huge = json.dumps({"kind": "report", "name": "x", "blocks": [{"markdown": "y" * 19_000}] * 40})
    assert httpx.post(served.api("/dashboards"), content=huge, headers=headers).status_code == 413
    made = _create(served)
    for version in (None, "1", 0, True, 2**63, 2**70):  # 2**70 was an OverflowError (500) in the database
        r = httpx.put(served.api(f"/dashboards/{made['id']}"), json={"name": "x", "version": version})
        assert r.status_code == 400 and "version" in r.json()["detail"]
    r = httpx.put(served.api(f"/dashboards/{made['id']}"), json={"kind": "report", "name": "x", "version": 1})
    assert r.status_code == 400 and "cannot change" in r.json()["detail"]
    assert httpx.get(served.api("/dashboards"), params={"kind": "nope"}).status_code == 400
    # SQL in a path parameter is a name like any other: nothing found, nothing run.
    assert httpx.get(served.api("/dashboards/' OR '1'='1")).status_code == 404


def _report(s: Served) -> dict[str, Any]:
    return _create(s, kind="report", name=HOSTILE, layout={"runs": [s.alpha, s.beta]},
                   blocks=[{"markdown": "# Results <script>alert(1)</script>\n\nSee [docs](https://example.org)"},
                           {"panel": {"key": "train/loss"}}])


def test_a_share_link_reads_only_what_its_report_shows_and_cannot_write(served: Served) -> None:
    report = _report(served)
    made = httpx.post(served.api(f"/dashboards/{report['id']}/shares"), json={})
    assert made.status_code == 201
    token, url = made.json()["token"], made.json()["url"]
    assert len(token) >= 40 and url == f"/share/{token}"
    base = f"{served.url}/api/shared/{token}"
    shared = httpx.get(base).json()
    assert shared["name"] == HOSTILE and "created_by" not in shared
    assert shared["blocks"][0]["html"].startswith("<h1>Results &lt;script&gt;")
    assert httpx.get(f"{served.url}{url}").status_code == 200  # the page
    ws = httpx.get(f"{base}/workspace").json()
    assert sorted(r["id"] for r in ws["runs"]) == sorted([served.alpha, served.beta])
    assert [k["key"] for k in ws["keys"]] == ["train/loss"]  # the report's panel keys only
    series = httpx.get(f"{base}/series", params={"key": "train/loss", "runs": f"{served.alpha},{served.beta}"}).json()
    assert [r["count"] for r in series["runs"]] == [50, 50]
    # Nothing else of the project, nothing of another project, no writes.
    assert httpx.get(f"{base}/series", params={"key": "rollout/reward", "runs": served.alpha}).status_code == 404
    assert httpx.get(f"{base}/series", params={"key": "train/loss", "runs": served.other}).status_code == 404
    assert httpx.get(f"{base}/series", params={"key": "secret/key", "runs": served.other}).status_code == 404
    for method in ("PUT", "POST", "DELETE", "PATCH"):
        r = httpx.request(method, base, json={"name": "defaced", "version": 1})
        assert r.status_code == 405, (method, r.status_code)
    assert httpx.get(f"{base}/shares").status_code == 404
    assert httpx.get(served.api(f"/dashboards/{report['id']}")).json()["name"] == HOSTILE
    # Revoked: every shared route and the page answer 404 at once.
    links = httpx.get(served.api(f"/dashboards/{report['id']}/shares")).json()["shares"]
    assert [link["revoked_ns"] for link in links] == [None] and token not in json.dumps(links)
    assert httpx.delete(served.api(f"/dashboards/{report['id']}/shares/{links[0]['id']}")).status_code == 200
    for path in (base, f"{base}/workspace", f"{base}/export.html", f"{served.url}/share/{token}"):
        assert httpx.get(path).status_code == 404, path
    assert httpx.get(f"{base}/series", params={"key": "train/loss", "runs": served.alpha}).status_code == 404
    assert httpx.delete(served.api(f"/dashboards/{report['id']}/shares/{links[0]['id']}")).status_code == 404


def test_a_shared_workspace_serves_its_runs_and_filtered_keys_only(served: Served) -> None:
    ws = _create(served, layout={"runs": [served.alpha], "key_filter": "LOSS", "x_axis": "wall"})
    token = httpx.post(served.api(f"/dashboards/{ws['id']}/shares"), json={}).json()["token"]
    boot = httpx.get(f"{served.url}/api/shared/{token}/workspace").json()
    assert [r["id"] for r in boot["runs"]] == [served.alpha] and [k["key"] for k in boot["keys"]] == ["train/loss"]
    assert boot["layout"]["x_axis"] == "wall" and boot["name"] == "ws"
    series = f"{served.url}/api/shared/{token}/series"
    assert httpx.get(series, params={"key": "train/loss", "runs": served.alpha, "x": "t_ns"}).status_code == 200
    assert httpx.get(series, params={"key": "train/loss", "runs": served.beta}).status_code == 404
    # A ?w= cannot widen what the link shows.
    wider = httpx.get(f"{served.url}/api/shared/{token}/workspace", params={"w": '{"recent": 1000}'}).json()
    assert [r["id"] for r in wider["runs"]] == [served.alpha]
    # Deleting the workspace kills its links; an unknown or absurd token is a plain 404.
    httpx.delete(served.api(f"/dashboards/{ws['id']}"))
    for t in (token, "x", "A" * 5000, "..%2F..%2Fetc"):
        assert httpx.get(f"{served.url}/api/shared/{t}").status_code == 404


def test_a_report_exports_as_one_offline_html_file(served: Served) -> None:
    report = _report(served)
    r = httpx.get(served.api(f"/dashboards/{report['id']}/export.html"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["content-disposition"].startswith("attachment; filename=")
    page = r.text
    # Everything inline: no script, style or image is fetched from anywhere.
    assert not re.search(r"<(script|link|img|iframe)[^>]*\b(src|href)=", page)
    assert "Plotly" in page and "report-data" in page
    meta = re.search(r"http-equiv='Content-Security-Policy' content=\"([^\"]+)\"", page)
    assert meta is not None and "default-src 'none'" in meta.group(1) and meta.group(1) == r.headers[
        "content-security-policy"]
    # plotly, common.js, charts.js, groups.js, panels.js, panels_table.js, panels_edit.js, report.js
    assert meta.group(1).count("'sha256-") == 8
    # Writer-controlled text is escaped: in the title as entities, in the JSON with \u003c.
    assert HOSTILE not in page and "<script>alert(1)" not in page
    assert "&lt;img src=x onerror=" in page
    data = json.loads(re.search(r"id='report-data'>(.*?)</script>", page, re.S).group(1))  # type: ignore[union-attr]
    assert data["dashboard"]["name"] == HOSTILE
    panel = data["series"]["train/loss|"]
    assert [p["count"] for p in panel["runs"]] == [50, 50]
    # Any name gives a plain ASCII file name.
    named = _create(served, kind="report", name='Bericht "über" ✓/../x', blocks=[])
    r = httpx.get(served.api(f"/dashboards/{named['id']}/export.html"))
    assert r.status_code == 200 and r.headers["content-disposition"] == 'attachment; filename="Bericht-ber-x.html"'
    # A workspace is not a report.
    ws = _create(served)
    assert httpx.get(served.api(f"/dashboards/{ws['id']}/export.html")).status_code == 400


def test_a_newer_dashboards_schema_is_refused_untouched(served: Served) -> None:
    store = open_dashboards(served.root, served.db)
    store.of_project("cartpole")  # opened (and migrated) once
    store.close()
    if served.db is None:
        with sqlite3.connect(served.root / "dashboards.sqlite") as conn:
            conn.execute("PRAGMA user_version = 99")
        with pytest.raises(StoreError, match="schema version 99, newer"):
            open_dashboards(served.root, None).of_project("cartpole")
        with sqlite3.connect(served.root / "dashboards.sqlite") as conn:
            conn.execute("PRAGMA user_version = 1")
    else:
        import psycopg

        with psycopg.connect(served.db, autocommit=True) as conn:
            conn.execute("UPDATE rltrack_dashboards_schema SET version = 99")
            try:
                with pytest.raises(StoreError, match="schema version 99, newer"):
                    open_dashboards(served.root, served.db)
            finally:
                conn.execute("UPDATE rltrack_dashboards_schema SET version = 1")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_servers_starting_at_once_migrate_once(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    # Several uvicorn workers open the dashboards on their first request at the same moment.
    db = request.getfixturevalue("pg_cluster").new_database() if backend == "postgresql" else None
    start = threading.Barrier(6)
    made: list[str] = []
    errors: list[BaseException] = []

    def first_save(i: int) -> None:
        try:
            start.wait()
            store = open_dashboards(tmp_path, db)
            made.append(store.create("p", parse_dashboard({"name": f"w{i}"}), None).id)
            store.close()
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=first_save, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(made)) == 6
    store = open_dashboards(tmp_path, db)
    try:
        assert len(store.of_project("p")) == 6
    finally:
        store.close()  # a pool left to the collector joins its workers there (seconds on a loaded machine)
