"""What a config, summary or metadata may hold on its way to a server: the client's and the server's one rule.

The server refuses a summary, config or metadata of more than :data:`MAX_ENTRIES` values (nested ones
counted), and a request body over its limit. Both the online writer and ``rltrack sync`` send these
objects whole at every change, so one oversized value would make every later send of them a refused
batch: :func:`fit_extra` replaces such values by a note saying what they were, before they leave.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rltrack.validate import portable

__all__ = ["MAX_ENTRIES", "MAX_VALUE_BYTES", "count_entries", "fit_extra"]

#: Most values (nested ones counted) a run's summary, config or metadata may hold on a server.
MAX_ENTRIES = 100_000
#: Largest single config, summary or metadata value (JSON bytes) sent to a server.
MAX_VALUE_BYTES = 4 * 1024 * 1024


def count_entries(data: Mapping[str, Any] | list[Any], *, stop: int = MAX_ENTRIES) -> int:
    """Return how many values ``data`` holds, nested objects and arrays and their values counted.

    Counting stops soon after ``stop`` (the answer is then only known to exceed it), so a hostile
    object costs at most that much work.
    """
    count = 0
    stack: list[Any] = [data]
    while stack and count <= stop:
        node = stack.pop()
        values = node.values() if isinstance(node, Mapping) else node
        count += len(values)
        stack.extend(v for v in values if isinstance(v, (Mapping, list)))
    return count


def _json_size(value: Any) -> int:
    return len(json.dumps(value, allow_nan=True))


def fit_extra(values: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Return ``values`` as portable JSON that a server takes, and ``(key, why)`` for each value noted.

    A value over :data:`MAX_VALUE_BYTES`, or the values holding the most entries while the whole holds
    more than :data:`MAX_ENTRIES`, are replaced by a text note naming their type and size.
    """
    out: dict[str, Any] = portable(dict(values))
    noted: list[tuple[str, str]] = []
    if _json_size(out) > MAX_VALUE_BYTES:
        for key, value in out.items():
            size = _json_size(value)
            if size > MAX_VALUE_BYTES:
                out[key] = f"<{type(value).__name__} of {size} bytes as JSON: too large to send to an rltrack server>"
                noted.append((key, f"is {size} bytes as JSON, over the {MAX_VALUE_BYTES} a server takes"))
    total = count_entries(out, stop=2**62)
    if total > MAX_ENTRIES:
        sizes = sorted(((count_entries({k: v}, stop=2**62), k) for k, v in out.items()), reverse=True)
        for n, key in sizes:
            if total <= MAX_ENTRIES or n <= 1:
                break
            out[key] = f"<{type(out[key]).__name__} of {n - 1:,} values: too many to send to an rltrack server>"
            noted.append((key, f"holds {n - 1:,} values; a server keeps at most {MAX_ENTRIES:,} in one object"))
            total -= n - 1
    return out, noted
