"""``rltrack.login``: nothing to do offline; for an rltrack server, keep its token in the user's config.

``rltrack login URL`` asks the server for a new API key with a user name and password
(:func:`fetch_key`), or checks a key given with ``--key`` (:func:`verify_key`), then stores it here.
Tokens live in ``$RLTRACK_CONFIG_DIR/credentials.json`` (default
``$XDG_CONFIG_HOME/rltrack`` or ``~/.config/rltrack``), one per server URL, in a file only its
owner may read (mode 0600). ``init(mode="online")`` uses the stored token when none is passed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from rltrack.errors import InvalidValueError

__all__ = ["credentials_path", "fetch_key", "login", "stored_key", "verify_key"]

#: Seconds to wait for the server when logging in.
TIMEOUT_S = 30.0


def credentials_path() -> Path:
    """Return the credentials file's path (it may not exist)."""
    folder = os.environ.get("RLTRACK_CONFIG_DIR")
    if folder:
        return Path(folder).expanduser() / "credentials.json"
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "rltrack" / "credentials.json"


def login(
    key: str | None = None,
    relogin: bool | None = None,
    host: str | None = None,
    anonymous: str | None = None,
    timeout: int | None = None,
    verify: bool = False,
    force: bool | None = None,
) -> bool:
    """Store an rltrack server's token for later online runs; with no key, nothing to do (offline needs none).

    Args:
        key: The server's API token (``rltrack server`` prints how to make one).
        relogin: Accepted for wandb's sake; a new key always replaces the stored one.
        host: The server's URL (default ``$RLTRACK_URL``).
        anonymous: Accepted, ignored.
        timeout: Accepted, ignored.
        verify: Accepted, ignored (the key is checked by the server at the first online run).
        force: Accepted, ignored.

    Returns:
        True.

    Raises:
        InvalidValueError: a key without a server URL, or a key that is not a plain string.
    """
    if key is None:
        return True
    if not isinstance(key, str) or not key.strip() or any(ord(c) < 33 for c in key):
        raise InvalidValueError("login(key=...) must be the server's token: a non-empty string without spaces")
    host = host or os.environ.get("RLTRACK_URL")
    if not host:
        raise InvalidValueError(
            "login(key=...) needs the server it is for: pass host='http://server:8080' or set RLTRACK_URL"
        )
    path = credentials_path()
    keys = _read(path)
    keys[_normal(host)] = key
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    # Created 0600 from the first byte: the token is never readable by others, not even briefly.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"keys": keys}, f, indent=1)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return True


def stored_key(url: str) -> str | None:
    """Return the token stored for ``url`` by :func:`login`, or None."""
    return _read(credentials_path()).get(_normal(url))


def _normal(url: str) -> str:
    return url.strip().rstrip("/")


def _read(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    keys = data.get("keys") if isinstance(data, dict) else None
    return {str(k): str(v) for k, v in keys.items()} if isinstance(keys, dict) else {}


def _post_json(url: str, path: str, body: dict[str, str]) -> tuple[int, dict[str, object]]:
    import httpx

    try:
        response = httpx.post(_normal(url) + path, json=body, timeout=TIMEOUT_S)
    except httpx.HTTPError as err:
        raise InvalidValueError(f"cannot reach the rltrack server at {url!r} ({err}); check the URL") from err
    return response.status_code, _body(response)


def _body(response: object) -> dict[str, object]:
    try:
        data = response.json()  # type: ignore[attr-defined]  # an httpx.Response
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def fetch_key(url: str, user: str, password: str, label: str = "rltrack login") -> str:
    """Log in to an rltrack server with a password and return a new API key for this machine.

    Raises:
        InvalidValueError: the server cannot be reached, refuses the login (naming why), or has no accounts.
    """
    status, body = _post_json(url, "/api/auth/token", {"user": user, "password": password, "label": label})
    key = body.get("key")
    if status != 200 or not isinstance(key, str):
        detail = body.get("detail") or f"HTTP {status}"
        raise InvalidValueError(f"the server at {url!r} refused the login of {user!r}: {detail}")
    return key


def verify_key(url: str, key: str) -> str | None:
    """Return the user an API key logs in as on the server at ``url`` (None for a server token).

    Raises:
        InvalidValueError: the key holds a space, a control character or a lone surrogate (named, never
            echoed), or the server cannot be reached or refuses the key.
    """
    import httpx

    authorization = _authorization(key)
    try:
        response = httpx.get(_normal(url) + "/api/auth/me", headers={b"authorization": authorization},
                             timeout=TIMEOUT_S)
    except httpx.HTTPError as err:
        raise InvalidValueError(f"cannot reach the rltrack server at {url!r} ({err}); check the URL") from err
    body = _body(response)
    if response.status_code != 200:
        raise InvalidValueError(f"the server at {url!r} refused the key: {body.get('detail') or response.status_code}")
    user = body.get("user")
    return user if isinstance(user, str) else None


def _authorization(key: str) -> bytes:
    """Return the ``Authorization`` value for ``key`` as UTF-8 bytes; the key is never echoed.

    The server compares token bytes (its ``--token-file`` is read as UTF-8), so a non-ASCII key is
    sent as UTF-8, as ``init(mode="online")`` sends it (httpx refused it as text with a bare
    UnicodeEncodeError).

    Raises:
        InvalidValueError: the key holds a space or control character, or is not valid Unicode.
    """
    if any(ord(c) < 33 or ord(c) == 127 for c in key):
        raise InvalidValueError("the API key holds a space or a control character (a newline pasted with it?); "
                                "pass the key exactly as the server printed it")
    try:
        return b"Bearer " + key.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidValueError("the API key is not valid Unicode (it holds a lone surrogate); pass the key exactly "
                                "as the server printed it") from None
