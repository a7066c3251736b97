"""Errors raised by artifacts: bad input, an unknown version, a stored file that no longer matches."""

from __future__ import annotations

from rltrack.errors import RltrackError

__all__ = ["ArtifactCorruptedError", "ArtifactError", "ArtifactNotFoundError"]


class ArtifactError(RltrackError):
    """An artifact call got bad input: a name, alias, file name, metadata or source file it cannot use."""


class ArtifactNotFoundError(ArtifactError, LookupError):
    """No artifact, version or alias matches the requested reference."""


class ArtifactCorruptedError(ArtifactError):
    """A stored file is missing or its content no longer matches its sha256 digest."""
