"""Sim-vs-real routes: which keys two sources share, where real results sit on the step axis, gap numbers.

The gap numbers come from :func:`rltrack.sim2real.compare` when it is installed: the dashboard
shows the sim2real report, it never recomputes its statistics.
"""

from __future__ import annotations

import importlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from rltrack.server.app import reader_of
from rltrack.server.routes_media import media_url
from rltrack.server.run_filters import lookup
from rltrack.store.reader import RunRow, StoreReader

__all__ = ["checkpoint_step", "router"]

router = APIRouter(prefix="/api", tags=["sim-vs-real"])
Reader = Annotated[StoreReader, Depends(reader_of)]

#: Where a run records the training step of the policy it deployed (metadata first, then config).
CHECKPOINT_KEYS = (
    "deployed_step",
    "checkpoint_step",
    "policy_step",
    "deployed_policy_step",
    "deployed_policy.step",
    "policy.step",
    "checkpoint.step",
)


def checkpoint_step(row: RunRow) -> int | None:
    """Return the training step of the policy the real side ran, if the run's metadata or config says so."""
    for data in (row.metadata, row.config):
        for key in CHECKPOINT_KEYS:
            found, value = lookup(data, key.split("."))
            if found and isinstance(value, (int, float)) and not isinstance(value, bool):
                return int(value)
    return None


def _pick_sources(sources: list[str], primary: str) -> tuple[str | None, str | None]:
    sim = "sim" if "sim" in sources else primary
    real = "real" if "real" in sources else next((s for s in sources if s != sim), None)
    return sim, real


@router.get("/runs/{run_id}/simreal", summary="Shared keys, checkpoint step and videos of a run's sim and real sources")
def simreal(
    run_id: str,
    reader: Reader,
    sim: Annotated[str | None, Query(description="sim source (default 'sim')")] = None,
    real: Annotated[str | None, Query(description="real source (default 'real')")] = None,
) -> dict[str, Any]:
    """Return what the sim-vs-real panel draws; ``available`` is false when the run has one source only."""
    row = reader.run(run_id)
    sources = reader.sources(run_id) or [row.primary_source]
    default_sim, default_real = _pick_sources(sources, row.primary_source)
    sim, real = sim or default_sim, real or default_real
    if real is None or sim is None or sim == real:
        return {"available": False, "sources": sources, "sim": sim, "real": real, "shared": []}
    sim_keys = set(reader.keys(run_id, sim))
    real_keys = set(reader.keys(run_id, real))
    videos = {
        side: [
            {"key": m.key, "step": m.step, "url": media_url(run_id, m.path), "caption": m.caption}
            for m in reader.media(run_id, src)
            if m.kind == "video"
        ]
        for side, src in (("sim", sim), ("real", real))
    }
    return {
        "available": True,
        "sources": sources,
        "sim": sim,
        "real": real,
        "shared": sorted(sim_keys & real_keys),
        "sim_only": sorted(sim_keys - real_keys),
        "real_only": sorted(real_keys - sim_keys),
        "checkpoint_step": checkpoint_step(row),
        "videos": videos,
    }


@router.get("/runs/{run_id}/simreal/gap", summary="Gap numbers of rltrack.sim2real.compare for a run's two sources")
def gap(
    run_id: str,
    reader: Reader,
    n_boot: Annotated[int, Query(ge=50, le=5000)] = 500,
) -> dict[str, Any]:
    """Return ``{"available": true, "report": ...}`` from sim2real, or why it is not available."""
    row = reader.run(run_id)
    try:
        # Imported by name: sim2real is an optional part (its own folder, mapped into rltrack).
        compare = importlib.import_module("rltrack.sim2real").compare
    except (ImportError, AttributeError) as err:
        return {"available": False, "reason": f"rltrack.sim2real is not installed ({err})"}
    from rltrack.api import RunView
    from rltrack.errors import RltrackError

    try:
        report = compare(RunView(reader, row), None, n_boot=n_boot)
    except (RltrackError, ValueError, ArithmeticError) as err:
        return {"available": False, "reason": f"sim2real could not compare this run: {err}"}
    return {"available": True, "report": report.to_dict()}
