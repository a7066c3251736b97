"""Checking what ``log()`` receives: keys, numbers, nesting and media.

Runs in the caller's thread on every ``log()``, so the common case (known keys, plain
floats/ints) stays out of here: :meth:`rltrack.Run.log` only calls :func:`prepare` when it
meets a key it has not validated yet or a value that is not a plain ``float``/``int``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rltrack import validate
from rltrack.errors import InvalidKeyError, InvalidValueError
from rltrack.types import Media
from rltrack.validate import MAX_KEY_LENGTH, RESERVED_KEYS, RESERVED_PREFIX

__all__ = ["MAX_DEPTH", "MAX_KEY_LENGTH", "RESERVED_KEYS", "RESERVED_PREFIX", "check_key", "prepare"]

#: Deepest nesting of dicts that ``log()`` flattens (``{"a": {"b": {...}}}`` is depth 2 at "b").
MAX_DEPTH = 8


def check_key(key: object) -> str:
    """Return ``key`` if ``log()`` may store it, else raise :class:`InvalidKeyError` saying why.

    The one implementation is :func:`rltrack.validate.check_key` (every door uses it); keys under
    ``_rltrack/`` are rltrack's own and refused here.
    """
    return validate.check_key(key)


def to_number(key: str, value: object) -> float | int:
    """Convert a scalar (bool, int, float, numpy or torch scalar) to a Python number."""
    if value.__class__ is float or value.__class__ is int:
        return value  # type: ignore[return-value,unused-ignore]  # narrowed by the class test above
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    item = getattr(value, "item", None)
    if callable(item):
        try:
            number = item()
        except (ValueError, RuntimeError) as err:
            # torch raises RuntimeError, numpy ValueError, for arrays with more than one element.
            raise InvalidValueError(
                f"log() value for {key!r} is an array with more than one element ({_describe(value)}); "
                "log a scalar, or wrap it in rltrack.Histogram(...)"
            ) from err
        if isinstance(number, bool):
            return int(number)
        if isinstance(number, (int, float)):
            return number
    raise InvalidValueError(
        f"log() value for {key!r} is {_describe(value)}, not a number or media object; log an int, float, "
        "bool, numpy/torch scalar, rltrack.Video, rltrack.Image or rltrack.Histogram"
    )


def _describe(value: object) -> str:
    try:
        text = repr(value)
    except Exception as err:  # a user's __repr__ may raise: the error must still name the key
        text = f"<{type(value).__name__} object; repr() raised {type(err).__name__}>"
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def prepare(
    data: Mapping[str, Any], known: set[str]
) -> tuple[dict[str, float | int], list[tuple[str, Media]]]:
    """Flatten, check and convert one ``log()`` call.

    Returns:
        The numeric values by flat key, and the media objects with their keys.

    Raises:
        InvalidKeyError: a key is empty, too long, has control characters, is reserved or
            nests deeper than :data:`MAX_DEPTH`.
        InvalidValueError: a value is neither a number nor a media object.
    """
    if not isinstance(data, Mapping):
        raise InvalidValueError(
            f"log() takes a mapping of key to value, got {_describe(data)}; call run.log({{'key': value}})"
        )
    numbers: dict[str, float | int] = {}
    media: list[tuple[str, Media]] = []
    _walk(data, "", 1, known, numbers, media)
    return numbers, media


def _walk(
    data: Mapping[str, Any],
    prefix: str,
    depth: int,
    known: set[str],
    numbers: dict[str, float | int],
    media: list[tuple[str, Media]],
) -> None:
    for raw_key, value in data.items():
        if not isinstance(raw_key, str):
            check_key(raw_key)  # raises with the right message
        key = prefix + raw_key
        if isinstance(value, Mapping):
            if depth >= MAX_DEPTH:
                raise InvalidKeyError(
                    f"log() data nests deeper than {MAX_DEPTH} levels at {key!r}; flatten it or use "
                    "'/'-separated keys"
                )
            _walk(value, key + "/", depth + 1, known, numbers, media)
            continue
        if key not in known:
            check_key(key)
        if value.__class__ in _PLAIN or hasattr(value, "item") or not isinstance(value, Media):
            numbers[key] = to_number(key, value)
            known.add(key)
        else:
            media.append((key, value))


_PLAIN = (float, int, bool)
