"""``rltrack.login``: nothing to do offline; for an rltrack server, keep its token in the user's config.

Tokens live in ``$RLTRACK_CONFIG_DIR/credentials.json`` (default
``$XDG_CONFIG_HOME/rltrack`` or ``~/.config/rltrack``), one per server URL, in a file only its
owner may read (mode 0600). ``init(mode="online")`` uses the stored token when none is passed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from rltrack.errors import InvalidValueError

__all__ = ["credentials_path", "login", "stored_key"]


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
