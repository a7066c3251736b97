r"""Regular expressions over logged keys, evaluated on the server with a bound on their running time.

A workspace's key filter (``key_regex``) and a regex line panel hold a pattern a user typed or a share
link carries, and the server runs it over every key of a project (thousands). A pattern such as
``(a+)+$`` backtracks exponentially in a naive engine, so each search runs under a time budget: with the
``regex`` package (the server extra) each search gets the budget left as its ``timeout``, and a pattern
that runs out is refused naming itself. Without that package, patterns that nest quantifiers or use
back-references (the shapes that backtrack without end) are refused when parsed instead.

The syntax is the part of Python's ``re`` that JavaScript reads the same way: Python-only forms
(``(?P<name>``, ``\\A``, ``\\Z``, inline flags, atomic groups, possessive quantifiers) are refused with
what to write instead, so a pattern means one thing wherever it is shown.

Example:
    >>> match_keys("^eval/", ["eval/return", "train/loss", "eval/length"])
    (['eval/length', 'eval/return'], 2)
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from rltrack.errors import RltrackError

try:  # the server extra; without it nested quantifiers are refused instead of timed
    import regex as _regex  # type: ignore[import-untyped,unused-ignore]
except ImportError:  # pragma: no cover - exercised through ``bounded=False`` in tests
    _regex = None

try:
    import re._parser as _sre_parse  # type: ignore[import-not-found]  # Python >= 3.11
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as _sre_parse

__all__ = ["MATCH_BUDGET_S", "MAX_PATTERN", "check_pattern", "match_keys"]

#: Longest pattern, in characters.
MAX_PATTERN = 200
#: Seconds one pattern may spend over all the keys it is searched in (5,000 plain keys take about 5 ms).
MATCH_BUDGET_S = 0.5
#: Python-only syntax JavaScript reads differently or not at all, and what to write instead.
_PYTHON_ONLY = (
    ("(?P", "a plain group ( ... ): named groups differ between Python and JavaScript"),
    ("\\A", "^"),
    ("\\Z", "$"),
    ("(?#", "no comment group"),
    ("(?>", "a plain group ( ... ): atomic groups are Python-only"),
)
_FLAGS = re.compile(r"\(\?[aiLmsux-]+[):]")
_POSSESSIVE = re.compile(r"(?<!\\)[*+?}]\+")


def _children(name: str, arg: Any) -> list[Any]:
    """Return the parsed sub-patterns of one node of ``sre_parse``'s tree."""
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        return [arg[2]]
    if name == "SUBPATTERN":
        return [arg[-1]]
    if name == "BRANCH":
        return list(arg[1])
    if name in ("ASSERT", "ASSERT_NOT"):
        return [arg[1]]
    return []


def _repeats(items: Any) -> bool:
    """Return whether a parsed pattern repeats something that itself repeats or back-references (exponential)."""
    for op, arg in items:
        name = str(op)
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") and arg[1] not in (0, 1) and _inner_repeat(arg[2]):
            return True
        if any(_repeats(child) for child in _children(name, arg)):
            return True
    return False


def _inner_repeat(items: Any) -> bool:
    for op, arg in items:
        name = str(op)
        if name in ("GROUPREF", "GROUPREF_EXISTS") or (
                name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") and arg[1] != 1):
            return True
        if any(_inner_repeat(child) for child in _children(name, arg)):
            return True
    return False


def check_pattern(pattern: str, *, bounded: bool | None = None) -> str:
    """Return ``pattern`` if it is a key regex the server can run safely, else raise naming what to write.

    Args:
        pattern: The regular expression.
        bounded: Whether searches run under a timeout (default: whether the ``regex`` package is installed);
            without one, nested quantifiers and back-references are refused.

    Raises:
        RltrackError: too long, not a valid expression, Python-only syntax, or (unbounded) a nested quantifier.
    """
    if not isinstance(pattern, str):
        raise RltrackError(f"key regex {pattern!r} is not text; write a regular expression such as '^eval/'")
    if len(pattern) > MAX_PATTERN:
        raise RltrackError(f"key regex {pattern[:40]!r}... is {len(pattern)} characters; write at most {MAX_PATTERN}")
    if "\x00" in pattern:
        raise RltrackError(f"key regex {pattern!r} holds a NUL character; remove it")
    for form, instead in _PYTHON_ONLY:
        if _unescaped(pattern, form):
            raise RltrackError(f"key regex {pattern!r} uses {form!r}, which JavaScript reads differently; write "
                               f"{instead}")
    if _FLAGS.search(pattern):
        raise RltrackError(f"key regex {pattern!r} uses inline flags such as (?i); they are Python-only: write the "
                           "letters' cases out, e.g. [Ll]oss")
    if _POSSESSIVE.search(pattern):
        raise RltrackError(f"key regex {pattern!r} uses a possessive quantifier (*+, ++, ?+); they are Python-only: "
                           "write a plain quantifier")
    _check_regex_module_forms(pattern)
    try:
        parsed = _sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError) as err:
        raise RltrackError(f"key regex {pattern!r} is not a valid regular expression ({err}); fix it or turn the "
                           "regex option off to filter by plain text") from None
    if not (_regex is not None if bounded is None else bounded) and _repeats(list(parsed)):
        raise RltrackError(f"key regex {pattern!r} repeats a group that itself repeats (like (a+)+), which can run "
                           "for hours on one key; write it without the nested quantifier, e.g. (a+)$ for (a+)+$")
    return pattern


