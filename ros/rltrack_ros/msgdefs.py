"""Message definitions: the distro's typestore plus ``.msg``/``.srv`` folders, legacy type names.

Split from :mod:`rltrack_ros.decode` (which re-exports these names): loading definitions is done
once per recording or node, decoding once per message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rosbags.interfaces import Nodetype
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from .errors import DecodeError

__all__ = ["DISTROS", "canonical_type", "learn_type", "load_msg_dirs", "make_typestore", "srv_types"]

#: Typestores by ROS 2 distribution name. Bags that embed their definitions (mcap, Iron+ sqlite3)
#: use those instead; this choice matters for live topics and Humble-era sqlite3 bags.
DISTROS: dict[str, Stores] = {
    "humble": Stores.ROS2_HUMBLE,
    "iron": Stores.ROS2_IRON,
    "jazzy": Stores.ROS2_JAZZY,
    "kilted": Stores.ROS2_KILTED,
    "latest": Stores.LATEST,
}


def canonical_type(msgtype: str) -> str:
    """Return ``pkg/msg/Name`` for the legacy ``pkg/Name`` spelling (ROS 1, old rosbag2); else ``msgtype``."""
    parts = msgtype.split("/")
    return f"{parts[0]}/msg/{parts[1]}" if len(parts) == 2 and all(parts) else msgtype


def make_typestore(distro: str = "jazzy", msg_dirs: Iterable[str | Path] = ()) -> Typestore:
    """Return a typestore for ``distro`` with the ``.msg``/``.srv`` files under ``msg_dirs`` registered.

    Raises:
        DecodeError: ``distro`` is unknown or a definition file cannot be parsed.
    """
    store = DISTROS.get(distro.lower())
    if store is None:
        raise DecodeError(f"unknown ROS distro {distro!r}; use one of {sorted(DISTROS)}")
    typestore = get_typestore(store)
    load_msg_dirs(typestore, msg_dirs)
    return typestore


def srv_types(text: str, name: str) -> dict[str, Any]:
    """Parse a ``.srv`` definition into its ``_Request``, ``_Response`` and ``_Event`` types.

    ``name`` is ``pkg/srv/Name``. The event type is what Iron+ records on
    ``<service>/_service_event`` topics: ``service_msgs/ServiceEventInfo info`` plus at most one
    request and one response.

    Raises:
        DecodeError: the text has no ``---`` line between request and response, or does not parse.
    """
    pkg, _, base = name.split("/")
    lines = text.splitlines()
    cut = next((i for i, line in enumerate(lines) if line.strip() == "---"), None)
    if cut is None:
        raise DecodeError(f"service definition {name!r} has no '---' line between request and response")
    types: dict[str, Any] = {}
    for part, body in (("Request", lines[:cut]), ("Response", lines[cut + 1 :])):
        # rosbags' .msg parser files everything under <pkg>/msg/: parse there, then rename.
        temp = f"{pkg}/msg/{base}_{part}"
        parsed = get_types_from_msg("\n".join(body) + "\n", temp)
        types[f"{pkg}/srv/{base}_{part}"] = parsed.pop(temp)
        types.update(parsed)
    one = 1  # rosidl: request/response are sequences bounded to one element
    types[f"{pkg}/srv/{base}_Event"] = (
        [],
        [
            ("info", (Nodetype.NAME, "service_msgs/msg/ServiceEventInfo")),
            ("request", (Nodetype.SEQUENCE, ((Nodetype.NAME, f"{pkg}/srv/{base}_Request"), one))),
            ("response", (Nodetype.SEQUENCE, ((Nodetype.NAME, f"{pkg}/srv/{base}_Response"), one))),
        ],
    )
    return types


def _parse_file(path: Path, name: str) -> dict[str, Any]:
    """Parse one ``.msg`` or ``.srv`` file registered as ``name``; errors name the file."""
    try:
        text = path.read_text(encoding="utf-8")
        return srv_types(text, name) if path.suffix == ".srv" else get_types_from_msg(text, name)
    except Exception as err:  # rosbags raises its own parser errors; name the file instead
        raise DecodeError(f"cannot parse {path.suffix[1:]} definition {str(path)!r}: {err}") from err


def load_msg_dirs(typestore: Typestore, dirs: Iterable[str | Path]) -> list[str]:
    """Register every ``<pkg>/msg/<Name>.msg`` and ``<pkg>/srv/<Name>.srv`` found under ``dirs``.

    A dir may be a package folder (holding ``msg/`` or ``srv/``), a ``share/`` tree of packages, or
    a ``msg/``/``srv/`` folder itself. Returns the registered type names (``pkg/msg/Name``; a
    service gives ``pkg/srv/Name_Request``, ``_Response`` and ``_Event``). Bags that spell a type
    the legacy way (``test_msgs/BasicTypes``) find it under its ``pkg/msg/Name`` name
    (:func:`canonical_type`).

    Raises:
        DecodeError: a dir does not exist or a definition file cannot be parsed.
    """
    dirs = list(dirs)
    types: dict[str, Any] = {}
    for root in (Path(d) for d in dirs):
        if not root.is_dir():
            raise DecodeError(
                f"message folder {str(root)!r} does not exist; pass a folder holding <pkg>/msg/*.msg or <pkg>/srv/*.srv"
            )
        for kind in ("msg", "srv"):
            files = sorted(root.glob(f"*.{kind}")) if root.name == kind else []
            files += sorted(p for p in root.rglob(f"{kind}/*.{kind}") if p not in files)
            for path in files:
                types.update(_parse_file(path, f"{path.parent.parent.name}/{kind}/{path.stem}"))
    if types:
        try:
            typestore.register(types)
        except Exception as err:  # rosbags' TypesysError: a type already defined differently
            raise DecodeError(f"cannot register message definitions from {[str(d) for d in dirs]!r}: {err}") from err
    return sorted(types)


def learn_type(typestore: Typestore, msgtype: str, share_dirs: Iterable[str | Path]) -> bool:
    """Register ``msgtype`` (and the types it uses) from ``<share>/<pkg>/msg/<Name>.msg`` files.

    This is how the live node decodes a robot's custom messages: their definitions sit in the
    ament index (``$AMENT_PREFIX_PATH/*/share``). Service event types (``pkg/srv/Name_Event``)
    come from ``<share>/<pkg>/srv/<Name>.srv``. Returns whether ``msgtype`` is now known.
    """
    shares = [Path(d) for d in share_dirs]
    msgtype = canonical_type(msgtype)
    types: dict[str, Any] = {}
    todo = [msgtype]
    while todo:
        name = canonical_type(todo.pop())
        if name in types or name in typestore.fielddefs:
            continue
        parts = name.split("/")
        if len(parts) != 3:
            return False
        pkg, kind, base = parts
        if kind == "srv":
            base = re.sub(r"_(Request|Response|Event)$", "", base)
        found = next((f for d in shares if (f := d / pkg / kind / f"{base}.{kind}").is_file()), None)
        if found is None:
            return False
        parsed = _parse_file(found, f"{pkg}/{kind}/{base}")
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
