"""Artifacts on a server with accounts: a project owns the names it logged first; blobs need a writer.

Artifact names are one namespace for the whole server, so the rules of
:mod:`rltrack.server.routes_artifacts` keep one team from adding versions to, or moving the aliases
of, another team's artifact, and keep viewers from filling the blob store.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import pytest

pytest.importorskip("fastapi", reason="the server needs the ui extra: pip install 'rltrack[server]'")

if TYPE_CHECKING:
    from conftest import World  # tests/rltrack/server/accounts/conftest.py

LAB_RUN, OTHER_RUN = "labrun01", "othrun01"
TOKEN = {"authorization": "Bearer tok"}
OCTETS = {"content-type": "application/octet-stream"}


def stored_blob(world: World, content: bytes) -> dict[str, Any]:
    """Store ``content`` as a blob (with the server token); return its file entry for a version."""
    sha = hashlib.sha256(content).hexdigest()
    put = world.client.put(f"/api/ingest/blobs/{sha}", content=content, headers={**TOKEN, **OCTETS})
    assert put.status_code == 200, put.text
    return {"path": "policy.bin", "sha256": sha, "size": len(content)}


def version(name: str, run_id: str | None, files: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    return {"name": name, "type": "model", "files": files, "run_id": run_id, "created_ns": 7, **more}


def lab_policy(world: World) -> list[tuple[str, list[str]]]:
    """The lab's ``policy`` versions and their aliases, as the lab's admin sees them."""
    got = world.client.get(f"/api/runs/{LAB_RUN}/artifacts", headers=world.as_role("admin"))
    assert got.status_code == 200, got.text
    return [(v["version"], sorted(v["aliases"])) for v in got.json()["logged"] if v["name"] == "policy"]


def test_another_team_cannot_add_a_version_to_an_artifact_or_move_its_alias(world: World) -> None:
    before = lab_policy(world)
    assert before == [("v0", ["latest"])]
    c, wes = world.client, world.as_role("wrong_team")
    forged = version("policy", OTHER_RUN, [stored_blob(world, b"someone else's weights")], aliases=["prod"])
    refused = c.post("/api/ingest/artifacts", json=forged, headers=wes)
    assert refused.status_code == 403 and "policy" in refused.json()["detail"], refused.text
    # The same content as the lab's v0 would only move aliases to it: refused as well.
    same = world.artifact_body() | {"run_id": OTHER_RUN, "aliases": ["prod"]}
    assert c.post("/api/ingest/artifacts", json=same, headers=wes).status_code == 403
    # Without a run the version belongs to nobody: refused to every user, whoever owns the name.
    for role in ("wrong_team", "member", "admin"):
        headless = world.artifact_body() | {"run_id": None, "aliases": ["prod"]}
        answer = c.post("/api/ingest/artifacts", json=headless, headers=world.as_role(role))
        assert answer.status_code == 403 and "run_id" in answer.json()["detail"], (role, answer.text)
    assert lab_policy(world) == before


def test_the_owning_team_adds_versions_and_other_teams_log_their_own_names(world: World) -> None:
    c = world.client
    mine = version("policy", LAB_RUN, [stored_blob(world, b"lab weights v1")], aliases=["best"])
    added = c.post("/api/ingest/artifacts", json=mine, headers=world.as_role("member"))
    assert added.status_code == 200 and added.json()["version"] == "v1", added.text
    assert lab_policy(world) == [("v0", []), ("v1", ["best", "latest"])]
    theirs = version("wes-policy", OTHER_RUN, [stored_blob(world, b"wes weights")])
    assert c.post("/api/ingest/artifacts", json=theirs, headers=world.as_role("wrong_team")).status_code == 200
    # ... and that name is now the other team's: the lab cannot add to it through a lab run.
    sneak = version("wes-policy", LAB_RUN, [stored_blob(world, b"lab into wes")])
    refused = c.post("/api/ingest/artifacts", json=sneak, headers=world.as_role("admin"))
    assert refused.status_code == 403, refused.text


def test_a_viewer_cannot_add_a_version_and_a_stranger_learns_nothing(world: World) -> None:
    c = world.client
    body = version("policy", LAB_RUN, [stored_blob(world, b"viewer weights")], aliases=["best"])
    assert c.post("/api/ingest/artifacts", json=body, headers=world.as_role("viewer")).status_code == 403
    assert c.post("/api/ingest/artifacts", json=body, headers=world.as_role("stranger")).status_code == 404
    assert "viewer" not in str(lab_policy(world))


def test_an_artifact_logged_without_a_run_takes_versions_only_from_a_server_token(world: World) -> None:
    c = world.client
    files = [stored_blob(world, b"shared v0")]
    assert c.post("/api/ingest/artifacts", json=version("shared-env", None, files), headers=TOKEN).status_code == 200
    more = version("shared-env", LAB_RUN, [stored_blob(world, b"shared v1")])
    assert c.post("/api/ingest/artifacts", json=more, headers=world.as_role("admin")).status_code == 403
    assert c.post("/api/ingest/artifacts", json=more, headers=TOKEN).json()["version"] == "v1"


def test_another_teams_artifact_cannot_be_marked_used_and_answers_as_missing(world: World) -> None:
    c = world.client
    use = {"name": "policy", "digest": world.artifact_digest, "run_id": OTHER_RUN, "source": "sim", "used_ns": 1}
    hidden = c.post("/api/ingest/artifacts/uses", json=use, headers=world.as_role("wrong_team"))
    missing = c.post("/api/ingest/artifacts/uses", json=use | {"name": "no-such-artifact"},
                     headers=world.as_role("wrong_team"))
    assert hidden.status_code == missing.status_code == 404, hidden.text
    assert c.get(f"/api/runs/{OTHER_RUN}/artifacts", headers=world.as_role("wrong_team")).json()["used"] == []
    ok = c.post("/api/ingest/artifacts/uses", json=use | {"run_id": LAB_RUN}, headers=world.as_role("member"))
    assert ok.status_code == 200 and ok.json()["version"] == "v0", ok.text


@pytest.mark.parametrize(("role", "status"), [("viewer", 403), ("stranger", 403), ("wrong_team", 200),
                                              ("member", 200)])
def test_only_a_caller_who_may_write_some_project_uploads_blobs(world: World, role: str, status: int) -> None:
    c, headers = world.client, world.as_role(role)
    content = f"blob of the {role}".encode()
    sha = hashlib.sha256(content).hexdigest()
    put = c.put(f"/api/ingest/blobs/{sha}", content=content, headers={**headers, **OCTETS})
    assert put.status_code == status, put.text
    asked = c.post("/api/ingest/blobs/missing", json={"blobs": [{"sha256": sha, "size": len(content)}]},
                   headers=headers)
    assert asked.status_code == status, asked.text
    # Whether the refused upload left anything behind: the server token asks.
    lacks = c.post("/api/ingest/blobs/missing", json={"blobs": [{"sha256": sha, "size": len(content)}]},
                   headers=TOKEN).json()["missing"]
    assert lacks == ([] if status == 200 else [sha])
