"""Logging in: the login page, browser sessions, API keys for ``rltrack login``, and the caller's own keys.

``POST /api/auth/login`` checks a password and starts a session: an ``HttpOnly`` cookie
(``SameSite=Lax``, ``Secure`` over https) plus a CSRF token the pages send back with every write
(:mod:`rltrack.server.accounts.gate`). ``POST /api/auth/token`` checks a password and answers a new
API key instead (shown once; ``rltrack login URL`` stores it). Both count failures per user name and
per client address and answer 429 with ``Retry-After`` past the limit
(:mod:`rltrack.server.accounts.ratelimit`), before any password is hashed.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, Response

from rltrack.server.accounts.gate import CSRF_COOKIE, SESSION_COOKIE, AccountsGate, cookie_value
from rltrack.server.accounts.service import SESSION_MAX_AGE_S, Accounts
from rltrack.server.deps import Caller
from rltrack.server.responses import SafeJSONResponse
from rltrack.server.security import client_address
from rltrack.server.static_files import STATIC_DIR

__all__ = ["router"]

router = APIRouter(tags=["auth"])


class Login(BaseModel):
    """A user name and password."""

    user: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=1024)


class TokenRequest(Login):
    """A login that asks for an API key, with a label to recognise the key by."""

    label: str = Field(default="", max_length=128)


class NewKey(BaseModel):
    """A label for a new API key of the caller."""

    label: str = Field(default="", max_length=128)


def _gate(request: Request) -> AccountsGate:
    gate: AccountsGate = request.app.state.accounts_gate
    return gate


def _accounts(request: Request) -> Accounts:
    gate = _gate(request)
    accounts = gate.accounts() if gate.enabled() else None
    if accounts is None:
        raise HTTPException(400, "this server has no accounts: create a user with `rltrack server admin create-user`")
    return accounts


async def _check_password(request: Request, login: Login) -> str:
    """Return the user when the password is right; count failures; 429 past the limit."""
    accounts = _accounts(request)
    gate = _gate(request)
    address = client_address(request.scope, gate.access.trusted_proxies)
    name = login.user.strip().lower()
    # Counted as failed from here until the password is right: guesses sent at once cannot all pass.
    wait = gate.limiter.attempt(name, address)
    if wait is not None:
        raise HTTPException(429, f"too many failed logins; try again in {wait} s", headers={"retry-after": str(wait)})
    user = await run_in_threadpool(accounts.check_password, login.user, login.password)
    if user is None:
        raise HTTPException(401, "wrong user name or password")
    gate.limiter.succeeded(name, address)
    return user


def _secure(request: Request) -> bool:
    if request.url.scheme == "https":
        return True
    # X-Forwarded-Proto only counts from a reverse proxy the server was told to trust.
    forwarded = request.headers.get("x-forwarded-proto", "").strip().lower() == "https"
    return forwarded and _gate(request).access.from_trusted_proxy(request.scope)


@router.get("/login", include_in_schema=False)
def login_page() -> FileResponse:
    """The login page (its script is /static/login.js: no inline script)."""
    return FileResponse(STATIC_DIR / "login.html", media_type="text/html", headers={"cache-control": "no-cache"})


@router.get("/api/auth/me", summary="Who is logged in, their teams, and the session's CSRF token")
def me(request: Request, caller: Caller) -> dict[str, Any]:
    """Return ``{"accounts", "user", "via", "teams", "csrf"}`` (``accounts``: whether this server has users)."""
    return {"accounts": caller.via != "open", "user": caller.user, "via": caller.via,
            "teams": dict(caller.roles), "csrf": caller.csrf}


@router.post("/api/auth/login", summary="Log in with a password: starts a browser session (cookie)")
async def login(request: Request, body: Login) -> Response:
    """Check the password; set the session cookie (HttpOnly) and the CSRF cookie; return the user."""
    user = await _check_password(request, body)
    token, csrf = await run_in_threadpool(_accounts(request).create_session, user)
    response = SafeJSONResponse({"user": user, "csrf": csrf})
    secure = _secure(request)
    response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_MAX_AGE_S, path="/", secure=secure, httponly=True,
                        samesite="lax")
    response.set_cookie(CSRF_COOKIE, csrf, max_age=SESSION_MAX_AGE_S, path="/", secure=secure, httponly=False,
                        samesite="strict")
    return response


@router.post("/api/auth/logout", summary="End the browser session")
async def logout(request: Request) -> Response:
    """Delete the session (its cookie no longer works anywhere) and clear both cookies."""
    token = cookie_value(request.scope, SESSION_COOKIE)
    if token:
        await run_in_threadpool(_accounts(request).end_session, token)
    response = SafeJSONResponse({"user": None})
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.post("/api/auth/token", summary="Log in with a password and get a new API key (shown once)")
async def token(request: Request, body: TokenRequest) -> dict[str, Any]:
    """Return ``{"user", "key_id", "key"}``: the key is not stored on the server, keep it (``rltrack login``)."""
    user = await _check_password(request, body)
    key_id, key = await run_in_threadpool(_accounts(request).create_key, user, body.label or "rltrack login")
    return {"user": user, "key_id": key_id, "key": key}


def _user(caller: Any) -> str:
    if caller.user is None:
        raise HTTPException(400, "API keys belong to users: log in as a user (server tokens have no keys)")
    return str(caller.user)


@router.get("/api/auth/keys", summary="The caller's API keys (ids and labels, never the keys)")
def keys(request: Request, caller: Caller) -> list[dict[str, Any]]:
    """Return the caller's keys, oldest first, revoked ones included."""
    return [{"key_id": k.key_id, "label": k.label, "created_ns": k.created_ns, "last_used_ns": k.last_used_ns,
             "revoked": k.revoked_ns is not None} for k in _accounts(request).keys(_user(caller))]


@router.post("/api/auth/keys", summary="Make a new API key for the caller (shown once)")
def create_key(request: Request, caller: Caller, body: NewKey) -> dict[str, Any]:
    """Return ``{"key_id", "key"}``."""
    key_id, key = _accounts(request).create_key(_user(caller), body.label)
    return {"key_id": key_id, "key": key}


@router.delete("/api/auth/keys/{key_id}", summary="Revoke one of the caller's API keys")
def revoke_key(key_id: str, request: Request, caller: Caller) -> dict[str, Any]:
    """Revoke it at once (the next request with it is a 401); 404 when the caller has no such live key."""
    if not _accounts(request).revoke_key(key_id, user=_user(caller)):
        raise HTTPException(404, f"you have no live API key {key_id[:12]!r}; list yours at /api/auth/keys")
    return {"key_id": key_id[:12], "revoked": True}
