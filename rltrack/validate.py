"""One door of validation: the checks every value passes before it enters a store.

``init()``/``log()``, HTTP ingest, bag import and the ROS node all call these functions, so a check
made at one door is made at every door (ARCHITECTURE.md, "Rules that keep the data true"). Each
raises an :class:`~rltrack.errors.RltrackError` whose message names the value and what to do.
This module is a leaf: it imports only :mod:`rltrack.errors` and :mod:`rltrack.types`.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Mapping
from typing import Any

from rltrack.errors import InvalidKeyError, InvalidValueError
from rltrack.types import RUN_STATES

__all__ = [
    "MAX_KEY_LENGTH",
    "MAX_STEP",
    "MAX_VALUE_DEPTH",
    "RESERVED_KEYS",
    "RESERVED_PREFIX",
    "check_key",
    "check_label",
    "check_media_path",
    "check_run_id",
    "check_source",
    "check_state",
    "check_step",
    "check_t_ns",
    "check_text",
    "loads_text",
    "portable",
]

#: Longest key accepted, in characters.
MAX_KEY_LENGTH = 256
#: Largest step: steps are stored as signed 64-bit integers.
MAX_STEP = 2**63 - 1
#: Names the history table uses for its own columns, so they cannot be keys.
RESERVED_KEYS = frozenset({"step", "t_ns"})
#: Prefix rltrack keeps for its own counters in the summary.
RESERVED_PREFIX = "_rltrack/"
#: Deepest nesting a config, summary or metadata value keeps (see :func:`portable`); deeper parts are
#: kept as their repr (the server refuses bodies nested deeper than 64 levels, and a batch adds 4).
MAX_VALUE_DEPTH = 32

_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SOURCE_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
# Characters no file name may hold on any platform (control characters, separators, Windows' reserved).
_BAD_NAME_CHARS = re.compile(r'[\x00-\x1f\x7f\\:*?"<>|]')
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_text(what: str, text: str) -> str:
    """Return ``text`` if it encodes as UTF-8, else raise :class:`InvalidValueError`.

    A lone surrogate (what ``os.listdir`` returns for a file name that is not UTF-8) cannot be
    stored in SQLite, JSON or PostgreSQL; refusing it at the call keeps the writer alive.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidValueError(
            f"{what} {text!r} is not valid Unicode (a lone surrogate, as os.listdir returns for a "
            "non-UTF-8 file name); decode it with errors='replace' first"
        ) from None
    return text


def check_label(what: str, text: str) -> str:
    """Return ``text`` if a store's text column can keep it: valid UTF-8 without a NUL character.

    For the strings a store keeps in columns of their own (notes, group, job type, tags, captions,
    artifact names). PostgreSQL refuses NUL in text while SQLite keeps it, so without this check a
    value would work on one back-end and fail the other's writer. JSON documents (config, summary)
    keep NUL escaped and need only :func:`check_text`.
    """
    check_text(what, text)
    if "\x00" in text:
        raise InvalidValueError(
            f"{what} {text!r} holds a NUL character ('\\x00'), which PostgreSQL stores cannot keep; "
            "remove it, e.g. text.replace('\\x00', '')"
        )
    return text


def check_run_id(run_id: object, *, what: str = "run id") -> str:
    """Return ``run_id`` if it is 1-64 letters, digits, ``-`` or ``_`` (so never ``.`` or ``..``)."""
    if not (isinstance(run_id, str) and _ID_RE.match(run_id)):
        raise InvalidValueError(f"{what} {run_id!r} must be 1-64 letters, digits, '-' or '_' such as 'a1b2c3d4'")
    return run_id


def check_source(source: object, *, what: str = "source") -> str:
    """Return ``source`` if it is 1-32 letters, digits, ``-`` or ``_`` (``sim``, ``real``, ...)."""
    if not (isinstance(source, str) and _SOURCE_RE.match(source)):
        raise InvalidValueError(f"{what} {source!r} must be 1-32 letters, digits, '-' or '_' such as 'real'")
    return source


