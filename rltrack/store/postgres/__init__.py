"""The team server's store on PostgreSQL: the same tables, chunks and queries as the embedded SQLite store.

Only :func:`rltrack.store.open.open_database` imports this (it needs ``pip install 'rltrack[server]'``:
psycopg 3 and psycopg_pool), so the core installs without it.
"""

from __future__ import annotations

from rltrack.store.postgres.database import PostgresDatabase

__all__ = ["PostgresDatabase"]
