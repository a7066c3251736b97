"""A run's config and summary: dict-like views that the background writer persists."""

from __future__ import annotations

import fnmatch
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Any, Literal

from rltrack.errors import InvalidValueError
from rltrack.validate import portable

__all__ = ["SUMMARY_MODES", "Config", "Summary", "SummaryMode"]

SummaryMode = Literal["last", "min", "max", "mean", "first", "none"]
SUMMARY_MODES: tuple[str, ...] = ("last", "min", "max", "mean", "first", "none")


class Config(MutableMapping[str, Any]):
    """The run's hyperparameters; every change is stored (within a flush interval).

    Values are kept as :func:`rltrack.validate.portable` makes them, as every store keeps them:
    tuples become lists; what JSON cannot hold (a set, an object whose ``repr`` raises, parts
    nested deeper than 32 levels) becomes its ``repr``. Keys read and set as attributes too
    (``config.lr``, ``config.lr = 3e-4``), as in wandb. Keys a sweep chose are locked: setting
    them keeps the sweep's value.
    """

    def __init__(self, initial: Mapping[str, Any], on_change: Callable[[dict[str, Any]], None]) -> None:
        object.__setattr__(self, "_data", portable(dict(initial)))
        object.__setattr__(self, "_lock", threading.Lock())
        object.__setattr__(self, "_on_change", on_change)
        object.__setattr__(self, "_locked", frozenset())

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        with self._lock:
            del self._data[key]
            snapshot = dict(self._data)
        self._on_change(snapshot)

    def update(self, *args: Any, allow_val_change: bool | None = None, **kwargs: Any) -> None:
        """Set several keys at once (one write).

        Args:
            *args: A mapping (or pairs), as ``dict.update`` takes, or an ``argparse.Namespace``,
                dataclass or YAML path.
            allow_val_change: ``False`` refuses to change a key's existing value (wandb's check);
                the default (``None``) and ``True`` allow it.
            **kwargs: More keys.

        Raises:
            InvalidValueError: ``allow_val_change=False`` and a key already holds another value.
        """
        if len(args) == 1 and _is_config_object(args[0]):
            # wandb's config.update(args): an argparse.Namespace, a dataclass or a YAML path.
            from rltrack._config import config_dict

            args = (config_dict(args[0], what="config.update(...)"),)
        # Portable at the call: one odd value cannot fail the write that carries the whole config.
        new: dict[str, Any] = portable(dict(*args, **kwargs))
        with self._lock:
            if allow_val_change is False:
                for key, value in new.items():
                    if key in self._data and self._data[key] != value and key not in self._locked:
                        raise InvalidValueError(
                            f"config.update() would change {key!r} from {self._data[key]!r} to {value!r}; "
                            "pass allow_val_change=True to change it"
                        )
            kept = {k: v for k, v in new.items() if k in self._locked and self._data.get(k) != v}
            self._data.update({k: v for k, v in new.items() if k not in kept})
            snapshot = dict(self._data)
        if kept:
            # wandb's behaviour: a sweep's value wins over the script's default, said once on stderr.
            import sys

            print(
                f"rltrack: config keys {sorted(kept)} are set by the sweep; the script's values were ignored",
                file=sys.stderr,
            )
        self._on_change(snapshot)

    def setdefaults(self, defaults: Mapping[str, Any]) -> None:
        """Set the keys of ``defaults`` that are not set yet (wandb's ``config.setdefaults``)."""
        with self._lock:
            missing = {str(k): v for k, v in defaults.items() if k not in self._data}
        if missing:
            self.update(missing)

    def lock(self, keys: Iterable[str]) -> None:
        """Keep these keys' current values whatever the script sets later (a sweep's parameters)."""
        object.__setattr__(self, "_locked", self._locked | frozenset(keys))

    def __iter__(self) -> Iterator[str]:
        return iter(dict(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, name: str) -> Any:
        # wandb-style `run.config.lr`; dunder lookups must still fail normally.
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(f"config has no key {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            self[name] = value

    def as_dict(self) -> dict[str, Any]:
        """Return a copy as a plain dict."""
        return dict(self._data)

    def __repr__(self) -> str:
        return f"Config({self._data!r})"


def _is_config_object(value: object) -> bool:
    import argparse
    import dataclasses
    import os

    return (
        isinstance(value, (argparse.Namespace, str, os.PathLike))
        or (dataclasses.is_dataclass(value) and not isinstance(value, type))
    )


class Summary(MutableMapping[str, Any]):
    """One value per key describing the run: the last logged value unless ``define_metric`` says otherwise.

    The background writer updates it as values are stored, so it is exact after
    ``flush()``. Values set by hand stay until that key is logged again.
    """

    def __init__(self, initial: Mapping[str, Any] | None = None) -> None:
        self._data: dict[str, Any] = dict(initial or {})
        self._modes: dict[str, SummaryMode] = {}
        self._patterns: list[tuple[str, SummaryMode]] = []
        self._resolved: dict[str, SummaryMode] = {}
        self._sums: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()
        self.dirty = False

    def define(self, key: str, mode: str) -> None:
        """Set how ``key`` (or a glob such as ``"train/*"``) is summarised."""
        if mode not in SUMMARY_MODES:
            raise InvalidValueError(
                f"define_metric summary={mode!r} is not one of {', '.join(SUMMARY_MODES)}; pick one of those"
            )
        with self._lock:
            if any(c in key for c in "*?["):
                self._patterns.append((key, mode))  # type: ignore[arg-type]  # checked above
            else:
                self._modes[key] = mode  # type: ignore[assignment]  # checked above
            self._resolved.clear()

    def mode(self, key: str) -> SummaryMode:
        """Return how ``key`` is summarised."""
        found = self._resolved.get(key)
        if found is not None:
            return found
        explicit = self._modes.get(key)
        mode: SummaryMode = explicit if explicit is not None else next(
            (m for p, m in self._patterns if fnmatch.fnmatchcase(key, p)), "last"
        )
        self._resolved[key] = mode
        return mode

    def absorb(self, key: str, values: Any) -> None:
        """Fold a stored array of ``key``'s new values into the summary (writer thread)."""
        import numpy as np

        mode = self.mode(key)
        if mode == "none" or values.size == 0:
            return
        finite = values[np.isfinite(values)]
        with self._lock:
            old = self._data.get(key)
            if mode == "last":
                new: Any = _plain(values[-1])
            elif mode == "first":
                new = old if old is not None else _plain(values[0])
            elif mode in ("min", "max"):
                if finite.size == 0:
                    return
                cand = _plain(finite.min() if mode == "min" else finite.max())
                if isinstance(old, (int, float)) and math.isfinite(old):
                    cand = min(float(old), cand) if mode == "min" else max(float(old), cand)
                new = cand
            else:  # mean of finite values
                total, count = self._sums.get(key, (0.0, 0))
                total, count = total + float(finite.sum()), count + int(finite.size)
                self._sums[key] = (total, count)
                if count == 0:
                    return
                new = total / count
            self._data[key] = new
            self.dirty = True

    def count(self, key: str, increment: int = 1) -> None:
        """Add to an internal counter such as ``_rltrack/errors/store-write``."""
        with self._lock:
            total = int(self._data.get(key, 0)) + increment
            if total:
                self._data[key] = total
            else:  # a provisional count taken back: no key, as if never counted
                self._data.pop(key, None)
            self.dirty = True

    def snapshot(self) -> dict[str, Any]:
        """Return a copy and clear the dirty flag (the writer is about to store it)."""
        with self._lock:
            self.dirty = False
            return dict(self._data)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        # Portable at the call (depth counted from the summary, as the stores count it): a value JSON
        # cannot hold would otherwise fail the write of the whole summary.
        ((key, value),) = portable({key: value}).items()
        with self._lock:
            self._data[key] = value
            self.dirty = True

    def __delitem__(self, key: str) -> None:
        with self._lock:
            del self._data[key]
            self.dirty = True

    def __iter__(self) -> Iterator[str]:
        return iter(dict(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Summary({self._data!r})"


def _plain(value: Any) -> float:
    # Values are stored as float64, so the summary reports floats too.
    return float(value)