def _unescaped(pattern: str, form: str) -> bool:
    r"""Return whether ``form`` occurs in ``pattern`` as syntax: not after an escaping backslash.

    ``^a\\A$`` (a pinned key ``a\A``, its backslash escaped) holds the text ``\A`` but no ``\A`` anchor.
    """
    at = pattern.find(form)
    while at >= 0:
        slashes = len(pattern[:at]) - len(pattern[:at].rstrip("\\"))
        if slashes % 2 == 0:
            return True
        at = pattern.find(form, at + 1)
    return False


#: What the search engine raises on a pattern it cannot compile.
_ENGINE_ERROR: type[Exception] = _regex.error if _regex is not None else re.error
_POSIX_CLASS = re.compile(r"\[:[^\]]*:\]")
_REPEAT = re.compile(r"\d*(,\d*)?")


def _check_regex_module_forms(pattern: str) -> None:
    """Refuse what the ``regex`` package (which runs the search) reads otherwise than ``re`` (which checks it).

    ``[[:alpha:]]`` is a POSIX class there (a set of ``[:alph`` then ``]`` in ``re`` and JavaScript), and
    ``{e<=1}`` after a group is fuzzy matching there (literal text in ``re``): with them ``loss{e<=1}``
    matched ``loss``, which the pattern as written does not; and ``a{e`` did not compile there (a 500).

    Raises:
        RltrackError: naming the form and how to write it literally.
    """
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2  # an escaped character is literal in both
            continue
        if ch == "[" and _POSIX_CLASS.match(pattern, i):
            raise RltrackError(f"key regex {pattern!r} uses a POSIX class such as [[:alpha:]], which is read "
                               "differently here and in JavaScript; write the set out, e.g. [A-Za-z]")
        if ch == "{":  # a repeat count, or nothing the two read alike (an unclosed "{e" fails to compile there)
            end = pattern.find("}", i)
            if end < 0 or not _REPEAT.fullmatch(pattern, i + 1, end):
                shown = pattern[i:end + 1] if end > 0 else pattern[i:i + 10]
                raise RltrackError(f"key regex {pattern!r} has {shown!r}, which is not a repeat count such as {{2}} "
                                   "or {1,3}; write \\{ for a literal brace")
        i += 1


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    try:
        return _regex.compile(pattern) if _regex is not None else re.compile(pattern)
    except (re.error, RecursionError, OverflowError, _ENGINE_ERROR) as err:
        # What check_pattern let through but the engine refuses (e.g. a look-behind of varying width in re).
        raise RltrackError(f"key regex {pattern!r} is not a valid regular expression here ({err}); fix it or turn "
                           "the regex option off to filter by plain text") from None


def match_keys(pattern: str, keys: Iterable[str], *, budget_s: float = MATCH_BUDGET_S) -> tuple[list[str], int]:
    """Return the keys ``pattern`` matches (searched, case-sensitive), sorted, and how many there are.

    Keys that start with ``_`` (rltrack's own bookkeeping) never match. A search that finished is remembered
    (pattern and keys alike), because a share link resolves its panels again on every request it answers,
    each image of a media panel included.

    Raises:
        RltrackError: the pattern is invalid (see :func:`check_pattern`) or needs more than ``budget_s`` seconds
            over these keys (catastrophic backtracking).
    """
    check_pattern(pattern)
    wanted = tuple(keys)
    # The keys as a digest: the memo holds no copy of a project's key list per pattern.
    memo = (pattern, hashlib.blake2b("\0".join(wanted).encode("utf-8", "surrogatepass")).digest())
    with _lock:
        done = _found.get(memo)
    if done is not None:
        return list(done), len(done)
    found = _search(pattern, wanted, budget_s)
    if len(found) > _MAX_KEPT:
        return found, len(found)
    with _lock:
        if len(_found) >= _MAX_FOUND:
            _found.pop(next(iter(_found)))  # the oldest: a bound on memory, not a policy
        _found[memo] = tuple(found)
    return found, len(found)


#: Finished searches: (pattern, digest of the keys) -> the keys matched (at most _MAX_FOUND, oldest dropped).
_found: dict[tuple[str, bytes], tuple[str, ...]] = {}
_MAX_FOUND = 256
#: Searches that matched more keys than this are not remembered (a bound on the memo's memory).
_MAX_KEPT = 1000
_lock = threading.Lock()


def _search(pattern: str, keys: tuple[str, ...], budget_s: float) -> list[str]:
    compiled = _compiled(pattern)
    deadline = time.monotonic() + budget_s
    found = []
    for key in keys:
        if key.startswith("_"):
            continue
        left = deadline - time.monotonic()
        try:
            if left <= 0:
                raise TimeoutError
            hit = compiled.search(key, timeout=left) if _regex is not None else compiled.search(key)
        except TimeoutError:
            raise RltrackError(f"key regex {pattern!r} needs more than {budget_s:g} s over the project's keys "
                               "(it backtracks without end, like (a+)+$); write it without nested quantifiers"
                               ) from None
        if hit is not None:
            found.append(key)
    found.sort()
    return found
