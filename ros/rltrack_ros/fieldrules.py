"""The rules a topic's messages are flattened by.

Which fields become keys, how array elements are named, and how diagnostic strings are read as numbers:
plain data and small functions. The walk over a message that applies them is :mod:`rltrack_ros.flatten`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

__all__ = [
    "DEFAULT_IDENTITY",
    "IDENTITY_FIELDS",
    "FieldFilter",
    "IdentityRule",
    "Number",
    "OnInexact",
    "parse_number",
    "sanitize",
]

Number = int | float

_UNSAFE_KEY_CHARS = re.compile(r"[^A-Za-z0-9_.\-/]+")


#: Fields that name an array element, in order of preference, when its type has no explicit rule.
IDENTITY_FIELDS = ("name", "child_frame_id", "frame_id", "id")
#: Called with (key, value) when an integer cannot be stored exactly as float64.
OnInexact = Callable[[str, int], None]


@dataclass(frozen=True)
class IdentityRule:
    """How the elements of an array of ``msgtype`` messages are keyed.

    ``fields`` are field paths (``header/frame_id``) whose values, joined by ``/``, replace the
    element's index in the key; empty ``fields`` keeps the index. ``strip`` names one sub-message
    of the element whose level is left out of keys (``transform`` for ``TransformStamped``).
    """

    fields: tuple[str, ...]
    strip: str = ""


#: Built-in rules; a topic config's ``identity:`` mapping adds or overrides rules per type.
DEFAULT_IDENTITY: dict[str, IdentityRule] = {
    "geometry_msgs/msg/TransformStamped": IdentityRule(("header/frame_id", "child_frame_id"), strip="transform"),
}


@dataclass(frozen=True)
class FieldFilter:
    """Which fields of a topic become values, and under which keys.

    Globs match the field path (``twist/twist/linear/x``; ``*`` also crosses ``/``). A field is kept
    when it matches an ``include`` glob (or ``include`` is empty) and no ``exclude`` glob; a field
    named in ``rename`` is always kept, under the key given there (absolute, no topic prefix).
    Arrays longer than ``max_array`` are skipped, except arrays keyed by identity (``/tf``
    transforms, elements with a name or id): their keys are names, not positions.
    """

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ("*covariance*",)
    rename: Mapping[str, str] = field(default_factory=dict)
    max_array: int = 64

    def key(self, prefix: str, path: str) -> str | None:
        """Return the key for field ``path`` under ``prefix``, or None when filtered out."""
        renamed = self.rename.get(path)
        if renamed is not None:
            return renamed
        if self.include and not any(fnmatchcase(path, g) for g in self.include):
            return None
        if any(fnmatchcase(path, g) for g in self.exclude):
            return None
        return f"{prefix}/{path}" if prefix else path


def sanitize(name: str) -> str:
    """Make a free-text name (diagnostic status or key, joint name, frame) usable as a key segment."""
    cleaned = _UNSAFE_KEY_CHARS.sub("_", name.strip()).strip("/_")
    return re.sub(r"/{2,}", "/", cleaned) or "_"


def parse_number(text: str) -> Number | None:
    """Parse a diagnostic value string: numbers, optionally with a unit suffix, and true/false."""
    text = text.strip()
    low = text.lower()
    if low in ("true", "yes", "on", "ok"):
        return 1
    if low in ("false", "no", "off"):
        return 0
    try:
        return float(text)
    except ValueError:
        pass
    match = re.match(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?(?=\s*[A-Za-z%°]+$)", text)
    return float(match.group(0)) if match else None
