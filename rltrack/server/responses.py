"""JSON responses that never fail on NaN or infinity (stored faithfully, sent as ``null``) or a lone surrogate."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from starlette.responses import JSONResponse

__all__ = ["SafeJSONResponse", "clean"]

_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(value: Any) -> Any:
    """Return ``value`` with every non-finite float replaced by None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value


class SafeJSONResponse(JSONResponse):
    """A :class:`JSONResponse` that turns NaN/inf into ``null`` instead of raising (a 500)."""

    def render(self, content: Any) -> bytes:
        """Serialize ``content``; the slow cleaning pass only runs when a non-finite float is present."""
        try:
            text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=str)
        except ValueError:
            text = json.dumps(clean(content), ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=str)
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate that reached a store before it was checked: shown as U+FFFD, not a 500.
            return _SURROGATE.sub("\ufffd", text).encode("utf-8")
