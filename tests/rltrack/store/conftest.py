"""The ``backend`` fixture: every conformance test runs against the embedded SQLite store and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from rltrack.store.base import Backend
from rltrack.store.open import open_database


@dataclass
class StoreUnderTest:
    """One store to test: ``open()`` returns a (new) connection to it; all are closed at teardown."""

    kind: str
    root: Path
    url: str | None
    opened: list[Backend] = field(default_factory=list)

    def open(self, *, create: bool = True) -> Backend:
        """Open the store (again): another process's view of the same data."""
        db = open_database(self.root, self.url, create=create)
        self.opened.append(db)
        return db

    def raw(self, sql: str, *args: Any) -> Any:
        """Run one statement outside the store's code (to tamper, as another program would); return its rows."""
        if self.url is None:
            import sqlite3

            conn = sqlite3.connect(self.root / "rltrack.db", isolation_level=None)
            try:
                return conn.execute(sql, args).fetchall()
            finally:
                conn.close()
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as pg:
            cur = pg.execute(sql.replace("?", "%s"), args)  # type: ignore[arg-type]  # test-only SQL
            return cur.fetchall() if cur.description else []


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreUnderTest]:
    """A fresh, empty store on each back-end (PostgreSQL: a new database in the session's cluster)."""
    url = None
    if request.param == "postgresql":
        pytest.importorskip("psycopg", reason="PostgreSQL needs psycopg: pip install 'rltrack[server]'")
        url = request.getfixturevalue("pg_cluster").new_database()
    store = StoreUnderTest(request.param, tmp_path / "store", url)
    yield store
    for db in store.opened:
        db.close()
