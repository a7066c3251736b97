"""Reading TensorBoard event files with the ``tensorboard`` package's own record reader and protos.

:class:`EventFileReader` reads the records of one ``events.out.tfevents.*`` file (checked with
their CRCs by tensorboard's reader), passes each event through tensorboard's read-time compat
layers (``data_compat``, ``dataclass_compat``: TF1 ``simple_value``/``histo``/``image`` become the
tensors TensorBoard itself reads) and turns the summary values into :class:`Point`s. It can be
called again as the file grows: a record cut short at the end of the file is read once its
writer completes it, which is how :mod:`rltrack.tensorboard.mirror` tails a live writer.

``tensorboard`` is imported when a reader is made, never at ``import rltrack``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rltrack._extras import install_hint
from rltrack.errors import RltrackError

__all__ = ["CorruptEventFileError", "EventFileReader", "Point", "event_points", "is_event_file"]


class CorruptEventFileError(RltrackError):
    """An event file has a record that fails its checksum or cannot be decoded."""


@dataclass(frozen=True, slots=True)
class Point:
    """One summary value of an event file.

    ``kind`` says which fields are set: ``scalar`` (``value``), ``histogram`` (``counts``,
    ``edges``), ``image`` (``data``: the encoded PNG/JPEG, ``width``, ``height``), ``text``
    (``text``), ``hparams`` (``params``: name to number, string or bool), or ``skipped``
    (``reason``: a summary type rltrack does not store, e.g. audio or PR curves).
    """

    kind: str
    tag: str
    step: int
    wall_time: float
    value: float = 0.0
    # Immutable defaults: a scalar point (the common case) allocates nothing more.
    counts: Sequence[float] = ()
    edges: Sequence[float] = ()
    data: bytes = b""
    width: int = 0
    height: int = 0
    text: str = ""
    params: Mapping[str, Any] | None = None
    reason: str = ""


def is_event_file(path: Path) -> bool:
    """Whether ``path`` is named like a TensorBoard event file (``*tfevents*``, as TensorBoard looks for)."""
    return "tfevents" in path.name and path.is_file()


class EventFileReader:
    """Reads the points of one event file, from the start and then as it grows.

    Args:
        path: The event file.

    Raises:
        ImportError: The ``tensorboard`` package is not installed.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        try:
            from google.protobuf.message import DecodeError
            from tensorboard.compat.proto.event_pb2 import Event
            from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import PyRecordReader_New
        except ImportError as err:
            raise ImportError(f"reading TensorBoard event files needs tensorboard: {install_hint('tensorboard')}") \
                from err
        self.path = Path(path)
        #: Records and bytes read so far; ``at_end`` is True when the last read reached the end of the file.
        self.records = 0
        self.bytes_read = 0
        self.at_end = False
        # tensorboard's pure-Python record reader (used by TensorBoard whenever TensorFlow is absent):
        # it checks both CRCs and keeps a record cut short at EOF in a buffer to retry later.
        self._reader = PyRecordReader_New(os.fsencode(self.path), 0, b"", None)
        # Per-tag metadata of the first event of each tag, as TensorBoard keeps it per run.
        self._initial_metadata: dict[str, Any] = {}
        self._error: CorruptEventFileError | None = None
        self._event_type: Any = Event
        self._decode_error: type[Exception] = DecodeError

    def read(self, *, final: bool = False, max_records: int | None = None) -> list[Point]:
        """Return the points of the complete records not read before (all, or the next ``max_records``).

        Args:
            final: The writer has finished: a record cut short at the end is corruption, not a
                record still being written.
            max_records: Read at most this many records (``at_end`` tells whether more remain).

        Raises:
            CorruptEventFileError: A record fails its CRC check or cannot be parsed (or, with
                ``final``, the file ends inside a record); the message names the file. The points
                before the bad record are returned first; the call after that raises.
        """
        from tensorboard.compat.tensorflow_stub import errors

        if self._error is not None:
            raise self._error
        points: list[Point] = []
        self.at_end = False
        for _ in iter(int, 1) if max_records is None else range(max_records):
            try:
                self._reader.GetNext()
                record = self._reader.record()
                points.extend(self._points(record))
            except errors.OutOfRangeError:
                self.at_end = True
                return points
            except errors.DataLossError as err:
                if "truncated record" in str(err) and not final:
                    self.at_end = True
                    return points  # the writer is mid-record: read the rest on the next call
                self._error = self._corrupt(str(err))
            except CorruptEventFileError as err:
                self._error = err
            if self._error is not None:
                if points:
                    return points  # the good points first; the next call raises
                raise self._error
            self.records += 1
            self.bytes_read += len(record) + 16  # length, its CRC, the data's CRC
        return points

    def _corrupt(self, detail: str) -> CorruptEventFileError:
        return CorruptEventFileError(
            f"TensorBoard event file {str(self.path)!r} is corrupt after {self.records} good records ({detail}); "
            "everything before that point was read. Re-copy the file, or move it aside to import the rest"
        )

    def _points(self, record: bytes) -> list[Point]:
        try:
            event = self._event_type.FromString(record)
        except self._decode_error as err:
            raise self._corrupt(f"record {self.records + 1} is not an Event: {err}") from None
        return event_points(event, self._initial_metadata)


