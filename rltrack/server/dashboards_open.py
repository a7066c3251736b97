"""Open a server's dashboards store: the SQLite file beside the store, or tables in its PostgreSQL database.

Apart from both back-ends (:mod:`rltrack.server.dashboards_sql`, :mod:`rltrack.server.dashboards_pg`) so
neither imports the other; psycopg is imported only for a PostgreSQL server.
"""

from __future__ import annotations

from pathlib import Path

from rltrack.server.dashboards_sql import _MIGRATE_LOCK, MIGRATIONS, DashboardStore, SqliteDashboards

__all__ = ["open_dashboards"]


def open_dashboards(root: Path, db: str | None) -> DashboardStore:
    """Return the dashboards store of a server: tables in PostgreSQL ``db``, else ``<root>/dashboards.sqlite``.

    Raises:
        StoreError: the PostgreSQL database cannot be used or holds a newer dashboards schema.
    """
    if db is None:
        return SqliteDashboards(Path(root) / "dashboards.sqlite")
    from rltrack.server.dashboards_pg import PostgresDashboards

    return PostgresDashboards(db, migrations=MIGRATIONS, lock=_MIGRATE_LOCK)
