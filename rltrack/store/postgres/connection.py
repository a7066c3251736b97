"""A psycopg connection that speaks to the shared store code like ``sqlite3.Connection`` does.

Statements arrive in SQLite's dialect and are translated (:mod:`rltrack.store.postgres.dialect`);
errors leave as the stdlib ``sqlite3`` classes the shared code already catches (an
``IntegrityError`` stays an ``IntegrityError``), chained to the psycopg error for the details.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

import psycopg

from rltrack.store.postgres.dialect import DATA_VERSION, copy_statement, id_tables, to_postgres, to_postgres_ddl
from rltrack.store.schema import MIGRATIONS

__all__ = ["PgConnection", "PgCursor", "as_sqlite_error"]

_ID_TABLES = id_tables([script for _, script in MIGRATIONS])


def as_sqlite_error(err: psycopg.Error) -> sqlite3.Error:
    """Return the ``sqlite3`` error class the shared store code expects for a psycopg error."""
    message = str(err).strip() or type(err).__name__
    if isinstance(err, psycopg.IntegrityError):
        return sqlite3.IntegrityError(message)
    if isinstance(err, psycopg.OperationalError):
        return sqlite3.OperationalError(message)
    return sqlite3.DatabaseError(message)


class PgCursor:
    """The rows of one statement, with ``lastrowid`` for an ``INSERT`` that returned an id."""

    def __init__(self, cursor: psycopg.Cursor[Any], lastrowid: int | None = None) -> None:
        self._cursor = cursor
        self._lastrowid = lastrowid

    @property
    def lastrowid(self) -> int | None:
        """The id the last ``INSERT`` added (None for other statements)."""
        return self._lastrowid

    def fetchone(self) -> Any:
        """Return the next row, or None."""
        return self._cursor.fetchone() if self._cursor.description is not None else None

    def fetchall(self) -> list[Any]:
        """Return the remaining rows."""
        return self._cursor.fetchall() if self._cursor.description is not None else []

    def __iter__(self) -> Iterator[Any]:
        """Iterate over the remaining rows."""
        return iter(self.fetchall())


class PgConnection:
    """Runs SQLite-dialect statements on one psycopg connection inside the caller's transaction."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self._raw = raw

    def execute(self, sql: str, parameters: Any = None, /) -> PgCursor:
        """Run one statement with ``?`` placeholders."""
        if sql.strip().upper() == "PRAGMA DATA_VERSION":
            sql, parameters = DATA_VERSION, None
        elif sql.lstrip()[:6].upper() in ("CREATE", "ALTER "):
            return self._ddl(sql)
        query, returning = to_postgres(sql, _ID_TABLES)
        try:
            # Binary results: chunk arrays arrive as raw bytes, not hex text twice their size.
            cursor = self._raw.execute(query, () if parameters is None else parameters, binary=True)
            lastrowid = int(cursor.fetchone()[0]) if returning else None  # type: ignore[index]
        except psycopg.Error as err:
            raise as_sqlite_error(err) from err
        return PgCursor(cursor, lastrowid)

    def _ddl(self, sql: str) -> PgCursor:
        cursor = self._raw.cursor()
        try:
            for statement in to_postgres_ddl(sql):
                cursor.execute(statement)
        except psycopg.Error as err:
            raise as_sqlite_error(err) from err
        return PgCursor(cursor)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> PgCursor:
        """Run one statement once per parameter row: a plain ``INSERT`` as one ``COPY``, others pipelined."""
        rows = list(parameters)
        cursor = self._raw.cursor()
        copy = copy_statement(sql)
        try:
            if copy is not None:
                with cursor.copy(copy) as stream:
                    for row in rows:
                        stream.write_row(row)
            else:
                cursor.executemany(to_postgres(sql, frozenset())[0], rows)
        except psycopg.Error as err:
            raise as_sqlite_error(err) from err
        return PgCursor(cursor)
