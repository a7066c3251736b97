"""Errors raised by rltrack_ros; all are :class:`rltrack.errors.RltrackError` subclasses."""

from __future__ import annotations

from rltrack.errors import RltrackError

__all__ = ["BagImportError", "DecodeError", "TopicConfigError"]


class DecodeError(RltrackError):
    """A serialized message cannot be decoded (unknown type, bad bytes, bad ``.msg`` file)."""


class TopicConfigError(RltrackError, ValueError):
    """The topic configuration (YAML file or node parameters) is invalid."""


class BagImportError(RltrackError):
    """A bag cannot be opened or read (names the file, and how much was imported before)."""
