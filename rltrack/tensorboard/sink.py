"""Logging TensorBoard points into a run: scalars, histograms, images at their step; hparams into the config.

One :class:`RunSink` serves both the import (``rltrack import-tb``) and the live mirror, so a
value lands the same way whichever path read it. Scalars of one step that arrive together are
logged in one ``log()`` call at the wall time of the first of them, so they share a history row.
"""

from __future__ import annotations

import os
import pathlib
from collections import Counter
from collections.abc import Iterable
from typing import Any

from rltrack.errors import RltrackError
from rltrack.tensorboard.events import Point, event_points
from rltrack.validate import check_key

__all__ = ["EncodedImage", "RunSink", "params_from_text"]

_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"


class EncodedImage:
    """An image already encoded as PNG or JPEG (as TensorBoard stores them), logged as is."""

    kind: str = "image"

    def __init__(self, data: bytes, width: int, height: int, caption: str | None = None) -> None:
        """Keep the encoded bytes; ``width``/``height`` are what the event file says."""
        self.data = data
        self.width = width
        self.height = height
        self.caption = caption

    def write(self, dest_dir: pathlib.Path, stem: str) -> tuple[str, dict[str, object]]:
        """Write the bytes as ``<stem>.png`` or ``<stem>.jpg``; return (file name, meta)."""
        fmt = "png" if self.data.startswith(_PNG) else "jpg" if self.data.startswith(_JPEG) else None
        if fmt is None:
            raise ValueError(f"TensorBoard image of {len(self.data)} bytes is neither PNG nor JPEG")
        name = f"{stem}.{fmt}"
        tmp = dest_dir / (name + ".part")
        tmp.write_bytes(self.data)
        os.replace(tmp, dest_dir / name)
        return name, {"width": self.width, "height": self.height, "format": fmt}


def params_from_text(text: str) -> dict[str, Any] | None:
    """Read a ``|param|value|`` Markdown table (CleanRL's ``hyperparameters`` text) into a dict, else None.

    Values are converted back from ``str()``: ints, floats, True/False and None; the rest stay strings.
    """
    lines = [line.strip() for line in text.strip().splitlines()]
    if len(lines) < 2 or [c.strip().lower() for c in lines[0].strip("|").split("|")] != ["param", "value"]:
        return None
    out: dict[str, Any] = {}
    for line in lines[2:]:
        cells = line.strip("|").split("|", 1)
        if len(cells) != 2:
            return None
        out[cells[0].strip()] = _literal(cells[1].strip())
    return out


def _literal(text: str) -> Any:
    special = {"True": True, "False": False, "None": None}
    if text in special:
        return special[text]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


class RunSink:
    """Logs points into a run; counts what it logged and what it skipped (by reason).

    Args:
        run: An :class:`rltrack.Run` (anything with ``log``, ``config``).
        prefix: Put before every tag (the sub-folder of a mirrored log dir), e.g. ``"eval/"``.
    """

    def __init__(self, run: Any, prefix: str = "") -> None:
        self.run = run
        self.prefix = prefix
        self.logged: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self._keys: dict[str, str | None] = {}
        self._batch: dict[str, float] = {}
        self._batch_step = -1
        self._batch_t_ns = 0

    def add(self, points: Iterable[Point]) -> None:
        """Log ``points`` (in file order); call :meth:`flush` after the last."""
        for point in points:
            key = self._key(point.tag)
            if key is None:
                continue
            if point.step < 0:  # TensorBoard allows them; a run's x-axis starts at 0
                self.skipped["values at a negative step"] += 1
                continue
            t_ns = round(point.wall_time * 1e9)
            if point.kind == "scalar":
                if point.step != self._batch_step or key in self._batch:
                    self.flush()
                    self._batch_step, self._batch_t_ns = point.step, t_ns
                self._batch[key] = point.value
                self.logged["scalars"] += 1
            elif point.kind in ("histogram", "image"):
                self._log_media(key, point, t_ns)
            elif point.kind == "hparams":
                self._config(dict(point.params or {}))
            elif point.kind == "text":
                params = params_from_text(point.text)
                if params is None:
                    self.skipped["text summaries"] += 1
                else:
                    self._config(params)
            else:
                self.skipped[point.reason] += 1

    def add_events(self, events: Iterable[Any], metadata: dict[str, Any]) -> list[Exception]:
        """Log the values of ``events`` (``Event`` protos, in the order given); call :meth:`flush` after the last.

        The live mirror's hot path. An event of ``simple_value`` scalars only (what
        ``add_scalar`` writes) goes straight into the step's batch: no :class:`Point`, no
        compat layers, one call for all the events, about half the cost of :meth:`add`. Any
        other event goes through :func:`event_points` and :meth:`add`.

        Args:
            events: The events a writer was given.
            metadata: Per-tag metadata of that writer so far (filled in), as TensorBoard keeps it.

        Returns:
            What went wrong with single events (a value the run refused): the other events are logged.
        """
        problems: list[Exception] = []
        keys, n = self._keys, 0
        for event in events:
            try:
                values: Any = event.summary.value if event.WhichOneof("what") == "summary" else ()
                if len(values) == 1:  # add_scalar's one value: no generator
                    simple = values[0].WhichOneof("value") == "simple_value"
                else:
                    simple = bool(values) and all(v.WhichOneof("value") == "simple_value" for v in values)
                if not simple:
                    self.add(event_points(event, metadata))
                    continue
                step = event.step
                for value in values:
                    tag = value.tag
                    key = keys[tag] if tag in keys else self._key(tag)
                    if key is None:
                        continue
                    if step < 0:  # TensorBoard allows them; a run's x-axis starts at 0
                        self.skipped["values at a negative step"] += 1
                        continue
                    if step != self._batch_step or key in self._batch:
                        self.flush()
                        self._batch_step, self._batch_t_ns = step, round(event.wall_time * 1e9)
                    self._batch[key] = value.simple_value
                    n += 1
            except Exception as err:  # a value the run refused: the other events go on
                problems.append(err)
        if n:
            self.logged["scalars"] += n
        return problems

    def _config(self, params: dict[str, Any]) -> None:
        self.run.config.update(params)
        self.logged["hparams"] += len(params)

    def _log_media(self, key: str, point: Point, t_ns: int) -> None:
        from rltrack.media import Histogram

        media: Any
        if point.kind == "histogram":
            media = Histogram((point.counts, point.edges))
        else:
            media = EncodedImage(point.data, point.width, point.height)
        self.run.log({key: media}, step=point.step, t_ns=t_ns, commit=False)
        self.logged[point.kind + "s"] += 1

    def flush(self) -> None:
        """Log the scalars gathered for the current step."""
        if self._batch:
            batch, self._batch = self._batch, {}
            self.run.log(batch, step=self._batch_step, t_ns=self._batch_t_ns, commit=False)

    def _key(self, tag: str) -> str | None:
        """The run key of a tag, or None (counted as skipped) when it cannot be a key."""
        if tag in self._keys:
            return self._keys[tag]
        key: str | None = self.prefix + tag
        try:
            check_key(key)
        except RltrackError as err:
            self.skipped[f"tag {tag!r} is not a valid key ({err})"] += 1
            key = None
        self._keys[tag] = key
        return key
