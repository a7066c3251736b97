"""Saved dashboards on a server with accounts: who may list, save and share them, and who saved since.

Real accounts (``<root>/accounts.sqlite``, argon2 passwords, API keys) over a store filled by the run API:
team ``lab`` owns ``cartpole`` (team-visible) with a member and a viewer; ``eve`` is in another team.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

pytest.importorskip("argon2", reason="accounts need argon2-cffi: pip install 'rltrack[server]'")

from rltrack.server import ServerSettings, create_app
from rltrack.server.accounts import open_accounts

from .conftest import Filled, TestClient, fill_store, local_client


@dataclass
class Team:
    filled: Filled
    client: TestClient
    keys: dict[str, str]  # user -> API key

    def as_(self, user: str | None) -> dict[str, str]:
        return {"authorization": f"Bearer {self.keys[user]}"} if user else {}


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    filled = fill_store(tmp_path_factory.mktemp("dash-accounts") / "store")
    accounts = open_accounts(filled.root)
    keys = {}
    for user in ("alice", "bob", "vera", "eve"):
        accounts.create_user(user, f"{user}-password-14")
        keys[user] = accounts.create_key(user, "test")[1]
    accounts.create_team("lab")
    accounts.create_team("rivals")
    accounts.add_member("lab", "alice", "member")
    accounts.add_member("lab", "bob", "member")
    accounts.add_member("lab", "vera", "viewer")
    accounts.add_member("rivals", "eve", "member")
    accounts.set_project("cartpole", team="lab", visibility="team")
    accounts.set_project("robot", owner_user="eve")
    with local_client(create_app(ServerSettings(root=filled.root, ingest=True))) as client:
        yield Team(filled, client, keys)


def test_team_members_save_viewers_read_strangers_see_nothing(team: Team) -> None:
    c, api = team.client, "/api/projects/cartpole/dashboards"
    made = c.post(api, json={"kind": "workspace", "name": "lab view"}, headers=team.as_("alice"))
    assert made.status_code == 201 and made.json()["created_by"] == "alice"
    d = made.json()["id"]
    # A teammate opens and saves it; the viewer reads but cannot save or share.
    assert c.get(f"{api}/{d}", headers=team.as_("bob")).json()["name"] == "lab view"
    saved = c.put(f"{api}/{d}", json={"name": "lab view 2", "version": 1}, headers=team.as_("bob"))
    assert saved.status_code == 200 and (saved.json()["created_by"], saved.json()["updated_by"]) == ("alice", "bob")
    assert c.get(api, headers=team.as_("vera")).json()["dashboards"][0]["updated_by"] == "bob"
    for method, path in (("PUT", f"{api}/{d}"), ("POST", api), ("DELETE", f"{api}/{d}"), ("POST", f"{api}/{d}/shares")):
        r = c.request(method, path, json={"kind": "workspace", "name": "v", "version": 2}, headers=team.as_("vera"))
        assert r.status_code == 403, (method, path, r.status_code)
    # Someone outside the team learns nothing (404, as for a missing project); no key is a 401.
    for method, path in (("GET", api), ("GET", f"{api}/{d}"), ("PUT", f"{api}/{d}"), ("GET", f"{api}/{d}/export.html"),
                         ("GET", "/api/projects/cartpole/workspace")):
        r = c.request(method, path, json={"name": "x", "version": 2}, headers=team.as_("eve"))
        assert r.status_code == 404, (method, path, r.status_code)
    assert c.get(api).status_code == 401
    assert c.get(f"{api}/{d}", headers=team.as_("alice")).json()["version"] == 2


def test_a_stale_save_names_the_teammate_who_saved_since(team: Team) -> None:
    c, api = team.client, "/api/projects/cartpole/dashboards"
    d = c.post(api, json={"kind": "workspace", "name": "race"}, headers=team.as_("alice")).json()["id"]
    assert c.put(f"{api}/{d}", json={"name": "bob's", "version": 1}, headers=team.as_("bob")).status_code == 200
    stale = c.put(f"{api}/{d}", json={"name": "alice's", "version": 1}, headers=team.as_("alice"))
    assert stale.status_code == 409 and "saved by bob" in stale.json()["detail"]


def test_a_share_link_opens_logged_out_and_only_its_dashboard(team: Team) -> None:
    c, api = team.client, "/api/projects/cartpole/dashboards"
    d = c.post(api, json={"kind": "report", "name": "weekly", "layout": {"runs": [team.filled.alpha]},
                          "blocks": [{"panel": {"key": "train/loss"}}]}, headers=team.as_("alice")).json()["id"]
    token = c.post(f"{api}/{d}/shares", json={}, headers=team.as_("alice")).json()["token"]
    assert c.get(f"/api/shared/{token}").json()["name"] == "weekly"  # no credentials at all
    assert c.get(f"/share/{token}").status_code == 200
    series = f"/api/shared/{token}/series"
    assert c.get(series, params={"key": "train/loss", "runs": team.filled.alpha}).status_code == 200
    assert c.get(series, params={"key": "train/loss", "runs": team.filled.beta}).status_code == 404
    assert c.get(f"/api/shared/{token}/export.html").status_code == 200
    # The token opens nothing else: the project's own API still needs a login.
    assert c.get(f"{api}/{d}", headers={"authorization": f"Bearer {token}"}).status_code == 401
    assert c.get("/api/projects/cartpole/workspace").status_code == 401
