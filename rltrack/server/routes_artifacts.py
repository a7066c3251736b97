"""Artifacts of a run (versions, aliases, lineage), shown when :mod:`rltrack.artifacts` is installed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter

from rltrack.server.deps import Reader

if TYPE_CHECKING:
    from rltrack.artifacts import ArtifactVersion

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["artifacts"])


def _version(v: ArtifactVersion) -> dict[str, Any]:
    return {
        "ref": v.ref,
        "name": v.name,
        "version": v.version,
        "type": v.type,
        "aliases": v.aliases,
        "digest": v.digest,
        "size": v.size,
        "metadata": v.metadata,
        "created_ns": v.created_ns,
        "run_id": v.logged_by_id,
    }


@router.get("/runs/{run_id}/artifacts", summary="Artifact versions a run logged and used (lineage)")
def run_artifacts(run_id: str, reader: Reader) -> dict[str, Any]:
    """Return ``{"available", "logged": [...], "used": [...]}``; ``available`` is false without rltrack.artifacts."""
    reader.run(run_id)
    try:
        from rltrack.artifacts import logged_artifacts, used_artifacts
    except ImportError as err:
        return {"available": False, "reason": f"rltrack.artifacts is not installed ({err})", "logged": [], "used": []}
    return {
        "available": True,
        "logged": [_version(v) for v in logged_artifacts(reader.db, run_id)],
        "used": [_version(v) for v in used_artifacts(reader.db, run_id)],
    }
