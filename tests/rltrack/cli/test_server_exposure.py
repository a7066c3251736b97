"""What ``rltrack server`` says when it listens beyond loopback: true with and without accounts.

The server is started as a user starts it, on an address of the documentation network (192.0.2.1,
RFC 5737) that no machine has: it says what it would allow, then fails to bind, so no test listens
beyond loopback.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("fastapi", reason="the server needs the ui extra: pip install 'rltrack[server]'")

from rltrack.cli import main
from rltrack.server.accounts import open_accounts

AWAY = "192.0.2.1"


def start(store: Path, *more: str) -> str:
    """Run ``rltrack server`` on :data:`AWAY`; return what it printed (it cannot bind there)."""
    result = CliRunner().invoke(main, ["server", "--dir", str(store), "--host", AWAY, "--port", "0", *more])
    assert result.exit_code == 1 and "cannot listen on 192.0.2.1" in result.output, result.output
    return result.output


def test_without_accounts_it_warns_that_other_machines_cannot_log(tmp_path: Path) -> None:
    said = start(tmp_path / "store")
    assert f"warning: listening on {AWAY} without --token-file or accounts" in said
    assert "cannot log" in said and "create-user" in said


def test_an_accounts_file_without_users_is_no_accounts(tmp_path: Path) -> None:
    open_accounts(tmp_path / "store").db.close()  # accounts.sqlite exists, nobody in it: accounts are off
    assert "cannot log" in start(tmp_path / "store")


def test_with_accounts_it_says_keys_and_logins_decide(tmp_path: Path) -> None:
    accounts = open_accounts(tmp_path / "store")
    accounts.create_user("ada", "correct horse battery")
    accounts.db.close()
    said = start(tmp_path / "store")
    assert "cannot log" not in said and "warning" not in said
    assert f"note: listening on {AWAY} with accounts: every client, loopback included, needs an API key" in said
    public = start(tmp_path / "store", "--public-read", "--trust-loopback")
    assert "--public-read has no effect" in public and "every client beyond loopback needs" in public


def test_with_accounts_in_postgresql_it_says_so_too(tmp_path: Path, pg_cluster: object) -> None:
    pytest.importorskip("psycopg", reason="PostgreSQL needs psycopg: pip install 'rltrack[server]'")
    url = str(pg_cluster.new_database())  # type: ignore[attr-defined]
    assert "cannot log" in start(tmp_path / "store", "--db", url)  # no accounts tables yet
    accounts = open_accounts(tmp_path / "store", url)
    accounts.create_user("ada", "correct horse battery")
    accounts.db.close()
    assert "with accounts" in start(tmp_path / "store", "--db", url)


def test_with_a_token_file_it_says_nothing(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("abc\n")
    said = start(tmp_path / "store", "--token-file", str(tokens))
    assert "warning" not in said and "note" not in said
