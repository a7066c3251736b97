"""``rltrack server admin ...`` makes accounts; ``rltrack login URL`` stores a key ``init(mode="online")`` uses.

A real server (uvicorn on loopback) and the real command line (click's runner, the same entry point as
the ``rltrack`` script).
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the server needs the ui extra: pip install 'rltrack[server]'")

import httpx
from click.testing import CliRunner, Result

import rltrack
from rltrack.cli import main
from rltrack.server import ServerSettings
from rltrack.server.serve import BackgroundServer

PASSWORD = "correct horse battery"


def rl(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "config"
    monkeypatch.setenv("RLTRACK_CONFIG_DIR", str(folder))
    return folder


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str | None]:
    """A store folder and, on PostgreSQL, its --db URL."""
    url = request.getfixturevalue("pg_cluster").new_database() if request.param == "postgresql" else None
    return tmp_path / "store", url


def admin(store: tuple[Path, str | None], *args: str, stdin: str | None = None) -> Result:
    root, url = store
    return rl("server", "--dir", str(root), *(("--db", url) if url else ()), "admin", *args, stdin=stdin)


def test_admin_commands_bootstrap_users_teams_keys_and_project_owners(store: tuple[Path, str | None]) -> None:
    assert admin(store, "create-user", "Ada", "--password-stdin", stdin=PASSWORD + "\n").exit_code == 0
    assert admin(store, "create-user", "max").exit_code == 1  # no password typed: click aborts
    created = admin(store, "create-user", "max", stdin=f"{PASSWORD}\n{PASSWORD}\n")  # asked twice, hidden
    assert created.exit_code == 0, created.output
    assert admin(store, "create-team", "lab").exit_code == 0
    assert admin(store, "add-member", "lab", "ada", "--role", "admin").exit_code == 0
    assert admin(store, "add-member", "lab", "max").exit_code == 0
    key = admin(store, "create-key", "max", "--label", "robot-1")
    assert key.exit_code == 0
    secret = key.stdout.strip().splitlines()[-1]
    assert secret.startswith("rlt_") and len(secret) > 50
    assert admin(store, "set-project", "grasping", "--team", "lab").output.strip() == (
        "project grasping: owner -, team lab, team")
    listing = admin(store, "list")
    assert listing.exit_code == 0 and secret not in listing.output
    assert listing.output.splitlines() == [
        "users: ada, max", "team lab: ada (admin), max (member)", f"key {secret[:12]} of max: live (robot-1)",
        "project grasping: owner -, team lab, team"]
    assert admin(store, "revoke-key", secret[:12]).exit_code == 0
    assert f"key {secret[:12]} of max: revoked (robot-1)" in admin(store, "list").output


@pytest.mark.parametrize(("args", "message"), [
    (("create-user", "ada", "--password-stdin"), "user 'ada' exists already"),
    (("create-user", "bad name", "--password-stdin"), "user name 'bad name' is not allowed"),
    (("create-user", "bob", "--password-stdin"), "a password must be 8 to 1024 characters"),
    (("add-member", "nolab", "ada"), "no team 'nolab'"),
    (("add-member", "lab", "ada", "--role", "owner"), "'owner' is not one of"),
    (("revoke-key", "rlt_nosuchke"), "no live API key 'rlt_nosuchke'"),
    (("set-project", "p"), "needs an owner"),
])
def test_admin_commands_refuse_bad_input_with_a_clear_message(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    sqlite_store = (tmp_path / "store", None)
    admin(sqlite_store, "create-user", "ada", "--password-stdin", stdin=PASSWORD + "\n")
    admin(sqlite_store, "create-team", "lab")
    done = admin(sqlite_store, *args, stdin="short\n")
    assert done.exit_code != 0 and message in done.output, done.output


@pytest.fixture
def server(store: tuple[Path, str | None]) -> Iterator[BackgroundServer]:
    """A real server with accounts: ada and max in team lab (members), sam alone; team project 'grasping'."""
    for user in ("ada", "max", "sam"):
        admin(store, "create-user", user, "--password-stdin", stdin=PASSWORD + "\n")
    admin(store, "create-team", "lab")
    admin(store, "add-member", "lab", "ada")
    admin(store, "add-member", "lab", "max")
    admin(store, "set-project", "grasping", "--team", "lab")
    running = BackgroundServer(ServerSettings(root=store[0], ingest=True, db=store[1]))
    try:
        yield running
    finally:
        running.stop()


def test_login_stores_a_key_that_online_runs_use(server: BackgroundServer, config_dir: Path, tmp_path: Path) -> None:
    done = rl("login", server.url, "--user", "ada", "--password-stdin", stdin=PASSWORD + "\n")
    assert done.exit_code == 0, done.output
    assert f"logged in to {server.url} as ada" in done.output
    credentials = config_dir / "credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    key = json.loads(credentials.read_text())["keys"][server.url]
    assert key.startswith("rlt_")
    # No api_key, no RLTRACK_API_KEY: init() finds the stored key for this URL.
    team_run = rltrack.init(project="grasping", mode="online", url=server.url, dir=tmp_path / "spool",
                            system_metrics=False)
    own_run = rltrack.init(project="ada-scratch", mode="online", url=server.url, dir=tmp_path / "spool2",
                           system_metrics=False)
    for step in range(20):
        team_run.log({"reward": float(step)}, step=step)
        own_run.log({"loss": 1.0 / (step + 1)}, step=step)
    team_run.finish()
    own_run.finish()

    def projects(user: str) -> list[str]:
        token = httpx.post(f"{server.url}/api/auth/token", json={"user": user, "password": PASSWORD}).json()["key"]
        answer = httpx.get(f"{server.url}/api/projects", headers={"authorization": f"Bearer {token}"})
        return [p["name"] for p in answer.json() if p["runs"]]

    assert projects("ada") == ["ada-scratch", "grasping"]
    assert projects("max") == ["grasping"]  # the team's project, not ada's private one
    assert projects("sam") == []
    series = httpx.get(f"{server.url}/api/runs/{team_run.id}/series", params={"key": "reward"},
                       headers={"authorization": f"Bearer {key}"}).json()
    assert series["series"]["reward"]["value"] == [float(s) for s in range(20)]


def test_login_with_a_key_checks_it_first(server: BackgroundServer, config_dir: Path) -> None:
    key = httpx.post(f"{server.url}/api/auth/token", json={"user": "max", "password": PASSWORD}).json()["key"]
    assert rl("login", server.url, "--key", key).exit_code == 0
    assert json.loads((config_dir / "credentials.json").read_text())["keys"][server.url] == key
    httpx.delete(f"{server.url}/api/auth/keys/{key[:12]}", headers={"authorization": f"Bearer {key}"})
    refused = rl("login", server.url, "--key", key)
    assert refused.exit_code == 1 and "refused the key" in refused.output and "revoked" in refused.output


def test_login_with_a_wrong_password_says_so_and_stores_nothing(server: BackgroundServer, config_dir: Path) -> None:
    done = rl("login", server.url, "--user", "ada", "--password-stdin", stdin="not the password\n")
    assert done.exit_code == 1 and "wrong user name or password" in done.output
    assert not (config_dir / "credentials.json").exists()
