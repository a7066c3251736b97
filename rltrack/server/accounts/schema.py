"""The accounts schema: users, API keys, browser sessions, teams, members and projects, versioned forward only.

The same statements run on SQLite (``<store>/accounts.sqlite``) and on PostgreSQL (tables beside the
store's own when the server runs with ``--db postgresql://...``): only portable types are used
(``TEXT``, ``INTEGER``, ``BIGINT``), and no table has a generated id. The version lives in a one-row
table ``acct_schema``. Migration ``n`` takes the tables from version ``n - 1`` to ``n``; tables written
by a newer rltrack are refused untouched.
"""

from __future__ import annotations

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "VERSION_TABLE"]

VERSION_TABLE = "acct_schema"

# Names are stored lower-case (see rltrack.server.accounts.credentials.check_name), so a primary key
# on them is a case-insensitive identity on both engines.
_V1 = (
    "CREATE TABLE acct_users (name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, created_ns BIGINT NOT NULL)",
    # A key is shown once; only its SHA-256 is kept. key_id is the visible part ("rlt_" + 8 characters).
    "CREATE TABLE acct_keys (key_id TEXT PRIMARY KEY, user_name TEXT NOT NULL REFERENCES acct_users(name),"
    " digest TEXT NOT NULL, label TEXT NOT NULL, created_ns BIGINT NOT NULL, last_used_ns BIGINT,"
    " revoked_ns BIGINT)",
    "CREATE INDEX acct_keys_user ON acct_keys (user_name)",
    "CREATE TABLE acct_sessions (digest TEXT PRIMARY KEY, user_name TEXT NOT NULL REFERENCES acct_users(name),"
    " csrf TEXT NOT NULL, created_ns BIGINT NOT NULL, expires_ns BIGINT NOT NULL)",
    "CREATE INDEX acct_sessions_user ON acct_sessions (user_name)",
    "CREATE TABLE acct_teams (name TEXT PRIMARY KEY, created_ns BIGINT NOT NULL)",
    "CREATE TABLE acct_members (team TEXT NOT NULL REFERENCES acct_teams(name),"
    " user_name TEXT NOT NULL REFERENCES acct_users(name), role TEXT NOT NULL, PRIMARY KEY (team, user_name))",
    "CREATE INDEX acct_members_user ON acct_members (user_name)",
    # A project belongs to a user (owner_user) and/or is shared with a team; see rules.py for who sees what.
    "CREATE TABLE acct_projects (name TEXT PRIMARY KEY, owner_user TEXT REFERENCES acct_users(name),"
    " team TEXT REFERENCES acct_teams(name), visibility TEXT NOT NULL, created_ns BIGINT NOT NULL)",
)

#: (version, statements) in order; append only.
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = ((1, _V1),)
SCHEMA_VERSION = MIGRATIONS[-1][0]
