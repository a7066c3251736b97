"""The PostgreSQL store's schema: the SQLite migrations, translated, applied forward only.

The version lives in a one-row table ``rltrack_schema``. Migration ``n`` of
:data:`rltrack.store.schema.MIGRATIONS` takes a database from ``n - 1`` to ``n`` (each statement goes
through :func:`rltrack.store.postgres.dialect.to_postgres_ddl`), so both back-ends always hold the same
tables. A database written by a newer rltrack is refused untouched. Migrating takes an advisory lock, so
several server processes starting at once migrate once.
"""

from __future__ import annotations

from typing import Any

import psycopg

from rltrack.errors import UPGRADE_HINT, StoreError
from rltrack.store.postgres.dialect import to_postgres_ddl
from rltrack.store.schema import MIGRATIONS, SCHEMA_VERSION

__all__ = ["MIGRATE_LOCK", "WRITE_LOCK", "migrate"]

#: Advisory lock keys (per database): one serialises migrations, one serialises write transactions
#: (as SQLite's single writer does, so read-modify-write code such as merging config stays correct).
MIGRATE_LOCK = 0x726C_0001
WRITE_LOCK = 0x726C_0002

# Created once with the version table: the change counter the read cache polls, and json_each(text)
# for the tag filter (SQLite's json_each over a JSON array; PostgreSQL's own takes json objects only).
_BOOTSTRAP = (
    "CREATE TABLE rltrack_schema (version INTEGER NOT NULL)",
    "INSERT INTO rltrack_schema (version) VALUES (0)",
    "CREATE SEQUENCE rltrack_data_version",
    "CREATE FUNCTION json_each(doc text) RETURNS TABLE (value text) LANGUAGE sql IMMUTABLE"
    " AS $$ SELECT jsonb_array_elements_text(doc::jsonb) $$",
)


def migrate(conn: psycopg.Connection[Any], where: str, *, create: bool) -> None:
    """Bring the database up to :data:`SCHEMA_VERSION` (``conn`` is in autocommit mode).

    Raises:
        StoreError: the database holds no rltrack store and ``create`` is false, or it was written by
            a newer rltrack.
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
        if conn.execute("SELECT to_regclass('rltrack_schema') IS NULL").fetchone() == (True,):
            if not create:
                raise StoreError(f"no rltrack store in {where}; start `rltrack server --db` on it first")
            for statement in _BOOTSTRAP:
                conn.execute(statement)
        row = conn.execute("SELECT version FROM rltrack_schema").fetchone()
        version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"database {where} has schema version {version}, newer than this rltrack understands "
                f"({SCHEMA_VERSION}); {UPGRADE_HINT} or use another database"
            )
        for number, script in MIGRATIONS:
            if number > version:
                for statement in (s.strip() for s in script.split(";")):
                    for translated in to_postgres_ddl(statement) if statement else []:
                        conn.execute(translated)
                conn.execute("UPDATE rltrack_schema SET version = %s", (number,))
