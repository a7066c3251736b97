"""Open the database that holds a store: the embedded SQLite file, or PostgreSQL for a team server."""

from __future__ import annotations

from pathlib import Path

from rltrack.errors import StoreError
from rltrack.store.base import Backend

__all__ = ["URL_SCHEMES", "is_database_url", "open_database"]

URL_SCHEMES = ("postgresql://", "postgres://")


def is_database_url(value: str) -> bool:
    """Return whether ``value`` names a PostgreSQL database (rather than a folder)."""
    return value.startswith(URL_SCHEMES)


def open_database(root: Path, url: str | None = None, *, create: bool = True) -> Backend:
    """Return the store's database: SQLite in ``root`` when ``url`` is None, else PostgreSQL at ``url``.

    Run folders (media files) and artifact blobs stay under ``root`` either way.

    Raises:
        StoreError: ``url`` is not a PostgreSQL URL, psycopg is not installed, or the database cannot be used.
    """
    if url is None:
        from rltrack.store.database import Database

        return Database(root, create=create)
    if not is_database_url(url):
        raise StoreError(
            f"--db {url!r} is not a PostgreSQL URL; pass postgresql://user:password@host:5432/dbname "
            "(or leave --db out to keep the SQLite store in --dir)"
        )
    try:
        from rltrack.store.postgres import PostgresDatabase
    except ImportError as err:
        raise StoreError(f"a PostgreSQL store needs psycopg ({err}): pip install 'rltrack[server]'") from err
    return PostgresDatabase(url, root, create=create)