def event_points(event: Any, initial_metadata: dict[str, Any]) -> list[Point]:
    """Return the points of one ``Event`` proto (tensorboard's, or tensorboardX's of the same schema).

    Args:
        event: The event.
        initial_metadata: Per-tag metadata of the run so far (filled in), as TensorBoard keeps it.
    """
    if event.WhichOneof("what") != "summary":
        return []  # file_version, graph_def, session_log, run metadata: not values
    values = event.summary.value
    if all(v.WhichOneof("value") == "simple_value" for v in values):
        # Fast path for TF1-style scalars (torch's add_scalar): data_compat would turn each into a
        # float32 scalar tensor holding exactly simple_value; reading it here is ~5x cheaper.
        step, wall_time = int(event.step), float(event.wall_time)
        return [Point("scalar", str(v.tag), step, wall_time, value=float(v.simple_value)) for v in values]
    from tensorboard import data_compat, dataclass_compat
    from tensorboard.compat.proto.event_pb2 import Event

    if not isinstance(event, Event):  # tensorboardX's own classes: the same wire format
        event = Event.FromString(event.SerializeToString())
    out: list[Point] = []
    for migrated in dataclass_compat.migrate_event(data_compat.migrate_event(event), initial_metadata):
        if migrated.WhichOneof("what") != "summary":
            continue
        for value in migrated.summary.value:
            out.extend(_points(value, int(migrated.step), float(migrated.wall_time)))
    return out


def _points(value: Any, step: int, wall_time: float) -> list[Point]:
    from tensorboard.util import tensor_util

    plugin = value.metadata.plugin_data.plugin_name
    tag = str(value.tag)
    if plugin == "hparams":
        params = _hparams(value.metadata.plugin_data.content)
        if params is None:
            return []  # the experiment's domains and the session's end: nothing a run stores
        return [Point("hparams", tag, step, wall_time, params=params)]
    if not value.HasField("tensor"):
        return [Point("skipped", tag, step, wall_time, reason=f"{value.WhichOneof('value') or 'empty'} values")]
    array = tensor_util.make_ndarray(value.tensor)
    if plugin == "scalars" or (plugin == "" and array.ndim == 0 and array.dtype.kind in "fiub"):
        return [Point("scalar", tag, step, wall_time, value=float(array))]
    if plugin == "histograms" and array.ndim == 2 and array.shape[1] == 3:
        if array.shape[0] == 0:
            return [Point("skipped", tag, step, wall_time, reason="empty histograms")]
        counts, edges = histogram_buckets(array.tolist())
        return [Point("histogram", tag, step, wall_time, counts=counts, edges=edges)]
    if plugin == "images" and array.ndim == 1 and array.shape[0] >= 3:
        # [width, height, image 1, image 2, ...]: one point per image (tag, tag/1, tag/2, ...).
        width, height = int(array[0]), int(array[1])
        return [
            Point("image", tag if i == 0 else f"{tag}/{i}", step, wall_time, data=bytes(data), width=width,
                  height=height)
            for i, data in enumerate(array[2:])
        ]  # fmt: skip
    if plugin == "text":
        flat = array.reshape(-1)
        text = "\n".join(x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x) for x in flat)
        return [Point("text", tag, step, wall_time, text=text)]
    return [Point("skipped", tag, step, wall_time, reason=f"{plugin or 'untyped tensor'} summaries")]


def _hparams(content: bytes) -> dict[str, Any] | None:
    """The hyperparameters of an hparams ``session_start_info`` (None for the other hparams records)."""
    from tensorboard.plugins.hparams import plugin_data_pb2

    data = plugin_data_pb2.HParamsPluginData.FromString(content)
    if data.WhichOneof("data") != "session_start_info":
        return None
    out: dict[str, Any] = {}
    for name, v in data.session_start_info.hparams.items():
        kind = v.WhichOneof("kind")
        if kind == "number_value":
            number = float(v.number_value)
            out[name] = int(number) if number.is_integer() and abs(number) < 2**53 else number
        elif kind in ("string_value", "bool_value"):
            out[name] = getattr(v, kind)
        else:
            out[name] = None
    return out


def histogram_buckets(triples: list[list[float]], max_bins: int = 512) -> tuple[list[float], list[float]]:
    """Turn TensorBoard's ``[left, right, count]`` buckets into ``(counts, edges)`` for :class:`rltrack.Histogram`.

    Gaps between buckets become empty bins; a bucket of zero width (TensorBoard's float32 edges can
    collapse) adds its count to its neighbour; more than ``max_bins`` bins are merged in runs of
    equal length. The total count is kept exactly.
    """
    counts: list[float] = []
    edges: list[float] = [triples[0][0]]
    carry = 0.0  # count of leading zero-width buckets, given to the first real bin
    for left, right, count in triples:
        if left > edges[-1]:
            counts.append(0.0)
            edges.append(left)
        if right > edges[-1]:
            counts.append(count + carry)
            edges.append(right)
            carry = 0.0
        elif counts:
            counts[-1] += count
        else:
            carry += count
    if not counts:  # every bucket had zero width: one bin around the value
        return [carry], [edges[0] - 0.5, edges[0] + 0.5]
    if len(counts) > max_bins:
        size = -(-len(counts) // max_bins)
        counts = [sum(counts[i : i + size]) for i in range(0, len(counts), size)]
        edges = edges[::size] if (len(edges) - 1) % size == 0 else [*edges[::size], edges[-1]]
    return counts, edges
