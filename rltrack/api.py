"""``Api``: read what runs stored — projects, runs, histories, media — without writing anything."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rltrack.store.database import Database
from rltrack.store.paths import resolve_root
from rltrack.store.reader import StoreReader
from rltrack.views import MediaView, RunView, check_arg

if TYPE_CHECKING:
    from rltrack.artifacts import ArtifactVersion

__all__ = ["Api", "MediaView", "RunView"]


class Api:
    """Read access to a store folder.

    Args:
        dir: The store folder (default ``$RLTRACK_DIR`` or ``./rltrack-runs``).

    Raises:
        StoreError: there is no rltrack store in ``dir``.

    Example:
        >>> api = rltrack.Api("rltrack-runs")  # doctest: +SKIP
        >>> api.run("abc123").history(["train/loss"])  # doctest: +SKIP
    """

    def __init__(self, dir: str | os.PathLike[str] | None = None) -> None:
        self.root = resolve_root(dir)
        self.reader = StoreReader(Database(self.root, create=False))

    def projects(self) -> list[str]:
        """Return every project name, sorted."""
        return self.reader.projects()

    def runs(
        self,
        project: str | None = None,
        *,
        group: str | None = None,
        tags: Sequence[str] | None = None,
        state: str | None = None,
    ) -> list[RunView]:
        """Return runs, newest first; every filter given must match (all ``tags`` must be present)."""
        if tags is not None:
            tags = [check_arg(t, "tag") for t in ([tags] if isinstance(tags, str) else tags)]
        project, group, state = check_arg(project, "project"), check_arg(group, "group"), check_arg(state, "state")
        return [RunView(self.reader, r) for r in self.reader.runs(project, group=group, tags=tags, state=state)]

    def artifacts(self, name: str | None = None, *, type: str | None = None) -> list[ArtifactVersion]:
        """Return artifact versions, optionally of one name or type (see :mod:`rltrack.artifacts`)."""
        from rltrack.artifacts import list_artifacts

        return list_artifacts(self.reader.db, name, type=type)

    def artifact(self, ref: str) -> ArtifactVersion:
        """Return one artifact version by ``"name"``, ``"name:alias"`` or ``"name:vN"``."""
        from rltrack.artifacts import get_artifact

        return get_artifact(self.reader.db, ref)

    def run(self, id: str) -> RunView:
        """Return one run.

        Raises:
            RunNotFoundError: no run has this id.
        """
        return RunView(self.reader, self.reader.run(check_arg(id, "run id")))
