"""Typed panels on a server with accounts: a viewer reads the project's media and compare, a stranger gets 404,
and a share link's media load with no credentials at all (the guard lets ``/api/shared/`` through, the link's
scope decides).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the server needs the ui extra: pip install 'rltrack[server]'")
pytest.importorskip("argon2", reason="accounts need argon2-cffi: pip install 'rltrack[server]'")

import httpx

from rltrack.server import ServerSettings
from rltrack.server.serve import BackgroundServer

from .conftest import Filled, fill_store


@dataclass
class Team:
    url: str
    filled: Filled
    keys: dict[str, dict[str, str]]  # user -> authorization header

    def get(self, user: str | None, path: str, **params: Any) -> httpx.Response:
        headers = self.keys[user] if user else {}
        return httpx.get(self.url + path, params=params, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    from rltrack.server.accounts import open_accounts

    filled = fill_store(tmp_path_factory.mktemp("panels-team") / "store")
    accounts = open_accounts(filled.root)
    keys = {}
    for user, team_name, role in (("alice", "lab", "member"), ("vic", "lab", "viewer"), ("eve", "rivals", "member")):
        accounts.create_user(user, f"{user}-password-14")
        if team_name not in accounts.teams():
            accounts.create_team(team_name)
        accounts.add_member(team_name, user, role)
        keys[user] = {"authorization": f"Bearer {accounts.create_key(user)[1]}"}
    accounts.set_project("cartpole", team="lab", visibility="team")
    with BackgroundServer(ServerSettings(root=filled.root)) as server:
        yield Team(server.url, filled, keys)


def test_a_viewer_reads_media_and_compare_and_a_stranger_gets_404(team: Team) -> None:
    runs = f"{team.filled.alpha},{team.filled.beta}"
    media = team.get("vic", "/api/projects/cartpole/media", key="media/frame", runs=runs)
    assert media.status_code == 200 and [i["run"] for i in media.json()["items"]] == [team.filled.alpha]
    compare = team.get("vic", "/api/projects/cartpole/compare", runs=runs, keys="train/loss")
    assert compare.status_code == 200 and compare.json()["config_keys"] == ["lr", "seed"]
    for user in ("eve", None):
        # The same answer as the project's series route gives them: what they cannot see does not exist.
        series = team.get(user, "/api/projects/cartpole/series", key="train/loss", runs=runs)
        for path, params in (("/api/projects/cartpole/media", {"key": "media/frame", "runs": runs}),
                             ("/api/projects/cartpole/compare", {"runs": runs, "keys": "train/loss"}),
                             ("/api/projects/cartpole/panels", {"p": "[]"})):
            r = team.get(user, path, **params)
            assert r.status_code == series.status_code == (404 if user else 401), (user, path, r.text)
            assert r.json() == series.json()


def test_a_share_links_media_load_logged_out(team: Team) -> None:
    alice = team.keys["alice"]
    made = httpx.post(f"{team.url}/api/projects/cartpole/dashboards", headers=alice, json={
        "kind": "workspace", "name": "frames",
        "layout": {"runs": [team.filled.alpha], "panels": [{"type": "media", "key": "media/frame"}]}})
    assert made.status_code == 201, made.text
    viewer_share = httpx.post(f"{team.url}/api/projects/cartpole/dashboards/{made.json()['id']}/shares",
                              headers=team.keys["vic"], json={})
    assert viewer_share.status_code == 403  # a viewer reads, and cannot share
    token = httpx.post(f"{team.url}/api/projects/cartpole/dashboards/{made.json()['id']}/shares", headers=alice,
                       json={}).json()["token"]
    items = team.get(None, f"/api/shared/{token}/media", key="media/frame", runs=team.filled.alpha).json()["items"]
    image = team.get(None, items[0]["url"])
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    video = team.get("vic", "/api/projects/cartpole/media", key="media/rollout", runs=team.filled.alpha)
    clip = video.json()["items"][0]["url"].split("/files/")[1]
    assert team.get(None, f"/api/shared/{token}/runs/{team.filled.alpha}/files/{clip}").status_code == 404
    assert team.get(None, f"/api/runs/{team.filled.alpha}/files/{clip}").status_code == 401  # not through the link
