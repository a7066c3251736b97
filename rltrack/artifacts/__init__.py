"""Artifacts: versioned, content-addressed files (policy checkpoints, datasets) with aliases and lineage.

A run logs files as a version (``v0``, ``v1``, ...) of a named artifact; identical content
is stored once (sha256 blobs under ``<store>/artifacts/blobs/``). Aliases such as ``best``
point at one version and move; ``latest`` always names the newest. Lineage runs both ways:
a version knows the run that logged it and the runs that used it.

Example:
    >>> art = rltrack.Artifact("ppo-cartpole", metadata={"step": 20000})  # doctest: +SKIP
    >>> art.add_file("ppo.zip")  # doctest: +SKIP
    >>> v = run.log_artifact(art, aliases=["best"])  # doctest: +SKIP
    >>> robot_run.use_artifact("ppo-cartpole:best").download()  # doctest: +SKIP
"""

from __future__ import annotations

from rltrack.artifacts.artifact import Artifact
from rltrack.artifacts.blobs import Blob, BlobStore, LocalBlobStore
from rltrack.artifacts.errors import ArtifactCorruptedError, ArtifactError, ArtifactNotFoundError
from rltrack.artifacts.log import log_artifact, use_artifact
from rltrack.artifacts.query import get_artifact, list_artifacts, logged_artifacts, used_artifacts
from rltrack.artifacts.version import ArtifactVersion

__all__ = [
    "Artifact",
    "ArtifactCorruptedError",
    "ArtifactError",
    "ArtifactNotFoundError",
    "ArtifactVersion",
    "Blob",
    "BlobStore",
    "LocalBlobStore",
    "get_artifact",
    "list_artifacts",
    "log_artifact",
    "logged_artifacts",
    "use_artifact",
    "used_artifacts",
]
