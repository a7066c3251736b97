"""Filtering and sorting runs by config and summary values (``config.lr>=0.001``, ``-summary.reward``)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rltrack.errors import RltrackError

__all__ = ["Filter", "parse_filter", "sort_key"]

_FILTER_RE = re.compile(r"^(config|summary)\.([^<>=!~]+?)\s*(>=|<=|!=|=|>|<|~)\s*(.*)$")
_SORT_FIELDS = ("created", "name", "state", "group", "project", "ended")
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
}


@dataclass(frozen=True)
class Filter:
    """One condition on a run's config or summary value."""

    where: str  # "config" or "summary"
    path: tuple[str, ...]
    op: str
    value: Any

    def matches(self, config: Mapping[str, Any], summary: Mapping[str, Any]) -> bool:
        """Return whether a run with this config and summary passes the condition."""
        found, actual = lookup(config if self.where == "config" else summary, self.path)
        if self.op == "!=":
            return not found or not _equal(actual, self.value)
        if not found:
            return False
        if self.op == "=":
            return _equal(actual, self.value)
        if self.op == "~":
            return str(self.value).lower() in _text(actual).lower()
        a, b = _number(actual), _number(self.value)
        if a is None or b is None:
            a, b = _text(actual), _text(self.value)  # type: ignore[assignment]  # compare as text instead
        return bool(_OPS[self.op](a, b))


def parse_filter(text: str) -> Filter:
    """Parse ``config.KEY OP VALUE`` or ``summary.KEY OP VALUE`` (OP: = != > >= < <= ~).

    Raises:
        RltrackError: the text is not such a condition.
    """
    m = _FILTER_RE.match(text.strip())
    if m is None:
        raise RltrackError(
            f"filter {text!r} is not understood; write config.KEY OP VALUE or summary.KEY OP VALUE "
            "with OP one of = != > >= < <= ~ (contains), e.g. config.lr>=0.001"
        )
    where, key, op, raw = m.groups()
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    return Filter(where, tuple(key.strip().split(".")), op, value)


def lookup(data: Mapping[str, Any], path: Sequence[str]) -> tuple[bool, Any]:
    """Return ``(found, value)`` for a dotted path, trying the flat key (``train/loss``) first."""
    flat = ".".join(path)
    if flat in data:
        return True, data[flat]
    current: Any = data
    for part in path:
        if not isinstance(current, Mapping) or part not in current:
            return False, None
        current = current[part]
    return True, current


def sort_key(field: str) -> tuple[str, tuple[str, ...]]:
    """Validate a sort field (``created``, ``name``, ..., ``config.KEY``, ``summary.KEY``).

    Raises:
        RltrackError: the field is unknown.
    """
    if field in _SORT_FIELDS:
        return field, ()
    where, _, rest = field.partition(".")
    if where in ("config", "summary") and rest:
        return where, tuple(rest.split("."))
    raise RltrackError(
        f"sort={field!r} is unknown; use one of {', '.join(_SORT_FIELDS)}, config.KEY or summary.KEY "
        "(prefix '-' for descending)"
    )


def orderable(value: Any) -> tuple[int, float, str]:
    """Return a key that orders numbers before text and puts missing values last."""
    number = _number(value)
    if number is not None and not math.isnan(number):
        return 0, number, ""
    if value is None:
        return 2, 0.0, ""
    return 1, 0.0, _text(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _equal(actual: Any, wanted: Any) -> bool:
    a, b = _number(actual), _number(wanted)
    if a is not None and b is not None:
        return a == b
    return _text(actual) == _text(wanted)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)
