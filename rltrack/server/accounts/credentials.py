"""Secrets of accounts: argon2 password hashes, API keys and session tokens (stored as SHA-256 only), names.

API keys look like ``rlt_ab12cd34_<43 random characters>``: the first part (``rlt_ab12cd34``) is the
key's id, shown in lists and logs, the rest is 256 random bits. Only the SHA-256 of the whole key is
stored: a key is random, not a password, so a fast hash cannot be brute-forced, and checking one per
request costs microseconds where argon2 would cost tens of milliseconds. Passwords, chosen by
people, are hashed with argon2id (argon2-cffi's defaults, re-hashed on login when they change).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from functools import cache
from typing import Any

from rltrack.errors import RltrackError

__all__ = [
    "KEY_PREFIX",
    "MIN_PASSWORD_LENGTH",
    "ROLES",
    "check_name",
    "check_password",
    "check_role",
    "digest",
    "hash_password",
    "key_id_of",
    "new_key",
    "new_token",
    "same",
    "verify_password",
]

KEY_PREFIX = "rlt_"
#: Team roles, strongest first: admin (everything in the team's projects), member (read, write), viewer (read).
ROLES = ("admin", "member", "viewer")
MIN_PASSWORD_LENGTH = 8
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_KEY = re.compile(r"rlt_[a-z0-9]{8}_[A-Za-z0-9_-]{20,100}")
#: Longest password hashed (argon2 takes any length; a 1 MB password would only cost the server time).
_MAX_PASSWORD_LENGTH = 1024


def check_name(kind: str, name: Any) -> str:
    """Return a user or team name, lower-cased.

    Raises:
        RltrackError: it is not 1-64 characters of ``a-z 0-9 . _ -`` starting with a letter or digit.
    """
    text = name.strip().lower() if isinstance(name, str) else None
    if text is None or not _NAME.fullmatch(text):
        raise RltrackError(
            f"{kind} name {name!r} is not allowed; use 1-64 characters a-z, 0-9, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return text


def check_role(role: Any) -> str:
    """Return ``role`` when it is one of :data:`ROLES`.

    Raises:
        RltrackError: it is not.
    """
    if role not in ROLES:
        raise RltrackError(f"role {role!r} is unknown; use one of {', '.join(ROLES)}")
    return str(role)


def check_password(password: Any) -> str:
    """Return ``password`` when it is long enough to be worth hashing.

    Raises:
        RltrackError: it is not a string of 8 to 1,024 characters.
    """
    if not isinstance(password, str) or not MIN_PASSWORD_LENGTH <= len(password) <= _MAX_PASSWORD_LENGTH:
        raise RltrackError(
            f"a password must be {MIN_PASSWORD_LENGTH} to {_MAX_PASSWORD_LENGTH} characters; choose another"
        )
    return password


@cache
def _hasher() -> Any:
    try:
        from argon2 import PasswordHasher
    except ImportError as err:
        raise RltrackError(f"account passwords need argon2-cffi ({err}): pip install 'rltrack[server]'") from err
    return PasswordHasher()


def hash_password(password: str) -> str:
    """Return the argon2id hash of ``password`` (checked with :func:`check_password`)."""
    return str(_hasher().hash(check_password(password)))


@cache
def _dummy_hash() -> str:
    return str(_hasher().hash(secrets.token_urlsafe(16)))


def verify_password(stored: str | None, password: str) -> tuple[bool, str | None]:
    """Return ``(matches, new_hash)``: whether ``password`` matches, and a fresh hash when parameters changed.

    With ``stored=None`` (no such user) a dummy hash is checked anyway, so a login for a user who does
    not exist takes as long as a wrong password (the answer time tells nothing).
    """
    hasher = _hasher()  # first: without argon2-cffi this says which extra to install
    from argon2.exceptions import InvalidHashError, VerificationError

    if not isinstance(password, str) or len(password) > _MAX_PASSWORD_LENGTH:
        return False, None
    try:
        hasher.verify(stored if stored is not None else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False, None
    if stored is None:
        return False, None
    return True, (hash_password(password) if hasher.check_needs_rehash(stored) else None)


def digest(secret: str) -> str:
    """Return the SHA-256 (hex) under which a key or session token is stored."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def new_key() -> tuple[str, str]:
    """Return ``(key_id, key)``: a new API key and its visible id (its first 12 characters)."""
    key_id = KEY_PREFIX + "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(8))
    return key_id, f"{key_id}_{secrets.token_urlsafe(32)}"


def key_id_of(key: str) -> str | None:
    """Return the id part of something that looks like an API key, else None."""
    return key[:12] if _KEY.fullmatch(key) else None


def new_token() -> str:
    """Return a random session or CSRF token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def same(a: str, b: str) -> bool:
    """Compare two secrets in constant time."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))
