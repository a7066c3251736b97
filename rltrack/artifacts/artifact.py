"""``Artifact``: a named set of files (a policy checkpoint, a dataset) about to be logged as a version."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rltrack.artifacts.errors import ArtifactError
from rltrack.artifacts.refs import check_file_name, check_name, check_type
from rltrack.errors import InvalidValueError
from rltrack.validate import check_label

__all__ = ["Artifact", "check_description", "check_metadata"]


class Artifact:
    """Files to store together as one version of a named artifact.

    Nothing is copied until :meth:`rltrack.Run.log_artifact`; until then the artifact only
    remembers which file goes under which name. ``metadata`` must be JSON (numpy and torch
    scalars and arrays are converted); it reads back exactly as JSON would.

    Args:
        name: Artifact name (letters, digits, ``_``, ``-``, ``.``), e.g. ``"ppo-cartpole"``.
        type: What it holds, e.g. ``"model"`` or ``"dataset"``; one name holds one type.
        metadata: JSON-compatible facts about the content, e.g. ``{"step": 20000}``.
        description: A sentence for people.

    Raises:
        ArtifactError: a bad name, type, description or metadata.

    Example:
        >>> art = rltrack.Artifact("ppo-cartpole", metadata={"step": 20000})  # doctest: +SKIP
        >>> art.add_file("ppo.zip")  # doctest: +SKIP
        >>> run.log_artifact(art, aliases=["best"])  # doctest: +SKIP
    """

    def __init__(
        self,
        name: str,
        type: str = "model",
        *,
        metadata: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> None:
        self.name = check_name(name)
        self.type = check_type(type)
        self.metadata: dict[str, Any] = check_metadata(metadata)
        self.description = check_description(description)
        self._files: dict[str, Path] = {}
        self._folders: set[str] = set()  # every parent folder of a name, to catch "a" beside "a/b"

    @property
    def files(self) -> dict[str, Path]:
        """Name inside the artifact -> source file, in the order they were added."""
        return dict(self._files)

    def add_file(self, path: str | os.PathLike[str], name: str | None = None) -> str:
        """Add one file under ``name`` (default: its file name); returns the name used.

        Raises:
            ArtifactError: the file does not exist or is not a regular file, the name could
                leave the artifact (``..``, absolute, control characters), or it is taken.
        """
        source = Path(path)
        if not source.is_file():
            what = "is not a regular file" if source.exists() else "does not exist"
            raise ArtifactError(f"cannot add {str(source)!r} to artifact {self.name!r}: it {what}; pass a file path")
        name = check_file_name(source.name if name is None else name)
        self._add(name, source.absolute())
        return name

    def add_dir(self, path: str | os.PathLike[str], prefix: str = "") -> list[str]:
        """Add every regular file under a folder (recursively), named by relative path under ``prefix``.

        Symbolic links to files are followed; links to folders are not (no loops), and
        sockets or pipes are skipped. Returns the names added, sorted.

        Raises:
            ArtifactError: the folder does not exist or holds no files, a file name could
                leave the artifact, or a name is taken.
        """
        root = Path(path)
        if not root.is_dir():
            what = "is not a folder" if root.exists() else "does not exist"
            raise ArtifactError(f"cannot add {str(root)!r} to artifact {self.name!r}: it {what}; pass a folder path")
        if prefix:
            check_file_name(prefix)
        found: list[tuple[str, Path]] = []
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            for file in sorted(files):
                source = Path(folder) / file
                if source.is_file():
                    relative = source.relative_to(root).as_posix()
                    found.append((check_file_name(f"{prefix}/{relative}" if prefix else relative), source.absolute()))
        if not found:
            raise ArtifactError(f"folder {str(root)!r} holds no files to add to artifact {self.name!r}")
        saved = dict(self._files), set(self._folders)
        try:
            for name, source in found:
                self._add(name, source)
        except ArtifactError:
            self._files, self._folders = saved  # all or nothing
            raise
        return sorted(name for name, _ in found)

    def _add(self, name: str, source: Path) -> None:
        if name in self._files:
            raise ArtifactError(
                f"artifact {self.name!r} already has a file named {name!r} (from {str(self._files[name])!r}); "
                "pass another name="
            )
        parts = name.split("/")
        parents = ["/".join(parts[:i]) for i in range(1, len(parts))]
        clash = name if name in self._folders else next((p for p in parents if p in self._files), None)
        if clash is not None:
            raise ArtifactError(
                f"artifact {self.name!r} cannot hold both a file and a folder named {clash!r} (adding {name!r}); "
                "pass another name="
            )
        self._files[name] = source
        self._folders.update(parents)

    def __repr__(self) -> str:
        return f"<Artifact {self.name!r} type={self.type!r} files={len(self._files)}>"


def _to_json(value: object) -> object:
    # numpy and torch scalars/arrays are the usual suspects in RL metadata (num_timesteps, rewards).
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    raise ArtifactError(
        f"artifact metadata value {value!r} of type {type(value).__name__} is not JSON; "
        "use numbers, strings, booleans, None, lists and dicts with string keys"
    )


def _check_keys(value: object, depth: int = 0) -> None:
    # json.dumps would turn {1: x} into {"1": x} silently; metadata must read back as written.
    if depth > 64:
        raise ArtifactError("artifact metadata nests deeper than 64 levels (or refers to itself); flatten it")
    if isinstance(value, str):
        _check_text("value", value)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ArtifactError(f"artifact metadata key {key!r} must be a string; use str({key!r})")
            _check_text("key", key)
            _check_keys(item, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_keys(item, depth + 1)


def _check_text(what: str, text: str) -> None:
    # A lone surrogate (os.listdir's form of a non-UTF-8 name) would be stored and then break every reader.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ArtifactError(
            f"artifact metadata {what} {text!r} is not valid Unicode (a lone surrogate, as os.listdir returns for "
            "a non-UTF-8 file name); decode it with errors='replace' first"
        ) from None


def check_description(description: object) -> str | None:
    """Return ``description`` if it is None or text a store's column can keep, else raise :class:`ArtifactError`.

    Refused: a non-string, a lone surrogate and NUL (PostgreSQL cannot store it; SQLite can, so the
    same version would log offline and fail on a team server): :func:`rltrack.validate.check_label`.
    """
    if description is None:
        return None
    if not isinstance(description, str):
        raise ArtifactError(f"artifact description {description!r} must be a string or None")
    try:
        return check_label("artifact description", description)
    except InvalidValueError as err:
        raise ArtifactError(str(err)) from None


def check_metadata(metadata: object) -> dict[str, Any]:
    """Return metadata as it will read back (a JSON round trip), or raise :class:`ArtifactError`."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise ArtifactError(f"artifact metadata {metadata!r} must be a dict such as {{'step': 20000}}")
    _check_keys(metadata)
    try:
        text = json.dumps(dict(metadata), default=_to_json, allow_nan=True)
    except (TypeError, ValueError) as err:
        # Non-string keys (json.dumps refuses them) and circular references.
        raise ArtifactError(
            f"artifact metadata {metadata!r} is not JSON ({err}); use string keys and plain values"
        ) from err
    result: dict[str, Any] = json.loads(text)
    return result
