"""The accounts of a team server: users, API keys, browser sessions, teams and who owns which project.

How a project gets an owner: the first run written into a project name nobody owns makes it the
writer's project (``owner_user``, visibility ``private``). A team project is made beforehand, by an
admin (``rltrack server admin set-project NAME --team TEAM``, visibility ``team`` unless told
otherwise); then a run whose ``init(project=...)`` names it lands in the team's project, and only the
team's admins and members may write there. A project that already holds runs but has no row (data
from before accounts were turned on) is never claimed by a write: an admin gives it an owner.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rltrack.errors import RltrackError
from rltrack.server.accounts import credentials as cred
from rltrack.server.accounts.db import AccountsDB, ConflictError
from rltrack.server.accounts.principal import VISIBILITIES, Principal, ProjectRow, Via

__all__ = ["SESSION_MAX_AGE_S", "Accounts", "KeyInfo"]

#: How long a browser session lasts without logging in again.
SESSION_MAX_AGE_S = 14 * 24 * 3600
#: A key's last-use time is written at most this often (not one write per request).
_LAST_USED_EVERY_NS = 60 * 10**9


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """An API key as listed: never the key itself."""

    key_id: str
    user: str
    label: str
    created_ns: int
    last_used_ns: int | None
    revoked_ns: int | None


class Accounts:
    """Users, keys, sessions, teams and project ownership in one :class:`AccountsDB`."""

    def __init__(self, db: AccountsDB) -> None:
        self.db = db

    # -- users -------------------------------------------------------------------------------------
    def has_users(self) -> bool:
        """Return whether any user exists (accounts are on exactly then)."""
        with self.db.reading() as tx:
            return bool(tx.execute("SELECT 1 FROM acct_users LIMIT 1"))

    def create_user(self, name: str, password: str) -> str:
        """Create a user; return the (lower-cased) name.

        Raises:
            RltrackError: a bad name or password, or the name is taken.
        """
        name = cred.check_name("user", name)
        hashed = cred.hash_password(password)
        with self.db.transaction() as tx:
            if tx.execute("SELECT 1 FROM acct_users WHERE name = ?", (name,)):
                raise ConflictError(f"user {name!r} exists already; pick another name")
            tx.execute("INSERT INTO acct_users (name, password_hash, created_ns) VALUES (?, ?, ?)",
                       (name, hashed, time.time_ns()))
        return name

    def set_password(self, name: str, password: str) -> None:
        """Replace a user's password and end their browser sessions."""
        name = self._existing_user(name)
        hashed = cred.hash_password(password)
        with self.db.transaction() as tx:
            tx.execute("UPDATE acct_users SET password_hash = ? WHERE name = ?", (hashed, name))
            tx.execute("DELETE FROM acct_sessions WHERE user_name = ?", (name,))

    def users(self) -> list[str]:
        """Return every user name, sorted."""
        with self.db.reading() as tx:
            return [r[0] for r in tx.execute("SELECT name FROM acct_users ORDER BY name")]

    def check_password(self, name: str, password: str) -> str | None:
        """Return the user's name when ``password`` is theirs, else None (the same time either way)."""
        try:
            name = cred.check_name("user", name)
        except RltrackError:
            cred.verify_password(None, password if isinstance(password, str) else "")
            return None
        with self.db.reading() as tx:
            rows = tx.execute("SELECT password_hash FROM acct_users WHERE name = ?", (name,))
        ok, new_hash = cred.verify_password(rows[0][0] if rows else None, password)
        if ok and new_hash is not None:
            with self.db.transaction() as tx:
                tx.execute("UPDATE acct_users SET password_hash = ? WHERE name = ?", (new_hash, name))
        return name if ok else None

    def _existing_user(self, name: str) -> str:
        name = cred.check_name("user", name)
        with self.db.reading() as tx:
            if not tx.execute("SELECT 1 FROM acct_users WHERE name = ?", (name,)):
                raise RltrackError(f"no user {name!r}; create it with `rltrack server admin create-user {name}`")
        return name

    # -- teams -------------------------------------------------------------------------------------
    def create_team(self, name: str) -> str:
        """Create a team; return its name.

        Raises:
            RltrackError: a bad name, or the name is taken.
        """
        name = cred.check_name("team", name)
        with self.db.transaction() as tx:
            if tx.execute("SELECT 1 FROM acct_teams WHERE name = ?", (name,)):
                raise ConflictError(f"team {name!r} exists already; pick another name")
            tx.execute("INSERT INTO acct_teams (name, created_ns) VALUES (?, ?)", (name, time.time_ns()))
        return name

    def add_member(self, team: str, user: str, role: str) -> None:
        """Make ``user`` a member of ``team`` with ``role`` (a member already there gets the new role)."""
        team, user, role = cred.check_name("team", team), self._existing_user(user), cred.check_role(role)
        with self.db.transaction() as tx:
            if not tx.execute("SELECT 1 FROM acct_teams WHERE name = ?", (team,)):
                raise RltrackError(f"no team {team!r}; create it with `rltrack server admin create-team {team}`")
            tx.execute("DELETE FROM acct_members WHERE team = ? AND user_name = ?", (team, user))
            tx.execute("INSERT INTO acct_members (team, user_name, role) VALUES (?, ?, ?)", (team, user, role))

    def remove_member(self, team: str, user: str) -> bool:
        """Take ``user`` out of ``team``; return whether they were in it."""
        team, user = cred.check_name("team", team), cred.check_name("user", user)
        with self.db.transaction() as tx:
            found = tx.execute("SELECT 1 FROM acct_members WHERE team = ? AND user_name = ?", (team, user))
            tx.execute("DELETE FROM acct_members WHERE team = ? AND user_name = ?", (team, user))
        return bool(found)

    def teams(self) -> dict[str, dict[str, str]]:
        """Return ``{team: {user: role}}`` for every team."""
        with self.db.reading() as tx:
            out: dict[str, dict[str, str]] = {r[0]: {} for r in tx.execute("SELECT name FROM acct_teams ORDER BY name")}
            for team, user, role in tx.execute("SELECT team, user_name, role FROM acct_members ORDER BY user_name"):
                out.setdefault(team, {})[user] = role
        return out

    def roles_of(self, user: str) -> dict[str, str]:
        """Return ``{team: role}`` of one user."""
        with self.db.reading() as tx:
            return {r[0]: r[1] for r in tx.execute("SELECT team, role FROM acct_members WHERE user_name = ?", (user,))}

    # -- API keys ----------------------------------------------------------------------------------
    def create_key(self, user: str, label: str = "") -> tuple[str, str]:
        """Make a new API key for ``user``; return ``(key_id, key)``. The key is not stored: show it once."""
        user = self._existing_user(user)
        label = str(label)[:128]
        key_id, key = cred.new_key()
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO acct_keys (key_id, user_name, digest, label, created_ns) VALUES (?, ?, ?, ?, ?)",
                (key_id, user, cred.digest(key), label, time.time_ns()),
            )
        return key_id, key

    def revoke_key(self, key_id: str, *, user: str | None = None) -> bool:
        """Revoke a key by its id (only ``user``'s own when given); return whether one was revoked now."""
        key_id = key_id.strip()[:12] if isinstance(key_id, str) else ""
        where, args = "key_id = ? AND revoked_ns IS NULL", [key_id]
        if user is not None:
            where += " AND user_name = ?"
            args.append(user)
        with self.db.transaction() as tx:
            before = tx.execute(f"SELECT 1 FROM acct_keys WHERE {where}", args)
            tx.execute(f"UPDATE acct_keys SET revoked_ns = ? WHERE {where}", [time.time_ns(), *args])
        return bool(before)

    def keys(self, user: str | None = None) -> list[KeyInfo]:
        """Return the keys of one user (or everyone's), oldest first."""
        sql = "SELECT key_id, user_name, label, created_ns, last_used_ns, revoked_ns FROM acct_keys"
        args: tuple[str, ...] = ()
        if user is not None:
            sql, args = sql + " WHERE user_name = ?", (user,)
        with self.db.reading() as tx:
            return [KeyInfo(*r) for r in tx.execute(sql + " ORDER BY created_ns, key_id", args)]

    def user_of_key(self, key: str) -> str | None:
        """Return the user an API key belongs to, or None when it is unknown or revoked."""
        key_id = cred.key_id_of(key)
        if key_id is None:
            return None
        now = time.time_ns()
        with self.db.reading() as tx:
            rows = tx.execute("SELECT user_name, digest, revoked_ns, last_used_ns FROM acct_keys WHERE key_id = ?",
                              (key_id,))
        if not rows or rows[0][2] is not None or not cred.same(rows[0][1], cred.digest(key)):
            return None
        if rows[0][3] is None or now - int(rows[0][3]) > _LAST_USED_EVERY_NS:
            # A write at most once a minute per key, in its own short transaction (requests only read).
            with self.db.transaction() as tx:
                tx.execute("UPDATE acct_keys SET last_used_ns = ? WHERE key_id = ?", (now, key_id))
        return str(rows[0][0])

    # -- browser sessions --------------------------------------------------------------------------
    def create_session(self, user: str) -> tuple[str, str]:
        """Start a browser session; return ``(session token, CSRF token)``. Only the token's digest is stored."""
        token, csrf = cred.new_token(), cred.new_token()
        now = time.time_ns()
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM acct_sessions WHERE expires_ns < ?", (now,))
            tx.execute(
                "INSERT INTO acct_sessions (digest, user_name, csrf, created_ns, expires_ns) VALUES (?, ?, ?, ?, ?)",
                (cred.digest(token), user, csrf, now, now + SESSION_MAX_AGE_S * 10**9),
            )
        return token, csrf

    def session(self, token: str) -> tuple[str, str] | None:
        """Return ``(user, csrf)`` of a live session, or None."""
        with self.db.reading() as tx:
            rows = tx.execute("SELECT user_name, csrf, expires_ns FROM acct_sessions WHERE digest = ?",
                              (cred.digest(token),))
        if not rows or int(rows[0][2]) < time.time_ns():
            return None
        return str(rows[0][0]), str(rows[0][1])

    def end_session(self, token: str) -> None:
        """Log a browser session out."""
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM acct_sessions WHERE digest = ?", (cred.digest(token),))

    # -- projects ----------------------------------------------------------------------------------
    def projects(self) -> dict[str, ProjectRow]:
        """Return every project row by name."""
        with self.db.reading() as tx:
            rows = tx.execute("SELECT name, owner_user, team, visibility FROM acct_projects")
        return {r[0]: ProjectRow(*r) for r in rows}

    def set_project(
        self, name: str, *, owner_user: str | None = None, team: str | None = None, visibility: str | None = None
    ) -> ProjectRow:
        """Give a project its owner, team and visibility (an admin's call); return the row.

        Raises:
            RltrackError: neither an owner nor a team, an unknown user, team or visibility.
        """
        if owner_user is None and team is None:
            raise RltrackError(f"project {name!r} needs an owner: pass a user (--user) or a team (--team)")
        visibility = visibility or ("team" if team else "private")
        if visibility not in VISIBILITIES:
            raise RltrackError(f"visibility {visibility!r} is unknown; use one of {', '.join(VISIBILITIES)}")
        owner = self._existing_user(owner_user) if owner_user is not None else None
        team = cred.check_name("team", team) if team is not None else None
        with self.db.transaction() as tx:
            if team is not None and not tx.execute("SELECT 1 FROM acct_teams WHERE name = ?", (team,)):
                raise RltrackError(f"no team {team!r}; create it with `rltrack server admin create-team {team}`")
            tx.execute("DELETE FROM acct_projects WHERE name = ?", (name,))
            tx.execute("INSERT INTO acct_projects (name, owner_user, team, visibility, created_ns)"
                       " VALUES (?, ?, ?, ?, ?)", (name, owner, team, visibility, time.time_ns()))
        return ProjectRow(name, owner, team, visibility)

    def claim_project(self, name: str, user: str) -> ProjectRow:
        """Make ``name`` the private project of ``user`` unless it has a row already; return its row.

        The caller checks first that the store holds no run of ``name`` (see the module's rule).
        """
        with self.db.transaction() as tx:
            tx.execute("INSERT INTO acct_projects (name, owner_user, team, visibility, created_ns)"
                       " VALUES (?, ?, NULL, 'private', ?) ON CONFLICT (name) DO NOTHING", (name, user, time.time_ns()))
            row = tx.execute("SELECT name, owner_user, team, visibility FROM acct_projects WHERE name = ?", (name,))
        return ProjectRow(*row[0])

    def principal(self, user: str, via: Via, csrf: str | None = None) -> Principal:
        """Return the :class:`Principal` of ``user`` (roles now, project rows when first asked)."""
        return Principal(user, via=via, roles=self.roles_of(user), projects=self.projects, csrf=csrf)
