"""Decode serialized ROS 2 messages with rosbags typestores and flatten them into numeric values.

This module is the one decode path of rltrack_ros: the live node (``raw=True`` subscriptions) and
the bag importer both hand CDR bytes to :class:`Decoder`, so a topic mirrored live and the same
topic read from a bag give identical values. It imports no rclpy. How messages become keys (identity
over position, stamps, wide integers) is :mod:`rltrack_ros.flatten`; where definitions come from is
:mod:`rltrack_ros.msgdefs`. Both modules' public names are re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rosbags.typesys.store import Typestore

from .errors import DecodeError
from .flatten import (
    IDENTITY_FIELDS,
    IMAGE_TYPES,
    FieldFilter,
    IdentityRule,
    MessageFlattener,
    Number,
    OnInexact,
    parse_number,
)
from .msgdefs import DISTROS, canonical_type, learn_type, load_msg_dirs, make_typestore, srv_types

__all__ = [
    "DISTROS",
    "IDENTITY_FIELDS",
    "IMAGE_TYPES",
    "Decoder",
    "FieldFilter",
    "IdentityRule",
    "MessageFlattener",
    "Number",
    "canonical_type",
    "learn_type",
    "load_msg_dirs",
    "make_typestore",
    "parse_number",
    "srv_types",
    "topic_prefix",
]

class Decoder:
    """Deserialize CDR bytes with one typestore and hand out cached per-topic flatteners.

    Type names are taken in either spelling: ``pkg/msg/Name`` or the legacy ``pkg/Name``.
    """

    def __init__(self, typestore: Typestore) -> None:
        self.typestore = typestore
        self._flatteners: dict[tuple[str, str], MessageFlattener] = {}
        #: Per known type: rosbags' generated little-endian CDR reader and the message class; () turns it off.
        self._fast: dict[str, tuple[Callable[..., tuple[Any, int]], type] | tuple[()]] = {}

    def _fast_path(self, msgtype: str) -> tuple[Callable[..., tuple[Any, int]], type] | tuple[()]:
        """Return rosbags' compiled reader for ``msgtype`` and its class, or () when unknown.

        ``Typestore.deserialize_cdr`` looks the type up and checks the encapsulation header on
        every message; the import calls the same generated function with the same checks inlined.
        Anything unusual (big-endian CDR, an error, a rosbags without this layout) takes the full path.
        """
        try:
            msgdef = self.typestore.get_msgdef(msgtype)
            return msgdef.deserialize_cdr_le, msgdef.cls
        except Exception:  # unknown type or another rosbags layout: deserialize_cdr decides
            return ()

    @classmethod
    def for_distro(cls, distro: str = "jazzy", msg_dirs: Sequence[str | Path] = ()) -> Decoder:
        """Build a decoder on :func:`make_typestore`'s typestore."""
        return cls(make_typestore(distro, msg_dirs))

    def resolve(self, msgtype: str) -> str:
        """Return the name ``msgtype`` is known under: itself, else its ``pkg/msg/Name`` spelling."""
        if msgtype in self.typestore.fielddefs:
            return msgtype
        return canonical_type(msgtype)

    def knows(self, msgtype: str) -> bool:
        """Return whether the typestore can decode ``msgtype``."""
        return self.resolve(msgtype) in self.typestore.fielddefs

    def deserialize(self, raw: bytes | memoryview, msgtype: str) -> Any:
        """Return the decoded message (a rosbags dataclass).

        Raises:
            DecodeError: the type is unknown or the bytes do not decode as that type.
        """
        fast = self._fast.get(msgtype)
        if fast is None:
            fast = self._fast_path(msgtype)
            if fast:  # an unknown type is asked again: the live node may learn it later
                self._fast[msgtype] = fast
        failed = False
        if fast and len(raw) >= 4 and raw[0] == 0 and raw[1] == 1:
            func, cls = fast
            try:
                msg, pos = func(raw[4:], 0, cls, self.typestore)
            except Exception:  # the full path below raises the error with its message
                failed = True
            else:
                if pos + 4 + 3 >= len(raw):  # the size check deserialize_cdr makes
                    return msg
        try:
            msg = self.typestore.deserialize_cdr(raw, msgtype)
            if failed:  # rosbags decodes what the direct call could not: a layout this code does not know
                self._fast[msgtype] = ()
            return msg
        except KeyError:
            resolved = self.resolve(msgtype)
            if resolved != msgtype and resolved in self.typestore.fielddefs:
                return self.deserialize(raw, resolved)
            raise DecodeError(
                f"unknown message type {msgtype!r}; pass a folder of .msg/.srv files (--msg-dir, msg_dirs) "
                "that defines it"
            ) from None
        except Exception as err:  # rosbags raises struct/index/Serde errors on truncated bytes
            raise DecodeError(f"cannot decode {len(raw)} bytes as {msgtype!r}: {err!r}") from err

    def flattener(
        self,
        topic: str,
        msgtype: str,
        prefix: str,
        flt: FieldFilter,
        *,
        identity: Mapping[str, IdentityRule] | None = None,
        on_inexact: OnInexact | None = None,
    ) -> MessageFlattener:
        """Return the (cached) flattener for ``msgtype`` messages on ``topic``."""
        msgtype = self.resolve(msgtype)
        cache_key = (topic, msgtype)
        flat = self._flatteners.get(cache_key)
        if flat is None:
            flat = self._flatteners[cache_key] = MessageFlattener(
                self.typestore, msgtype, prefix, flt, identity=identity, on_inexact=on_inexact
            )
        return flat

    def flatten(
        self, raw: bytes | memoryview, msgtype: str, *, topic: str, flt: FieldFilter | None = None
    ) -> tuple[dict[str, Number], int | None]:
        """Decode and flatten in one call, keys prefixed by the topic without its leading slash."""
        flat = self.flattener(topic, msgtype, topic_prefix(topic), flt or FieldFilter())
        return flat(self.deserialize(raw, msgtype))

    def flatten_groups(
        self, raw: bytes | memoryview, msgtype: str, *, topic: str, flt: FieldFilter | None = None
    ) -> list[tuple[dict[str, Number], int | None]]:
        """Like :meth:`flatten`, keeping each stamped group apart (see :meth:`MessageFlattener.groups`)."""
        flat = self.flattener(topic, msgtype, topic_prefix(topic), flt or FieldFilter())
        return flat.groups(self.deserialize(raw, msgtype))


def topic_prefix(topic: str) -> str:
    """Return the default key prefix of ``topic``: the name without its leading slash."""
    return topic.strip("/")
