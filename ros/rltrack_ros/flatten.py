"""Flatten decoded ROS 2 messages into numeric values keyed by field path (used by :class:`Decoder`).

Keys are ``<prefix>/<field path>`` with ``/`` between fields, e.g. ``odom/twist/twist/linear/x``;
``builtin_interfaces`` Time/Duration fields become float seconds; bools become 0/1; strings are
skipped. Arrays of numbers are indexed (``imu/orientation_covariance/4``).

Identity over position: ``sensor_msgs/JointState`` is keyed by joint name
(``joint_states/effort/left_knee``), ``diagnostic_msgs/DiagnosticArray`` numeric key/values become
``diagnostics/<status name>/<key>``, and an array of messages whose element has an identity field
is keyed by it instead of its index: ``geometry_msgs/TransformStamped`` by parent and child frame
(``/tf`` gives ``tf/odom/base_link/translation/x``), any other element by its ``name``,
``child_frame_id``, ``frame_id`` or ``id`` field (:data:`IDENTITY_FIELDS`; per type configurable,
see :class:`IdentityRule`). When that array is the message's only field its name is left out of the
key (``tf/...``, not ``tf/transforms/...``).

Stamps: the top-level ``header.stamp`` is the message's ``t_ns`` and not a value. The header
stamp of an identity-keyed element is the ``t_ns`` of that element's values (each transform of a
``/tf`` message at its own stamp; :meth:`MessageFlattener.groups` returns one group per stamp).
Any other nested header (each ``nav_msgs/Path`` pose's, a header inside a custom message) keeps
its stamp as a float-seconds value ``<path>/header/stamp``, skipped when zero. A zero stamp is no
stamp.

Integers: values are stored as float64, so an ``int64``/``uint64`` beyond 2**53 that float64 cannot
hold exactly is reported through ``on_inexact`` (the mirror warns once per key and counts it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from keyword import iskeyword
from operator import attrgetter
from typing import Any

from rosbags.interfaces import Nodetype
from rosbags.typesys.store import Typestore

from .errors import DecodeError
from .fieldrules import (
    DEFAULT_IDENTITY,
    IDENTITY_FIELDS,
    FieldFilter,
    IdentityRule,
    Number,
    OnInexact,
    parse_number,
)
from .fieldrules import sanitize as _sanitize

__all__ = [
    "DEFAULT_IDENTITY",
    "IDENTITY_FIELDS",
    "IMAGE_TYPES",
    "FieldFilter",
    "IdentityRule",
    "MessageFlattener",
    "Number",
    "OnInexact",
    "parse_number",
]

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
_WIDE = frozenset({"int64", "uint64"})  # integers float64 cannot always hold exactly
_EXACT = 2**53  # every integer up to this magnitude is exact in float64
#: Elements of one identity-keyed array kept per message. ``max_array`` does not apply to these
#: arrays: their keys are names, not positions, and a robot's /tf_static (one message with every
#: fixed frame) or /tf often holds more than 64 transforms.
MAX_IDENTITIES = 4096

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
#: Values of one message grouped by the stamp they carry: ``{stamp or None: {key: number}}``.
Groups = dict[int | None, dict[str, Number]]


class MessageFlattener:
    """Turn decoded messages of one type on one topic into values and their stamps.

    The plan is built once per (topic, type) from the typestore's field definitions: scalar fields
    are read with one C-level ``attrgetter``; arrays, sequences and special types are emitted per
    message. Build it through :meth:`Decoder.flattener`.
    """

    def __init__(
        self,
        typestore: Typestore,
        msgtype: str,
        prefix: str,
        flt: FieldFilter,
        *,
        identity: Mapping[str, IdentityRule] | None = None,
        on_inexact: OnInexact | None = None,
        _path: str = "",
        _element: IdentityRule | None = None,
        _root: MessageFlattener | None = None,
    ) -> None:
        self.msgtype = msgtype
        self._typestore = typestore
        self._prefix = prefix
        self._filter = flt
        self._identity = {**DEFAULT_IDENTITY, **(identity or {})}
        self._on_inexact = on_inexact
        self._root = _root or self
        self._groups: Groups | None = None  # set on the root while a message is being flattened
        self._keys = _KeyCache(prefix, flt)
        self._scalar_keys: list[str] = []
        self._scalar_attrs: list[str] = []
        self._bools: list[int] = []
        self._wide: list[int] = []
        self._emitters: list[Emit] = []
        self._stamp: Callable[[Any], tuple[int, int]] | None = None
        self._may_group = False  # an emitter here may file values under an element's own stamp
        if msgtype in IMAGE_TYPES:
            pass  # images go to video (images.py), their scalars are not telemetry
        elif msgtype == _DIAGNOSTIC_ARRAY:
            self._emitters.append(self._diagnostics)
            self._stamp = attrgetter("header.stamp.sec", "header.stamp.nanosec")
        elif _element is not None:
            self._plan_element(msgtype, _path, _element)
        else:
            self._plan(msgtype, _path, (), top=not _path)
        self._get_scalars = attrgetter(*self._scalar_attrs) if self._scalar_attrs else None
        self._single = len(self._scalar_attrs) == 1
        simple = self._single and not self._bools and not self._wide and not self._emitters and self._stamp is None
        self._simple_key = self._scalar_keys[0] if simple else None
        self._compiled = None if self._may_group or _root is not None else self._compile()

    def __call__(self, msg: Any) -> tuple[dict[str, Number], int | None]:
        """Return all the message's values and its header stamp in ns (None when absent or zero).

        Values of identity-keyed elements with their own stamps are included; use :meth:`groups`
        to keep each at its stamp.
        """
        if self._simple_key is not None:
            return {self._simple_key: self._get_scalars(msg)}, None  # type: ignore[misc, dict-item]  # set with key
        groups = self.groups(msg)
        main, stamp = groups[0]
        if len(groups) == 1:
            return main, stamp
        merged = dict(main)
        for values, _ in groups[1:]:
            merged.update(values)
        return merged, stamp

    def groups(self, msg: Any) -> list[tuple[dict[str, Number], int | None]]:
        """Return ``[(values, stamp)]``, one entry per stamp the message carries.

        First the message's own values (stamp: its header's, or None), then one entry per distinct
        stamp of identity-keyed elements (each ``/tf`` transform at its own stamp).
        """
        if self._simple_key is not None:
            # One plain number and nothing else (std_msgs/Float32 rewards, ...): the common fast case.
            return [({self._simple_key: self._get_scalars(msg)}, None)]  # type: ignore[misc, dict-item]
        if self._compiled is not None:
            return self._compiled(msg)
        out: dict[str, Number] = {}
        groups: Groups = {}
        self._groups = groups
        try:
            self.emit(msg, out)
        finally:
            self._groups = None
        main = (out, self._stamp_of(msg))
        if not groups:
            return [main]
        result = [main]
        for stamp, values in groups.items():
            if stamp is None or stamp == main[1]:
                out.update(values)
            else:
                result.append((values, stamp))
        return result

    def _stamp_of(self, msg: Any) -> int | None:
        if self._stamp is None:
            return None
        sec, nsec = self._stamp(msg)
        return sec * 1_000_000_000 + nsec if sec or nsec else None

    def emit(self, msg: Any, out: dict[str, Number]) -> None:
        """Add the message's values to ``out``."""
        if self._get_scalars is not None:
            got = self._get_scalars(msg)
            vals: list[Any] = [got] if self._single else list(got)
            for i in self._bools:
                vals[i] = int(vals[i])
            for i in self._wide:
                value = vals[i]
                if (value > _EXACT or value < -_EXACT) and float(value) != value:
                    self._inexact(self._scalar_keys[i], value)
            out.update(zip(self._scalar_keys, vals, strict=False))
        for emitter in self._emitters:
            emitter(msg, out)

    def _compile(self) -> Callable[[Any], list[tuple[dict[str, Number], int | None]]] | None:
        """Compile :meth:`groups` of a flattener without stamped elements into one function.

        The generated code does what :meth:`emit` and :meth:`_stamp_of` do, in the same order
        (scalars with their bool and int64 handling, then each emitter, then the stamp), with
        plain attribute reads instead of a tuple, a list and a zip per message: the import's hot
        path. Keys and emitters enter as constants, never as source text. Returns None (the
        generic path is used) when a field name is not a plain identifier.
        """
        attrs = self._scalar_attrs
        if any(not part.isidentifier() or iskeyword(part) for attr in attrs for part in attr.split(".")):
            return None
        env: dict[str, Any] = {"_E": _EXACT, "_inexact": self._inexact, "_stamp": self._stamp}
        body: list[str] = []
        items: list[str] = []
        bools, wide = set(self._bools), set(self._wide)
        for i, (key, attr) in enumerate(zip(self._scalar_keys, attrs, strict=True)):
            env[f"_k{i}"] = key
            if i in wide:
                body.append(f"_w{i} = msg.{attr}")
                body.append(f"if (_w{i} > _E or _w{i} < -_E) and float(_w{i}) != _w{i}: _inexact(_k{i}, _w{i})")
                items.append(f"_k{i}: _w{i}")
            else:
                items.append(f"_k{i}: int(msg.{attr})" if i in bools else f"_k{i}: msg.{attr}")
        body.append("out = {" + ", ".join(items) + "}")
        for j, emitter in enumerate(self._emitters):
            env[f"_e{j}"] = emitter
            body.append(f"_e{j}(msg, out)")
        if self._stamp is None:
            body.append("return [(out, None)]")
        else:
            body.append("sec, nsec = _stamp(msg)")
            body.append("return [(out, sec * 1_000_000_000 + nsec if sec or nsec else None)]")
        source = "def groups(msg):\n" + "".join(f"    {line}\n" for line in body)
        exec(compile(source, f"<rltrack_ros flatten {self.msgtype}>", "exec"), env)  # constants only, see above
        compiled: Callable[[Any], list[tuple[dict[str, Number], int | None]]] = env["groups"]
        return compiled

    def _inexact(self, key: str, value: int) -> None:
        report = self._root._on_inexact
        if report is not None:
            report(key, int(value))

    # -- plan ---------------------------------------------------------------------------------

    def _fields(self, msgtype: str) -> list[tuple[str, tuple[Any, Any]]]:
        try:
            return list(self._typestore.fielddefs[msgtype][1])
        except KeyError:
            raise DecodeError(
                f"unknown message type {msgtype!r}; pass a folder of .msg/.srv files (--msg-dir, msg_dirs) "
                "that defines it"
            ) from None

    def _plan(
        self, msgtype: str, base: str, attrs: tuple[str, ...], *, top: bool, skip: frozenset[str] = frozenset()
    ) -> None:
        fields = self._fields(msgtype)
        for name, (nodetype, detail) in fields:
            if name in skip:
                continue
            path = f"{base}/{name}" if base else name
            attr = (*attrs, name)
            if nodetype == Nodetype.BASE:
                if detail[0] in _NUMERIC and name != _EMPTY_MEMBER:
                    self._add_scalar(path, ".".join(attr), kind=detail[0])
            elif nodetype == Nodetype.NAME:
                if detail == _HEADER:
                    if top and not attrs:
                        self._stamp = attrgetter(f"{name}.stamp.sec", f"{name}.stamp.nanosec")
                    else:
                        self._add_time(f"{path}/stamp", f"{'.'.join(attr)}.stamp", skip_zero=True)
                elif detail in _TIME_TYPES:
                    self._add_time(path, ".".join(attr))
                else:
                    self._plan(detail, path, attr, top=False)
            elif nodetype in (Nodetype.ARRAY, Nodetype.SEQUENCE):
                only = top and not attrs and len(fields) == 1  # TFMessage: the key leaves out 'transforms'
                self._plan_array(
                    path, ".".join(attr), detail, fixed=nodetype == Nodetype.ARRAY, owner=msgtype, only_field=only
                )

    def _plan_element(self, msgtype: str, base: str, rule: IdentityRule) -> None:
        """Plan one identity-keyed array element: its header stamp is its own ``t_ns``."""
        skip = {f for f in rule.fields if "/" not in f}
        for name, (nodetype, detail) in self._fields(msgtype):
            if nodetype == Nodetype.NAME and detail == _HEADER:
                self._stamp = attrgetter(f"{name}.stamp.sec", f"{name}.stamp.nanosec")
                skip.add(name)
            elif name == rule.strip and nodetype == Nodetype.NAME:
                self._plan(detail, base, (name,), top=False)
                skip.add(name)
        self._plan(msgtype, base, (), top=False, skip=frozenset(skip))

    def _add_scalar(self, path: str, attr: str, *, kind: str) -> None:
        key = self._keys(path)
        if key is None:
            return
        if kind == "bool":
            self._bools.append(len(self._scalar_attrs))
        elif kind in _WIDE:
            self._wide.append(len(self._scalar_attrs))
        self._scalar_keys.append(key)
        self._scalar_attrs.append(attr)

    def _add_time(self, path: str, attr: str, *, skip_zero: bool = False) -> None:
        key = self._keys(path)
        if key is None:
            return
        get = attrgetter(f"{attr}.sec", f"{attr}.nanosec")  # Time and Duration share this layout

        def emit(msg: Any, out: dict[str, Number]) -> None:
            sec, nsec = get(msg)
            if sec or nsec or not skip_zero:
                out[key] = sec + nsec * 1e-9

        self._emitters.append(emit)

    def _identity_rule(self, msgtype: str) -> IdentityRule | None:
        rule = self._identity.get(msgtype)
        if rule is not None:
            for path in rule.fields:
                self._check_identity_field(msgtype, path)
            return rule if rule.fields else None
        fields = dict(self._fields(msgtype))
        for name in IDENTITY_FIELDS:
            nodetype, detail = fields.get(name, (None, None))
            if nodetype == Nodetype.BASE and (detail[0] == "string" or detail[0] in _NUMERIC - {"bool"}):
                return IdentityRule((name,))
        return None

    def _check_identity_field(self, msgtype: str, path: str) -> None:
        """Refuse an identity rule whose field path is not a string or number field of ``msgtype``."""
        current = msgtype
        parts = path.split("/")
        for depth, name in enumerate(parts):
            fields = dict(self._fields(current))
            nodetype, detail = fields.get(name, (None, None))
            last = depth == len(parts) - 1
            if last and nodetype == Nodetype.BASE and detail[0] != "bool":
                return
            if not last and nodetype == Nodetype.NAME:
                current = detail
                continue
            raise DecodeError(
                f"identity rule for {msgtype!r}: {path!r} is not a string or number field of it (fields of "
                f"{current!r}: {sorted(fields)}); name one, a list of them, or 'index'"
            )

    def _plan_array(self, path: str, attr: str, detail: Any, *, fixed: bool, owner: str, only_field: bool) -> None:
        (subtype, subdetail), length = detail
        rule = self._identity_rule(subdetail) if subtype == Nodetype.NAME else None
        if fixed and length > (self._filter.max_array if rule is None else MAX_IDENTITIES):
            return
        get = attrgetter(attr)
        if subtype == Nodetype.BASE:
            if subdetail[0] not in _NUMERIC:
                return  # string arrays carry names, not values
            if owner == _JOINT_STATE and path in ("position", "velocity", "effort"):
                self._emitters.append(self._joint_emitter(path))
            elif fixed:
                self._plan_fixed(path, get, length, wide=subdetail[0] in _WIDE)
            else:
                self._emitters.append(self._numbers_emitter(path, get, wide=subdetail[0] in _WIDE))
        elif subtype == Nodetype.NAME:
            self._may_group = True  # the elements' flatteners are built per message: they may carry stamps
            if rule is not None:
                self._emitters.append(self._keyed_emitter("" if only_field else path, get, subdetail, rule))
            else:
                self._emitters.append(self._indexed_emitter(path, get, subdetail))

    def _check_wide(self, kept: list[tuple[int, str]], items: list[Any]) -> None:
        for i, key in kept:
            value = items[i]
            if (value > _EXACT or value < -_EXACT) and float(value) != value:
                self._inexact(key, value)

    def _numbers_emitter(self, path: str, get: Callable[[Any], Any], *, wide: bool) -> Emit:
        limit = self._filter.max_array
        keys = self._keys
        by_length: dict[int, list[tuple[int, str]]] = {}

        def emit(msg: Any, out: dict[str, Number]) -> None:
            arr = get(msg)
            n = len(arr)
            if n > limit:
                return
            kept = by_length.get(n)
            if kept is None:  # keys depend only on the length: filter once per length
                kept = by_length[n] = [(i, k) for i in range(n) if (k := keys(f"{path}/{i}")) is not None]
            items = arr.tolist() if hasattr(arr, "tolist") else list(arr)
            if wide:
                self._check_wide(kept, items)
            for i, key in kept:
                value = items[i]
                out[key] = int(value) if isinstance(value, bool) else value

        return emit

    def _indexed_emitter(self, path: str, get: Callable[[Any], Any], subtype: str) -> Emit:
        limit = self._filter.max_array
        subs: dict[int, MessageFlattener] = {}

        def emit(msg: Any, out: dict[str, Number]) -> None:
            seq = get(msg)
            if len(seq) > limit:
                return
            for i, item in enumerate(seq):
                sub = subs.get(i)
                if sub is None:
                    sub = subs[i] = MessageFlattener(
                        self._typestore, subtype, self._prefix, self._filter, identity=self._identity,
                        _path=f"{path}/{i}", _root=self._root,
                    )  # fmt: skip
                sub.emit(item, out)

        return emit

    def _keyed_emitter(self, path: str, get: Callable[[Any], Any], subtype: str, rule: IdentityRule) -> Emit:
        """Key each element by its identity fields; each element's values go at its own stamp."""
        limit = MAX_IDENTITIES
        ident = attrgetter(*(f.replace("/", ".") for f in rule.fields))
        single = len(rule.fields) == 1
        subs: dict[str, MessageFlattener] = {}
        root = self._root

        def emit(msg: Any, out: dict[str, Number]) -> None:
            seq = get(msg)
            if len(seq) > limit:
                return
            seen: set[str] = set()
            for item in seq:
                got = ident(item)
                name = "/".join(_sanitize(str(v)) for v in ((got,) if single else got))
                if name in seen:  # two elements claim one identity: keep both, the later numbered
                    n = 2
                    while f"{name}_{n}" in seen:
                        n += 1
                    name = f"{name}_{n}"
                seen.add(name)
                sub = subs.get(name)
                if sub is None:
                    if len(subs) >= MAX_IDENTITIES:
                        subs.clear()  # identities that change every message: stay bounded
                    sub = subs[name] = MessageFlattener(
                        self._typestore, subtype, self._prefix, self._filter, identity=self._identity,
                        _path=f"{path}/{name}" if path else name, _element=rule, _root=root,
                    )  # fmt: skip
                stamp = sub._stamp_of(item)
                groups = root._groups
                if stamp is None or groups is None:
                    sub.emit(item, out)
                else:
                    target = groups.get(stamp)
                    if target is None:
                        target = groups[stamp] = {}
                    sub.emit(item, target)

        return emit

    def _plan_fixed(self, path: str, get: Callable[[Any], Any], length: int, *, wide: bool) -> None:
        # Fixed arrays have known indices: filter them now, so an excluded covariance costs nothing.
        kept = [(i, key) for i in range(length) if (key := self._keys(f"{path}/{i}")) is not None]
        if not kept:
            return

        def emit(msg: Any, out: dict[str, Number]) -> None:
            arr = get(msg)
            items = arr.tolist() if hasattr(arr, "tolist") else list(arr)
            if wide:
                self._check_wide(kept, items)
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
