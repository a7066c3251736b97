"""SQLite's dialect, as the shared store code writes it, turned into PostgreSQL's.

The differences are few and mechanical, so they are translated here rather than written twice:

* placeholders: ``?`` becomes ``%s`` (and a literal ``%`` becomes ``%%``);
* types in DDL: ``INTEGER`` is 64-bit in SQLite (``BIGINT``), ``REAL`` is a double (``DOUBLE PRECISION``),
  ``BLOB`` is ``BYTEA``, and ``id INTEGER PRIMARY KEY`` is an auto-numbered key (``BIGSERIAL``);
* ``rowid``: every SQLite table has one and reads order chunks by it, so a table without a primary key
  gets a ``rowid BIGSERIAL PRIMARY KEY`` column;
* ``cursor.lastrowid``: an ``INSERT`` into a table with an ``id`` key gets ``RETURNING id``.
"""

from __future__ import annotations

import functools
import re

__all__ = ["DATA_VERSION", "copy_statement", "id_tables", "to_postgres", "to_postgres_ddl"]

#: What SQLite's ``PRAGMA data_version`` (the read cache's change counter) becomes: a sequence that
#: every committed write transaction advances.
DATA_VERSION = "SELECT last_value FROM rltrack_data_version"

_SERIAL_ID = re.compile(r"\bid\s+INTEGER\s+PRIMARY\s+KEY\b", re.IGNORECASE)
_CREATE_TABLE = re.compile(r"^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)\s*\(", re.IGNORECASE)
_INSERT_INTO = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)\b", re.IGNORECASE)
_PLAIN_INSERT = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)\s*\(([\w\s,]+)\)\s*VALUES\s*\(\s*\?(?:\s*,\s*\?)*\s*\)\s*$",
                           re.IGNORECASE)
_BYTEA_COLUMN = re.compile(r"^\s*(\w+)\s+BYTEA\b", re.IGNORECASE | re.MULTILINE)
_TYPES = (
    (re.compile(r"\bINTEGER\b", re.IGNORECASE), "BIGINT"),
    (re.compile(r"\bREAL\b", re.IGNORECASE), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b", re.IGNORECASE), "BYTEA"),
)


def to_postgres_ddl(statement: str) -> list[str]:
    """Translate one SQLite ``CREATE``/``ALTER`` statement of the store's schema into PostgreSQL's.

    A table with ``BYTEA`` columns gets them stored uncompressed (``STORAGE EXTERNAL``): packed float
    arrays barely compress, and compressing every chunk made inserts eight times slower.
    """
    out = _SERIAL_ID.sub("id BIGSERIAL PRIMARY KEY", statement)
    for pattern, replacement in _TYPES:
        out = pattern.sub(replacement, out)
    table = _CREATE_TABLE.match(out)
    if table is None:
        return [out]
    if "PRIMARY KEY" not in out.upper():
        out = out[: table.end()] + "\n    rowid BIGSERIAL PRIMARY KEY," + out[table.end():]
    return [out] + [
        f"ALTER TABLE {table.group(1)} ALTER COLUMN {column} SET STORAGE EXTERNAL"
        for column in _BYTEA_COLUMN.findall(out)
    ]


def id_tables(scripts: list[str]) -> frozenset[str]:
    """Return the tables whose key is an auto-numbered ``id`` (their INSERTs report ``lastrowid``)."""
    names = set()
    for script in scripts:
        for statement in script.split(";"):
            table = _CREATE_TABLE.match(statement)
            if table is not None and _SERIAL_ID.search(statement):
                names.add(table.group(1).lower())
    return frozenset(names)


@functools.lru_cache(maxsize=512)
def to_postgres(sql: str, returning_id: frozenset[str]) -> tuple[str, bool]:
    """Translate one DML statement; return it and whether it now ends in ``RETURNING id``.

    The store's statements are a few hundred constant strings, so translations are cached.
    """
    returning = False
    insert = _INSERT_INTO.match(sql)
    if insert is not None and insert.group(1).lower() in returning_id and "RETURNING" not in sql.upper():
        sql, returning = sql + " RETURNING id", True
    return sql.replace("%", "%%").replace("?", "%s"), returning


@functools.lru_cache(maxsize=64)
def copy_statement(sql: str) -> str | None:
    """Return ``COPY table (columns) FROM STDIN`` for a plain many-row ``INSERT``, else None.

    ``COPY`` streams every row in one command; an ``INSERT`` with ``ON CONFLICT`` or ``RETURNING`` needs
    the row-by-row path.
    """
    match = _PLAIN_INSERT.match(sql)
    if match is None:
        return None
    columns = ", ".join(c.strip() for c in match.group(2).split(","))
    return f"COPY {match.group(1)} ({columns}) FROM STDIN"
