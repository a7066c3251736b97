"""The types a recording needs: its own definitions, the distro's for the rest, one bad schema never all.

Definitions stored in the recording (MCAP schemas, Iron+ sqlite3 ``message_definitions``, ROS 1
connection headers) are parsed one type at a time, so a definition rosbags cannot parse (Jazzy's
service-event schemas, for instance) marks only that type as skipped. Types without a stored
definition come from the configured distro plus the ``msg_dirs`` folders.

ROS 1 messages are converted to CDR the way ``rosbags.convert`` writes the rosbag2 copy of the bag
(ROS 2 ``Header`` without ``seq``, ``tf/tfMessage`` renamed to ``tf2_msgs/msg/TFMessage``), so a
ROS 1 bag and its conversion give the same keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from rosbags.typesys import Stores, get_types_from_idl, get_types_from_msg, get_typestore

from .decode import make_typestore
from .errors import BagImportError, DecodeError
from .sqlitescan import StoredConn

__all__ = ["BagTypes", "build_types"]

_IDL_SEP = "=" * 80 + "\n"


@dataclass
class BagTypes:
    """A typestore for the recording's messages plus the types that cannot be decoded."""

    store: Any  # rosbags Typestore decoding the CDR messages yielded
    bad: dict[str, str] = field(default_factory=dict)  # type -> why its topics are skipped
    rename: dict[str, str] = field(default_factory=dict)  # ROS 1 type -> type of the CDR message
    converter: Callable[[str, bytes], Any] | None = None  # ROS 1 bytes -> CDR bytes


def _short(err: BaseException, limit: int = 160) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _parse(msgtype: str, encoding: str, text: str) -> dict[str, Any]:
    if encoding in ("ros2msg", "ros1msg"):
        return dict(get_types_from_msg(text, msgtype))
    if encoding in ("ros2idl", "omgidl"):
        typs: dict[str, Any] = {}
        if text.startswith(f"{_IDL_SEP}IDL: "):
            for part in text.split(_IDL_SEP)[1:]:
                typs.update(get_types_from_idl(part.split("\n", 1)[1]))
        else:
            typs.update(get_types_from_idl(text))
        return typs
    raise ValueError(f"unknown definition encoding {encoding!r}")


def _stored(conns: Iterable[StoredConn]) -> tuple[dict[str, dict[str, Any]], dict[str, str], set[str]]:
    """Parse each type's stored definition once; return (types by message type, bad types, types with none)."""
    parsed: dict[str, dict[str, Any]] = {}
    bad: dict[str, str] = {}
    missing: set[str] = set()
    for c in conns:
        if c.type in parsed or c.type in bad or c.type in missing:
            continue
        if not c.msgdef_encoding or (not c.msgdef.strip() and c.msgdef_encoding != "ros2msg"):
            missing.add(c.type)
            continue
        try:
            parsed[c.type] = _parse(c.type, c.msgdef_encoding, c.msgdef)
        except Exception as err:  # rosbags' parser errors
            bad[c.type] = f"its schema cannot be parsed ({_short(err)})"
    return parsed, bad, missing


def _isolate(parsed: dict[str, dict[str, Any]], bad: dict[str, str]) -> dict[str, Any]:
    """Merge the parsed definitions, leaving out each one that does not register on its own."""
    typs: dict[str, Any] = {}
    for msgtype, defs in parsed.items():
        try:
            get_typestore(Stores.EMPTY).register(defs)
        except Exception as err:  # rosbags' TypesysError
            bad[msgtype] = f"its schema cannot be used ({_short(err)})"
            continue
        typs.update(defs)
    return typs


def _register(typs: dict[str, Any], default: Any | None) -> Any:
    """A store with ``typs`` over ``default`` (the bag's own definitions win)."""
    if default is None:
        store = get_typestore(Stores.EMPTY)
        store.register(typs)
        return store
    try:
        # Common case: the bag agrees with the distro; registering only adds what the distro lacks.
        default.register(typs)
        return default
    except Exception:  # rosbags' TypesysError: some type differs between bag and distro
        merged: dict[str, Any] = dict(default.fielddefs)
        merged.update(typs)
        store = get_typestore(Stores.EMPTY)
        store.register(merged)
        return store


def build_types(conns: list[StoredConn], distro: str, msg_dirs: tuple[str, ...], *, ros1: bool = False) -> BagTypes:
    """Build the decoding types for ``conns`` (the connections whose topics will be read).

    Raises:
        BagImportError: the distro or a ``msg_dirs`` folder is unusable (names it).
    """
    parsed, bad, missing = _stored(conns)
    typs: dict[str, Any] = {}
    for defs in parsed.values():
        typs.update(defs)
    if ros1:
        try:
            return _ros1_types(typs, bad)
        except Exception:  # an unusable definition: find which, keep the others
            return _ros1_types(_isolate(parsed, bad), bad)
    need_default = bool(missing or msg_dirs)
    try:
        return BagTypes(_register(typs, _default(distro, msg_dirs) if need_default else None), bad)
    except BagImportError:
        raise
    except Exception:  # an unusable definition: find which, keep the others
        typs = _isolate(parsed, bad)
    try:
        return BagTypes(_register(typs, _default(distro, msg_dirs) if need_default else None), bad)
    except Exception as err:  # conflicting definitions between types of the bag
        raise BagImportError(f"the recording's type definitions conflict: {_short(err)}") from err


def _default(distro: str, msg_dirs: tuple[str, ...]) -> Any:
    try:
        return make_typestore(distro, msg_dirs)
    except DecodeError as err:
        raise BagImportError(str(err)) from err


def _ros1_types(typs: dict[str, Any], bad: dict[str, str]) -> BagTypes:
    from rosbags.convert.converter import STATIC_MSGTYPE_RENAMES, generate_message_converter

    src = get_typestore(Stores.EMPTY)
    src.register(typs)
    header = get_typestore(Stores.ROS2_FOXY).fielddefs["std_msgs/msg/Header"]
    dst = get_typestore(Stores.EMPTY)
    dst.register({**typs, "std_msgs/msg/Header": header})
    rename = {}
    for old, new in STATIC_MSGTYPE_RENAMES.items():
        if old in typs:
            rename[old] = new
            if new not in dst.fielddefs:  # as rosbags.convert does: copy the ROS 1 definition
                copied = dict(get_types_from_msg(src.generate_msgdef(old, ros_version=2)[0], new))
                copied.pop("std_msgs/msg/Header", None)
                dst.register(copied)
    cache: dict[str, Any] = {}
    converters: dict[str, Callable[[bytes], Any]] = {}

    def convert(msgtype: str, data: bytes) -> Any:
        fn = converters.get(msgtype)
        if fn is None:
            fn = converters[msgtype] = generate_message_converter(
                src, dst, msgtype, rename.get(msgtype, msgtype), cache, src_is2=False, dst_is2=True
            )
        return fn(data)

    return BagTypes(dst, bad, rename, convert)
