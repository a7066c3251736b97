"""Accounts of a team server: users, API keys, browser sessions, teams with roles, and project ownership.

Accounts are on once a user exists (``rltrack server admin create-user``); until then the server
behaves as without accounts. The rules of who sees what are in :mod:`rltrack.server.accounts.principal`,
how a project gets its owner in :mod:`rltrack.server.accounts.service`, how a request is identified
in :mod:`rltrack.server.accounts.gate`.
"""

from __future__ import annotations

from rltrack.server.accounts.credentials import ROLES
from rltrack.server.accounts.db import FILE_NAME, AccountsDB, ConflictError, open_db
from rltrack.server.accounts.principal import VISIBILITIES, Principal, ProjectRow
from rltrack.server.accounts.service import Accounts, KeyInfo

__all__ = [
    "FILE_NAME",
    "ROLES",
    "VISIBILITIES",
    "Accounts",
    "AccountsDB",
    "ConflictError",
    "KeyInfo",
    "Principal",
    "ProjectRow",
    "open_accounts",
    "open_db",
]


def open_accounts(root: object, db_url: str | None = None, *, create: bool = True) -> Accounts:
    """Return the accounts of a store: ``<root>/accounts.sqlite``, or tables in the PostgreSQL store at ``db_url``.

    Raises:
        StoreError: they cannot be opened (or do not exist and ``create`` is false).
    """
    from pathlib import Path

    return Accounts(open_db(Path(str(root)), db_url, create=create))
