"""Checks for artifact names, types, aliases and file names, and parsing of ``name[:alias|:vN]`` references.

Names become folder names when a version is downloaded and file names become paths under
the download folder, so anything that could leave that folder (``..``, absolute paths,
separators, control characters) is refused here, before anything is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rltrack.artifacts.errors import ArtifactError

__all__ = [
    "LATEST",
    "Ref",
    "check_alias",
    "check_aliases",
    "check_file_name",
    "check_name",
    "check_type",
    "parse_ref",
    "version_number",
]

#: The alias that always points at an artifact's newest version; it is computed, never stored.
LATEST = "latest"

_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_TYPE_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,63}")
_ALIAS_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,63}")
_VERSION_RE = re.compile(r"v(0|[1-9][0-9]{0,17})")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_MAX_PATH = 1024
_MAX_COMPONENT = 255


@dataclass(frozen=True, slots=True)
class Ref:
    """A parsed reference: an artifact name and an alias or ``vN`` (None means ``latest``)."""

    name: str
    selector: str | None

    def __str__(self) -> str:
        return self.name if self.selector is None else f"{self.name}:{self.selector}"


def check_name(name: object) -> str:
    """Return ``name`` if it is a valid artifact name, else raise :class:`ArtifactError`."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or ".." in name:
        raise ArtifactError(
            f"artifact name {name!r} is not allowed; use 1-128 letters, digits, '_', '-' or '.' "
            "(no '/', ':', '..' or spaces), e.g. 'ppo-cartpole'"
        )
    return name


def check_type(type: object) -> str:
    """Return ``type`` if it is a valid artifact type (``model``, ``dataset``, ...), else raise."""
    if not isinstance(type, str) or not _TYPE_RE.fullmatch(type):
        raise ArtifactError(
            f"artifact type {type!r} is not allowed; use 1-64 letters, digits, '_', '-' or '.', e.g. 'model'"
        )
    return type


def check_alias(alias: object) -> str:
    """Return ``alias`` if it can be set on a version, else raise :class:`ArtifactError`."""
    if not isinstance(alias, str) or not _ALIAS_RE.fullmatch(alias):
        raise ArtifactError(
            f"alias {alias!r} is not allowed; use 1-64 letters, digits, '_', '-' or '.', e.g. 'best'"
        )
    if alias == LATEST:
        raise ArtifactError(
            f"alias {alias!r} always points at the newest version and cannot be set; drop it from the aliases"
        )
    if _VERSION_RE.fullmatch(alias):
        raise ArtifactError(
            f"alias {alias!r} looks like a version number (v0, v1, ...), which would be ambiguous; "
            "choose another alias, e.g. 'best'"
        )
    return alias


def check_aliases(aliases: object) -> tuple[str, ...]:
    """Return aliases as a duplicate-free tuple; a single string counts as one alias."""
    if isinstance(aliases, str):
        aliases = (aliases,)
    try:
        items = list(aliases)  # type: ignore[call-overload]  # any iterable; checked item by item below
    except TypeError:
        raise ArtifactError(f"aliases {aliases!r} must be a list of strings, e.g. ['best']") from None
    return tuple(dict.fromkeys(check_alias(a) for a in items))


_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def check_file_name(name: object) -> str:
    """Return a file name inside an artifact (a relative POSIX path) if it stays inside the artifact."""
    what = f"file name {name!r} inside an artifact"
    if not isinstance(name, str) or not name:
        raise ArtifactError(f"{what} must be a non-empty string such as 'model.zip'")
    if _CONTROL_RE.search(name):
        raise ArtifactError(f"{what} contains control characters; rename the file or pass name=")
    if _SURROGATE_RE.search(name):
        # os.listdir's form of a file name that is not UTF-8: no store, JSON or browser can hold it.
        raise ArtifactError(f"{what} is not valid Unicode (a name that is not UTF-8); rename the file or pass name=")
    if "\\" in name:
        raise ArtifactError(f"{what} contains '\\'; use '/' to separate folders")
    if name.startswith("/"):
        raise ArtifactError(f"{what} is absolute; use a relative name such as 'model.zip'")
    if len(name) > _MAX_PATH:
        raise ArtifactError(f"{what} is longer than {_MAX_PATH} characters; use a shorter name")
    for part in name.split("/"):
        if part in ("", ".", ".."):
            raise ArtifactError(f"{what} has an empty, '.' or '..' part and could leave the artifact; use 'a/b.txt'")
        if len(part.encode("utf-8", "surrogateescape")) > _MAX_COMPONENT:
            raise ArtifactError(f"{what} has a part longer than {_MAX_COMPONENT} bytes; use a shorter name")
    return name


def parse_ref(ref: object) -> Ref:
    """Parse ``"name"``, ``"name:alias"`` or ``"name:vN"``."""
    if not isinstance(ref, str):
        raise ArtifactError(
            f"artifact reference {ref!r} must be a string such as 'policy', 'policy:best' or 'policy:v3'"
        )
    name, sep, selector = ref.partition(":")
    check_name(name)
    if not sep:
        return Ref(name, None)
    if _VERSION_RE.fullmatch(selector) or selector == LATEST:
        return Ref(name, selector)
    if not isinstance(selector, str) or not _ALIAS_RE.fullmatch(selector):
        raise ArtifactError(
            f"artifact reference {ref!r} has a bad alias or version {selector!r}; "
            "use 'name', 'name:alias' (e.g. 'policy:best') or 'name:vN' (e.g. 'policy:v3')"
        )
    return Ref(name, selector)


def version_number(selector: str) -> int | None:
    """Return N for ``"vN"``, else None."""
    return int(selector[1:]) if _VERSION_RE.fullmatch(selector) else None
