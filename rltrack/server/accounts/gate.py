"""Who is calling: the accounts step of the server's guard (:class:`rltrack.server.security.GuardMiddleware`).

Accounts are on once the store's accounts database holds a user; until then every request is judged
as before (tokens, loopback, public reads) and its principal may do everything the guard let through.

With accounts on, in this order:

1. ``Authorization: Bearer <token>``: a ``--token-file`` token may do everything (as before); an API
   key (``rlt_...``) is its user; anything else, or a revoked key, is a 401.
2. The ``rltrack_session`` cookie of a browser login is its user. A cookie-authenticated ``POST``,
   ``PUT``, ``PATCH`` or ``DELETE`` must also send the session's CSRF token in ``X-CSRF-Token`` (the
   page reads it from the ``rltrack_csrf`` cookie or ``/api/auth/me``), or it is a 403.
3. ``--trust-loopback``: a loopback client may do everything.
4. Anyone else is anonymous: the login page and its API, static files, ``/share/...`` and
   ``/api/shared/...`` (which check their own share token) answer; a page redirects to ``/login``;
   every other route is a 401.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool

from rltrack.errors import StoreError
from rltrack.server.accounts.credentials import key_id_of, same
from rltrack.server.accounts.db import open_db
from rltrack.server.accounts.principal import Principal
from rltrack.server.accounts.ratelimit import LoginLimiter
from rltrack.server.accounts.service import Accounts
from rltrack.server.security import AccessControl, Refusal, Scope, bearer_token, header

__all__ = ["CSRF_COOKIE", "CSRF_HEADER", "SESSION_COOKIE", "AccountsGate", "is_public"]

SESSION_COOKIE = "rltrack_session"
CSRF_COOKIE = "rltrack_csrf"
CSRF_HEADER = "x-csrf-token"
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Routes that authenticate by password themselves: a CSRF token cannot be asked before a login.
_PASSWORD_ROUTES = frozenset({"/api/auth/login", "/api/auth/token"})
_PUBLIC_EXACT = frozenset({"/login", "/favicon.ico", "/openapi.json", "/api/auth/me", *_PASSWORD_ROUTES})
_PUBLIC_PREFIXES = ("/static/", "/share/", "/api/shared/")
#: While a PostgreSQL store has no accounts tables, look for them at most this often.
_RECHECK_S = 1.0


def is_public(path: str) -> bool:
    """Return whether ``path`` answers callers who have not logged in (with accounts on)."""
    return path in _PUBLIC_EXACT or path.startswith(_PUBLIC_PREFIXES)


class AccountsGate:
    """The accounts of one server (opened when they appear) and the identification of each request.

    Args:
        root: The store folder (``accounts.sqlite`` lives in it).
        db_url: The store's PostgreSQL URL, when it has one (the accounts tables live there).
        access: The server's tokens, proxies and hosts.
    """

    def __init__(self, root: Path, db_url: str | None, access: AccessControl, *, create: bool = False) -> None:
        self.root = root
        self.db_url = db_url
        self.access = access
        self.limiter = LoginLimiter()
        self._create = create
        self._accounts: Accounts | None = None
        self._on = False
        self._tried = -_RECHECK_S
        self._lock = threading.Lock()

    def accounts(self) -> Accounts | None:
        """Return the accounts database when it exists (None before the first ``admin create-user``)."""
        if self._accounts is not None:
            return self._accounts
        with self._lock:
            if self._accounts is None:
                if self.db_url is None and not (self.root / "accounts.sqlite").exists():
                    return None  # one stat per request until the first user is made
                if self.db_url is not None and time.monotonic() - self._tried < _RECHECK_S:
                    return None  # PostgreSQL without the accounts tables: ask again at most once a second
                self._tried = time.monotonic()
                try:
                    self._accounts = Accounts(open_db(self.root, self.db_url, create=self._create))
                except StoreError:
                    if self.db_url is None:
                        raise  # the file is there but unusable: refuse requests rather than open the door
                    return None
        return self._accounts

    def enabled(self) -> bool:
        """Return whether accounts are on (a user exists). Once on, on until the server stops."""
        if not self._on:
            accounts = self.accounts()
            self._on = accounts is not None and accounts.has_users()
        return self._on

    async def identify(self, scope: Scope) -> Principal | Refusal:
        """Return the caller of a request, or why it is refused (see the module's rules)."""
        try:
            on = self._on or await run_in_threadpool(self.enabled)
        except StoreError as err:
            return 503, f"cannot check accounts: {err}"
        if not on:
            return self.access.check(scope) or Principal.open()
        refused = self.access.check_origin(scope)
        if refused is not None:
            return refused
        try:
            return await self._identify(scope)
        except StoreError as err:
            return 503, f"cannot check accounts: {err}"

    async def _identify(self, scope: Scope) -> Principal | Refusal:
        accounts = self._accounts
        assert accounts is not None  # enabled() opened it
        token = bearer_token(scope)
        if token is not None:
            if self.access.token_matches(token):
                return Principal(None, via="token", everything=True)
            text = token.decode("utf-8", "replace")
            principal = await run_in_threadpool(_by_key, accounts, text) if key_id_of(text) else None
            if principal is None:
                return 401, ("API key unknown or revoked: make one with `rltrack login URL` "
                             "(or `rltrack server admin create-key USER`)")
            return principal
        refused = self.access.check_host(scope)
        if refused is not None:
            return refused
        method, path = str(scope.get("method", "GET")), str(scope.get("path", ""))
        cookie = cookie_value(scope, SESSION_COOKIE)
        principal = await run_in_threadpool(_by_session, accounts, cookie) if cookie else None
        if principal is not None:
            if method in _WRITE_METHODS and path not in _PASSWORD_ROUTES:
                sent = header(scope, CSRF_HEADER.encode())
                if sent is None or not same(sent.decode("latin-1"), principal.csrf or ""):
                    return 403, f"missing or wrong CSRF token: send the {CSRF_COOKIE} cookie's value in X-CSRF-Token"
            return principal
        if self.access.trust_loopback and self.access.is_local(scope):
            return Principal(None, via="loopback", everything=True)
        if is_public(path):
            return Principal.anonymous()
        if method in ("GET", "HEAD") and not path.startswith("/api/"):
            target = path + (f"?{scope['query_string'].decode('latin-1')}" if scope.get("query_string") else "")
            return 303, "log in first", ((b"location", f"/login?next={quote(target, safe='')}".encode()),)
        return 401, ("log in first: send 'Authorization: Bearer <API key>' (rltrack login URL stores one) "
                     "or log in at /login")


def _by_key(accounts: Accounts, key: str) -> Principal | None:
    # One trip to a worker thread for both lookups (the event loop never waits on the database).
    user = accounts.user_of_key(key)
    return None if user is None else accounts.principal(user, "key")


def _by_session(accounts: Accounts, token: str) -> Principal | None:
    found = accounts.session(token)
    return None if found is None else accounts.principal(found[0], "session", found[1])


def cookie_value(scope: Scope, name: str) -> str | None:
    """Return one cookie's value from the request's ``Cookie`` headers, or None."""
    for key, value in scope.get("headers", ()):
        if key != b"cookie":
            continue
        text: str = value.decode("latin-1")
        for part in text.split(";"):
            k, _, v = part.strip().partition("=")
            if k == name and v:
                return v.strip('"')
    return None