def check_key(key: object, *, allow_reserved: bool = False) -> str:
    """Return ``key`` if it can be stored, else raise :class:`InvalidKeyError` saying why.

    Args:
        key: The metric's name, such as ``train/loss``.
        allow_reserved: Accept ``_rltrack/*`` keys (rltrack's own counters, written by rltrack only).
    """
    if not isinstance(key, str):
        raise InvalidKeyError(f"log() keys must be strings, got {key!r} ({type(key).__name__}); convert it with str()")
    if not key:
        raise InvalidKeyError("log() got an empty key ''; give every value a name such as 'train/loss'")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKeyError(
            f"log() key {key[:40]!r}... is {len(key)} characters long; keep keys at most {MAX_KEY_LENGTH}"
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise InvalidKeyError(f"log() key {key!r} contains control characters; remove them")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidKeyError(
            f"log() key {key!r} is not valid Unicode (a lone surrogate, as os.listdir returns for a "
            "non-UTF-8 file name); decode it with errors='replace' first"
        ) from None
    if key.startswith("/") or key.endswith("/") or "//" in key:
        raise InvalidKeyError(f"log() key {key!r} has an empty '/'-separated part; write it like 'train/loss'")
    if key in RESERVED_KEYS or (key.startswith(RESERVED_PREFIX) and not allow_reserved):
        raise InvalidKeyError(
            f"log() key {key!r} is reserved by rltrack ({', '.join(sorted(RESERVED_KEYS))} and "
            f"'{RESERVED_PREFIX}*'); rename it"
        )
    return key


def check_step(step: object, *, what: str = "log() step") -> int:
    """Return ``step`` as an int in 0 … 2⁶³−1 (plain ints and numpy ints; bools refused)."""
    if isinstance(step, bool):
        raise InvalidValueError(
            f"{what} must be an integer, got {step!r} (bool); pass an int such as model.num_timesteps"
        )
    try:
        value = operator.index(step)  # type: ignore[arg-type]  # numpy ints and friends
    except TypeError:
        raise InvalidValueError(
            f"{what} must be an integer, got {step!r} ({type(step).__name__}); pass an int such as "
            "model.num_timesteps"
        ) from None
    if value < 0 or value > MAX_STEP:
        raise InvalidValueError(f"{what} must be in 0 … 2**63-1, got {value!r}")
    return value


def check_t_ns(t_ns: object, *, what: str = "t_ns") -> int:
    """Return ``t_ns`` (nanoseconds on the run's clock) as an int that fits a signed 64-bit column.

    Negative times are allowed (a simulation clock may start before 1970); only the range is checked.
    """
    if isinstance(t_ns, bool):
        raise InvalidValueError(f"{what} must be an integer number of nanoseconds, got {t_ns!r} (bool)")
    try:
        value = operator.index(t_ns)  # type: ignore[arg-type]  # numpy ints and friends
    except TypeError:
        raise InvalidValueError(
            f"{what} must be an integer number of nanoseconds, got {t_ns!r} ({type(t_ns).__name__}); "
            "pass time.time_ns() or a ROS stamp's sec * 10**9 + nanosec"
        ) from None
    if not -(2**63) <= value <= MAX_STEP:
        raise InvalidValueError(f"{what} must fit a signed 64-bit integer, got {value!r}")
    return value


def check_state(state: object) -> str:
    """Return ``state`` if it is one of :data:`rltrack.types.RUN_STATES`."""
    if not (isinstance(state, str) and state in RUN_STATES):
        raise InvalidValueError(f"run state {state!r} must be one of {', '.join(RUN_STATES)}")
    return state


def check_media_path(path: object) -> str:
    """Return a path relative to a run's folder (media or an uploaded file), refusing any that could leave it.

    ``/``-separated parts of 1-255 bytes (UTF-8), 1,024 in all; none starts with ``.`` (so no ``..`` and no hidden
    files), none holds a control character, a backslash or a character Windows reserves; no empty part.
    """
    if not isinstance(path, str) or not path or len(_utf8(path)) > 1024:
        raise InvalidValueError(f"media path {path!r} must be a relative path such as 'media/video/step_1.mp4'")
    parts = path.split("/")
    if any(
        # 255 bytes, not characters: what file systems allow per name ('é' takes two).
        not part or len(_utf8(part)) > 255 or part.startswith(".") or part != part.strip()
        or _BAD_NAME_CHARS.search(part)
        for part in parts
    ):
        raise InvalidValueError(
            f"media path {path!r} must be relative to the run's folder: '/'-separated names without '..', a leading "
            "'.', an empty part, control characters or any of \\:*?\"<>|"
        )
    check_text("media path", path)
    return path


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # a lone surrogate is refused later, by name


def loads_text(text: str | bytes) -> Any:
    r"""Parse stored JSON, replacing each lone surrogate in its strings with U+FFFD.

    JSON text may escape a lone surrogate (``"\udcff"``), which Python parses into a string that
    no UTF-8 encoder takes: one such value (a config entry written before the checks existed, or by
    an older writer) would make every answer that carries it fail. Valid pairs (emoji) are kept.
    """
    value = json.loads(text)
    raw = text if isinstance(text, str) else text.decode("utf-8", "replace")
    if "\\ud" not in raw and "\\uD" not in raw:
        return value  # fast path: no surrogate escape at all
    return _replace_surrogates(value)


def _replace_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_replace_surrogates(k): _replace_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_surrogates(v) for v in value]
    return value


def portable(value: Any, _depth: int = 0) -> Any:
    """Return ``value`` as JSON that every store and the server keep: what JSON cannot hold as its ``repr``.

    Config, summary and metadata values pass through this before they are written (the remote
    writer does; ``Config``/``Summary`` should at the call), so one odd entry (a numpy scalar, a set,
    a lone surrogate from ``os.listdir``, an object whose ``repr`` raises, a dict nested 1,000 deep)
    cannot fail the write that carries it, or turn a whole flush into a dead letter. Lone surrogates
    become U+FFFD; NaN and infinity are kept; parts deeper than :data:`MAX_VALUE_DEPTH` become repr.
    """
    if value is None or isinstance(value, (bool, float)):
        return value
    if isinstance(value, int):
        try:
            str(value)  # ints past Python's digit limit cannot be written as JSON
        except ValueError:
            return f"<int of {value.bit_length()} bits>"
        return value
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if _depth < MAX_VALUE_DEPTH:
        if isinstance(value, Mapping):
            return {_portable_key(k): portable(v, _depth + 1) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [portable(v, _depth + 1) for v in value]
    return _safe_repr(value)


def _portable_key(key: object) -> str:
    if isinstance(key, str):
        return _SURROGATE.sub("\ufffd", key)
    if key is None or isinstance(key, (bool, int, float)):
        return json.dumps(portable(key))  # what json.dumps makes of such a key: 5 -> "5", True -> "true"
    return _safe_repr(key)


def _safe_repr(value: object) -> str:
    try:
        text = repr(value)
    except Exception as err:  # a user's __repr__ may raise anything
        text = f"<{type(value).__name__} object; repr() raised {type(err).__name__}>"
    return _SURROGATE.sub("\ufffd", text[:1000])
