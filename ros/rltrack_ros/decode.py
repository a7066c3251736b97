"""Decode serialized ROS 2 messages with rosbags typestores and flatten them into numeric values.

This module is the one decode path of rltrack_ros: the live node (``raw=True`` subscriptions) and
the bag importer both hand CDR bytes to :class:`Decoder`, so a topic mirrored live and the same
topic read from a bag give identical values. It imports no rclpy.

Keys are ``<prefix>/<field path>`` with ``/`` between fields, e.g. ``odom/twist/twist/linear/x``;
arrays are indexed (``imu/orientation_covariance/4``), ``sensor_msgs/JointState`` is keyed by joint
name (``joint_states/effort/left_knee``), ``diagnostic_msgs/DiagnosticArray`` numeric key/values
become ``diagnostics/<status name>/<key>``. The top-level ``header.stamp`` becomes ``t_ns`` and is
not a value; other ``builtin_interfaces`` Time/Duration fields become float seconds; bools become
0/1; strings are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from operator import attrgetter
from pathlib import Path
from typing import Any

from rosbags.interfaces import Nodetype
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from .errors import DecodeError

__all__ = [
    "DISTROS",
    "IMAGE_TYPES",
    "Decoder",
    "FieldFilter",
    "MessageFlattener",
    "Number",
    "learn_type",
    "load_msg_dirs",
    "make_typestore",
    "parse_number",
    "topic_prefix",
]

Number = int | float

#: Typestores by ROS 2 distribution name. Bags that embed their definitions (mcap, Iron+ sqlite3)
#: use those instead; this choice matters for live topics and Humble-era sqlite3 bags.
DISTROS: dict[str, Stores] = {
    "humble": Stores.ROS2_HUMBLE,
    "iron": Stores.ROS2_IRON,
    "jazzy": Stores.ROS2_JAZZY,
    "kilted": Stores.ROS2_KILTED,
    "latest": Stores.LATEST,
}

IMAGE_TYPES = frozenset({"sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage"})
_JOINT_STATE = "sensor_msgs/msg/JointState"
_DIAGNOSTIC_ARRAY = "diagnostic_msgs/msg/DiagnosticArray"
_HEADER = "std_msgs/msg/Header"
_EMPTY_MEMBER = "structure_needs_at_least_one_member"  # rosidl's filler in empty messages
_TIME_TYPES = frozenset({"builtin_interfaces/msg/Time", "builtin_interfaces/msg/Duration"})
_NUMERIC = frozenset(
    {
        "bool", "byte", "char", "float32", "float64", "int8", "int16", "int32", "int64",
        "uint8", "uint16", "uint32", "uint64", "octet",
    }
)  # fmt: skip
_UNSAFE_KEY_CHARS = re.compile(r"[^A-Za-z0-9_.\-/]+")


def make_typestore(distro: str = "jazzy", msg_dirs: Iterable[str | Path] = ()) -> Typestore:
    """Return a typestore for ``distro`` with the ``.msg`` files under ``msg_dirs`` registered.

    Raises:
        DecodeError: ``distro`` is unknown or a ``.msg`` file cannot be parsed.
    """
    store = DISTROS.get(distro.lower())
    if store is None:
        raise DecodeError(f"unknown ROS distro {distro!r}; use one of {sorted(DISTROS)}")
    typestore = get_typestore(store)
    load_msg_dirs(typestore, msg_dirs)
    return typestore


def load_msg_dirs(typestore: Typestore, dirs: Iterable[str | Path]) -> list[str]:
    """Register every ``<pkg>/msg/<Name>.msg`` found under ``dirs`` in ``typestore``.

    A dir may be a package folder (holding ``msg/``), a ``share/`` tree of packages, or a ``msg/``
    folder itself. Returns the registered type names (``pkg/msg/Name``).

    Raises:
        DecodeError: a dir does not exist or a ``.msg`` file cannot be parsed.
    """
    dirs = list(dirs)
    types: dict[str, Any] = {}
    for root in (Path(d) for d in dirs):
        if not root.is_dir():
            raise DecodeError(f"message folder {str(root)!r} does not exist; pass a folder holding <pkg>/msg/*.msg")
        files = [root / f for f in sorted(root.glob("*.msg"))] if root.name == "msg" else []
        files += sorted(p for p in root.rglob("msg/*.msg") if p not in files)
        for path in files:
            name = f"{path.parent.parent.name}/msg/{path.stem}"
            try:
                types.update(get_types_from_msg(path.read_text(encoding="utf-8"), name))
            except Exception as err:  # rosbags raises its own parser errors; name the file instead
                raise DecodeError(f"cannot parse message definition {str(path)!r}: {err}") from err
    if types:
        try:
            typestore.register(types)
        except Exception as err:  # rosbags' TypesysError: a type already defined differently
            raise DecodeError(f"cannot register message definitions from {[str(d) for d in dirs]!r}: {err}") from err
    return sorted(types)


def learn_type(typestore: Typestore, msgtype: str, share_dirs: Iterable[str | Path]) -> bool:
    """Register ``msgtype`` (and the types it uses) from ``<share>/<pkg>/msg/<Name>.msg`` files.

    This is how the live node decodes a robot's custom messages: their definitions sit in the
    ament index (``$AMENT_PREFIX_PATH/*/share``). Returns whether ``msgtype`` is now known.
    """
    shares = [Path(d) for d in share_dirs]
    types: dict[str, Any] = {}
    todo = [msgtype]
    while todo:
        name = todo.pop()
        if name in types or name in typestore.fielddefs:
            continue
        parts = name.split("/")
        if len(parts) != 3:
            return False
        found = next((f for d in shares if (f := d / parts[0] / "msg" / f"{parts[2]}.msg").is_file()), None)
        if found is None:
            return False
        try:
            parsed = get_types_from_msg(found.read_text(encoding="utf-8"), name)
        except Exception as err:  # rosbags parser errors: name the file
            raise DecodeError(f"cannot parse message definition {str(found)!r}: {err}") from err
        types.update(parsed)
        for _, fields in parsed.values():
            for _, (nodetype, detail) in fields:
                sub = detail[0] if nodetype in (Nodetype.ARRAY, Nodetype.SEQUENCE) else (nodetype, detail)
                if sub[0] == Nodetype.NAME:
                    todo.append(str(sub[1]))
    try:
        typestore.register(types)
    except Exception as err:  # rosbags' TypesysError: already defined differently
        raise DecodeError(f"cannot register {msgtype!r} from {[str(d) for d in shares]!r}: {err}") from err
    return msgtype in typestore.fielddefs


@dataclass(frozen=True)
class FieldFilter:
    """Which fields of a topic become values, and under which keys.

    Globs match the field path (``twist/twist/linear/x``; ``*`` also crosses ``/``). A field is kept
    when it matches an ``include`` glob (or ``include`` is empty) and no ``exclude`` glob; a field
    named in ``rename`` is always kept, under the key given there (absolute, no topic prefix).
    Arrays longer than ``max_array`` are skipped.
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


def _sanitize(name: str) -> str:
    """Make a free-text name (diagnostic status or key, joint name) usable as a key segment."""
    cleaned = _UNSAFE_KEY_CHARS.sub("_", name.strip()).strip("/_")
    return re.sub(r"/{2,}", "/", cleaned) or "_"


class _KeyCache:
    """Field path -> key (or None) for paths only known at run time (indices, joint names)."""

    __slots__ = ("_cache", "_filter", "_prefix")

    def __init__(self, prefix: str, flt: FieldFilter) -> None:
        self._prefix = prefix
        self._filter = flt
        self._cache: dict[str, str | None] = {}

    def __call__(self, path: str) -> str | None:
        try:
            return self._cache[path]
        except KeyError:
            key = self._cache[path] = self._filter.key(self._prefix, path)
            return key


Emit = Callable[[Any, dict[str, Number]], None]


class MessageFlattener:
    """Turn decoded messages of one type on one topic into ``({key: number}, t_ns | None)``.

    The plan is built once per (topic, type) from the typestore's field definitions: scalar fields
    are read with one C-level ``attrgetter``; arrays, sequences and special types are emitted per
    message. Build it through :meth:`Decoder.flattener`.
    """

    def __init__(
        self, typestore: Typestore, msgtype: str, prefix: str, flt: FieldFilter, *, _path: str = ""
    ) -> None:
        self.msgtype = msgtype
        self._typestore = typestore
        self._prefix = prefix
        self._filter = flt
        self._keys = _KeyCache(prefix, flt)
        self._scalar_keys: list[str] = []
        self._scalar_attrs: list[str] = []
        self._bools: list[int] = []
        self._emitters: list[Emit] = []
        self._stamp: Callable[[Any], tuple[int, int]] | None = None
        if msgtype in IMAGE_TYPES:
            pass  # images go to video (images.py), their scalars are not telemetry
        elif msgtype == _DIAGNOSTIC_ARRAY:
            self._emitters.append(self._diagnostics)
            self._stamp = attrgetter("header.stamp.sec", "header.stamp.nanosec")
        else:
            self._plan(msgtype, _path, (), top=not _path)
        self._get_scalars = attrgetter(*self._scalar_attrs) if self._scalar_attrs else None
        self._single = len(self._scalar_attrs) == 1
        simple = self._single and not self._bools and not self._emitters and self._stamp is None
        self._simple_key = self._scalar_keys[0] if simple else None

    def __call__(self, msg: Any) -> tuple[dict[str, Number], int | None]:
        """Return the message's values and its header stamp in ns (None when absent or zero)."""
        if self._simple_key is not None:
            # One plain number and nothing else (std_msgs/Float32 rewards, ...): the common fast case.
            return {self._simple_key: self._get_scalars(msg)}, None  # type: ignore[misc, dict-item]  # set with key
        out: dict[str, Number] = {}
        self.emit(msg, out)
        t_ns = None
        if self._stamp is not None:
            sec, nsec = self._stamp(msg)
            if sec or nsec:
                t_ns = sec * 1_000_000_000 + nsec
        return out, t_ns

    def emit(self, msg: Any, out: dict[str, Number]) -> None:
        """Add the message's values to ``out``."""
        if self._get_scalars is not None:
            got = self._get_scalars(msg)
            vals: list[Any] = [got] if self._single else list(got)
            for i in self._bools:
                vals[i] = int(vals[i])
            out.update(zip(self._scalar_keys, vals, strict=False))
        for emitter in self._emitters:
            emitter(msg, out)

    # -- plan ---------------------------------------------------------------------------------

    def _fields(self, msgtype: str) -> list[tuple[str, tuple[Any, Any]]]:
        try:
            return list(self._typestore.fielddefs[msgtype][1])
        except KeyError:
            raise DecodeError(
                f"unknown message type {msgtype!r}; pass a folder of .msg files (msg_dirs) that defines it"
            ) from None

    def _plan(self, msgtype: str, base: str, attrs: tuple[str, ...], *, top: bool) -> None:
        for name, (nodetype, detail) in self._fields(msgtype):
            path = f"{base}/{name}" if base else name
            attr = (*attrs, name)
            if nodetype == Nodetype.BASE:
                if detail[0] in _NUMERIC and name != _EMPTY_MEMBER:
                    self._add_scalar(path, ".".join(attr), is_bool=detail[0] == "bool")
            elif nodetype == Nodetype.NAME:
                if detail == _HEADER:
                    if top and not attrs:
                        self._stamp = attrgetter(f"{name}.stamp.sec", f"{name}.stamp.nanosec")
                elif detail in _TIME_TYPES:
                    self._add_time(path, ".".join(attr), detail)
                else:
                    self._plan(detail, path, attr, top=False)
            elif nodetype in (Nodetype.ARRAY, Nodetype.SEQUENCE):
                self._plan_array(path, ".".join(attr), detail, fixed=nodetype == Nodetype.ARRAY, owner=msgtype)

    def _add_scalar(self, path: str, attr: str, *, is_bool: bool) -> None:
        key = self._keys(path)
        if key is None:
            return
        if is_bool:
            self._bools.append(len(self._scalar_attrs))
        self._scalar_keys.append(key)
        self._scalar_attrs.append(attr)

    def _add_time(self, path: str, attr: str, msgtype: str) -> None:
        key = self._keys(path)
        if key is None:
            return
        del msgtype  # Time and Duration share the (sec, nanosec) layout in ROS 2
        get = attrgetter(f"{attr}.sec", f"{attr}.nanosec")

        def emit(msg: Any, out: dict[str, Number]) -> None:
            sec, nsec = get(msg)
            out[key] = sec + nsec * 1e-9

        self._emitters.append(emit)

    def _plan_array(self, path: str, attr: str, detail: Any, *, fixed: bool, owner: str) -> None:
        (subtype, subdetail), length = detail
        if fixed and length > self._filter.max_array:
            return
        get = attrgetter(attr)
        limit = self._filter.max_array
        keys = self._keys
        if subtype == Nodetype.BASE:
            if subdetail[0] not in _NUMERIC:
                return  # string arrays carry names, not values
            if owner == _JOINT_STATE and path in ("position", "velocity", "effort"):
                self._emitters.append(self._joint_emitter(path))
                return
            if fixed:
                self._plan_fixed(path, get, length)
                return

            by_length: dict[int, list[tuple[int, str]]] = {}

            def emit_numbers(msg: Any, out: dict[str, Number]) -> None:
                arr = get(msg)
                n = len(arr)
                if n > limit:
                    return
                kept = by_length.get(n)
                if kept is None:  # keys depend only on the length: filter once per length
                    kept = by_length[n] = [(i, k) for i in range(n) if (k := keys(f"{path}/{i}")) is not None]
                items = arr.tolist() if hasattr(arr, "tolist") else list(arr)
                for i, key in kept:
                    value = items[i]
                    out[key] = int(value) if isinstance(value, bool) else value

            self._emitters.append(emit_numbers)
        elif subtype == Nodetype.NAME:
            subs: dict[int, MessageFlattener] = {}

            def emit_messages(msg: Any, out: dict[str, Number]) -> None:
                seq = get(msg)
                if len(seq) > limit:
                    return
                for i, item in enumerate(seq):
                    sub = subs.get(i)
                    if sub is None:
                        sub = subs[i] = MessageFlattener(
                            self._typestore, subdetail, self._prefix, self._filter, _path=f"{path}/{i}"
                        )
                    sub.emit(item, out)

            self._emitters.append(emit_messages)

    def _plan_fixed(self, path: str, get: Callable[[Any], Any], length: int) -> None:
        # Fixed arrays have known indices: filter them now, so an excluded covariance costs nothing.
        kept = [(i, key) for i in range(length) if (key := self._keys(f"{path}/{i}")) is not None]
        if not kept:
            return

        def emit(msg: Any, out: dict[str, Number]) -> None:
            arr = get(msg)
            items = arr.tolist() if hasattr(arr, "tolist") else list(arr)
            for i, key in kept:
                value = items[i]
                out[key] = int(value) if isinstance(value, bool) else value

        self._emitters.append(emit)

    def _joint_emitter(self, field_name: str) -> Emit:
        get = attrgetter(field_name)
        keys = self._keys
        # Joint names rarely change: filter and build the keys once per distinct name list.
        by_names: dict[tuple[str, ...], tuple[list[str | None], bool]] = {}

        def emit(msg: Any, out: dict[str, Number]) -> None:
            values = get(msg).tolist()
            names = tuple(msg.name)
            if len(names) != len(values):
                names = tuple(str(i) for i in range(len(values)))  # unnamed or malformed: use indices
            plan = by_names.get(names)
            if plan is None:
                if len(by_names) >= 64:
                    by_names.clear()  # names that change every message: stay bounded
                planned = [keys(f"{field_name}/{_sanitize(name)}") for name in names]
                plan = by_names[names] = (planned, None not in planned)
            planned_keys, all_kept = plan
            if all_kept:
                out.update(zip(planned_keys, values, strict=True))  # type: ignore[arg-type]  # no None
            else:
                for key, value in zip(planned_keys, values, strict=True):
                    if key is not None:
                        out[key] = value

        return emit

    def _diagnostics(self, msg: Any, out: dict[str, Number]) -> None:
        keys = self._keys
        for status in msg.status:
            base = _sanitize(status.name)
            key = keys(f"{base}/level")
            if key is not None:
                out[key] = int(status.level)
            for kv in status.values:
                number = parse_number(kv.value)
                if number is None:
                    continue
                key = keys(f"{base}/{_sanitize(kv.key)}")
                if key is not None:
                    out[key] = number


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


class Decoder:
    """Deserialize CDR bytes with one typestore and hand out cached per-topic flatteners."""

    def __init__(self, typestore: Typestore) -> None:
        self.typestore = typestore
        self._flatteners: dict[tuple[str, str], MessageFlattener] = {}

    @classmethod
    def for_distro(cls, distro: str = "jazzy", msg_dirs: Sequence[str | Path] = ()) -> Decoder:
        """Build a decoder on :func:`make_typestore`'s typestore."""
        return cls(make_typestore(distro, msg_dirs))

    def knows(self, msgtype: str) -> bool:
        """Return whether the typestore can decode ``msgtype``."""
        return msgtype in self.typestore.fielddefs

    def deserialize(self, raw: bytes | memoryview, msgtype: str) -> Any:
        """Return the decoded message (a rosbags dataclass).

        Raises:
            DecodeError: the type is unknown or the bytes do not decode as that type.
        """
        try:
            return self.typestore.deserialize_cdr(raw, msgtype)
        except KeyError:
            raise DecodeError(
                f"unknown message type {msgtype!r}; pass a folder of .msg files (msg_dirs) that defines it"
            ) from None
        except Exception as err:  # rosbags raises struct/index/Serde errors on truncated bytes
            raise DecodeError(f"cannot decode {len(raw)} bytes as {msgtype!r}: {err!r}") from err

    def flattener(self, topic: str, msgtype: str, prefix: str, flt: FieldFilter) -> MessageFlattener:
        """Return the (cached) flattener for ``msgtype`` messages on ``topic``."""
        cache_key = (topic, msgtype)
        flat = self._flatteners.get(cache_key)
        if flat is None:
            flat = self._flatteners[cache_key] = MessageFlattener(self.typestore, msgtype, prefix, flt)
        return flat

    def flatten(
        self, raw: bytes | memoryview, msgtype: str, *, topic: str, flt: FieldFilter | None = None
    ) -> tuple[dict[str, Number], int | None]:
        """Decode and flatten in one call, keys prefixed by the topic without its leading slash."""
        flat = self.flattener(topic, msgtype, topic_prefix(topic), flt or FieldFilter())
        return flat(self.deserialize(raw, msgtype))


def topic_prefix(topic: str) -> str:
    """Return the default key prefix of ``topic``: the name without its leading slash."""
    return topic.strip("/")
