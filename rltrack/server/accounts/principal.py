"""Who a request comes from and what they may see: :class:`Principal` and the rules behind it.

The rules (one place; the server's routes only ask ``can_read``/``can_write``):

- A project row names an owning user (``owner_user``), a team (``team``), or both, and a visibility:
  ``private`` or ``team``.
- The owning user reads and writes it.
- A team's ``admin`` reads and writes every project of the team, private ones included.
- With visibility ``team``: a ``member`` of the team reads and writes, a ``viewer`` reads.
- Nobody else sees it (the API answers 404, as for a project that does not exist).
- A project with no row is nobody's: only server tokens (``--token-file``) and trusted loopback see it
  (see :mod:`rltrack.server.accounts.service` for how a project gets its row on first write).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = ["VISIBILITIES", "Principal", "ProjectRow", "can_read", "can_write"]

#: Who sees a project beyond its owner: ``private`` (the owner and team admins), ``team`` (the whole team).
VISIBILITIES = ("private", "team")
Via = Literal["open", "token", "loopback", "key", "session", "anonymous"]


@dataclass(frozen=True, slots=True)
class ProjectRow:
    """A project's owner, team and visibility."""

    name: str
    owner_user: str | None
    team: str | None
    visibility: str


def can_read(project: ProjectRow | None, user: str | None, roles: Mapping[str, str]) -> bool:
    """Return whether ``user`` (with ``roles``: team -> role) may read ``project`` (None: no row)."""
    if project is None or user is None:
        return False
    if project.owner_user == user:
        return True
    role = roles.get(project.team) if project.team else None
    return role == "admin" or (role is not None and project.visibility == "team")


def can_write(project: ProjectRow | None, user: str | None, roles: Mapping[str, str]) -> bool:
    """Return whether ``user`` may write into ``project``: its owner, a team admin, or a member of a team project."""
    if project is None or user is None:
        return False
    if project.owner_user == user:
        return True
    role = roles.get(project.team) if project.team else None
    return role == "admin" or (role == "member" and project.visibility == "team")


class Principal:
    """The caller of one request: ``request.state.principal``.

    Attributes:
        user: The user's name; None for a server token, trusted loopback, open servers and anonymous callers.
        via: How the caller was recognised: ``open`` (accounts are off), ``token`` (``--token-file``),
            ``loopback`` (``--trust-loopback``), ``key`` (an API key), ``session`` (browser login) or
            ``anonymous``.
        everything: May read and write every project (accounts off, server tokens, trusted loopback).
        roles: Team name -> role of ``user``.
        csrf: The session's CSRF token (browser sessions only).
    """

    __slots__ = ("_load", "_projects", "csrf", "everything", "roles", "user", "via")

    def __init__(
        self, user: str | None, *, via: Via, everything: bool = False, roles: Mapping[str, str] | None = None,
        projects: Callable[[], Mapping[str, ProjectRow]] | None = None, csrf: str | None = None,
    ) -> None:
        self.user = user
        self.via: Via = via
        self.everything = everything
        self.roles: Mapping[str, str] = dict(roles or {})
        self.csrf = csrf
        self._load = projects
        self._projects: Mapping[str, ProjectRow] | None = None

    @classmethod
    def open(cls) -> Principal:
        """Return the caller of a server without accounts: everything is allowed (the network guard decides)."""
        return cls(None, via="open", everything=True)

    @classmethod
    def anonymous(cls) -> Principal:
        """Return a caller with no credentials on a server with accounts: sees nothing."""
        return cls(None, via="anonymous")

    def projects(self) -> Mapping[str, ProjectRow]:
        """Return every project row (loaded once per request)."""
        if self._projects is None:
            self._projects = self._load() if self._load is not None else {}
        return self._projects

    def remember(self, row: ProjectRow) -> None:
        """Take a project row written during this request (a project claimed on first write) into account."""
        self._projects = {**self.projects(), row.name: row}

    def can_read(self, project: str) -> bool:
        """Return whether the caller may see ``project`` (its runs, values, media, dashboards)."""
        return self.everything or can_read(self.projects().get(project), self.user, self.roles)

    def can_write(self, project: str) -> bool:
        """Return whether the caller may write into ``project`` (runs, values, saved dashboards)."""
        return self.everything or can_write(self.projects().get(project), self.user, self.roles)

    def readable(self, projects: Iterable[str]) -> list[str]:
        """Return those of ``projects`` the caller may read, in order."""
        return [p for p in projects if self.can_read(p)]

    def scope_key(self) -> tuple[object, ...]:
        """Return a key that is equal for two callers exactly when they see the same projects (for caches)."""
        if self.everything:
            return ("everything",)
        rows = self.projects()
        return ("only", frozenset(p for p in rows if self.can_read(p)))

    def __repr__(self) -> str:
        return f"Principal(user={self.user!r}, via={self.via!r}, everything={self.everything})"
