"""Sim-vs-real routes: which keys two sources share, where real results sit on the step axis, gap numbers.

The gap numbers come from :func:`rltrack.sim2real.compare` with its defaults, and its table cells from
the function that formats ``report.table()``: the dashboard never recomputes or reformats a gap.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from rltrack.server.deps import Reader
from rltrack.server.files import media_url
from rltrack.store.reader import RunRow, StoreReader

__all__ = ["checkpoint_step", "router"]

router = APIRouter(prefix="/api", tags=["sim-vs-real"])

def checkpoint_step(row: RunRow) -> int | None:
    """Return the training step of the policy the real side ran, if the run's metadata or config says so.

    The same lookup picks the sim episodes of the gap (:func:`rltrack.sim2real.deployed.policy_step_of`).
    """
    from rltrack.sim2real.deployed import policy_step_of

    return policy_step_of(row.metadata, row.config)


def _pick_sources(sources: list[str], primary: str) -> tuple[str | None, str | None]:
    sim = "sim" if "sim" in sources else primary
    real = "real" if "real" in sources else next((s for s in sources if s != sim), None)
    return sim, real


#: Config or metadata keys by which a run names its counterpart run (a linked sim/real pair).
SIM_LINK_KEYS = ("sim_run", "sim_run_id")
REAL_LINK_KEYS = ("real_run", "real_run_id")


def _linked(row: RunRow, keys: tuple[str, ...]) -> str | None:
    for data in (row.metadata, row.config):
        for key in keys:
            value = data.get(key)
            if isinstance(value, str) and value:
                return value
    return None


def _sides(
    reader: StoreReader, run_id: str, other: str | None, sim: str | None, real: str | None
) -> tuple[RunRow, str | None, RunRow, str | None]:
    """Return (sim run, sim source, real run, real source) for a run with two sources or a linked pair."""
    row = reader.run(run_id)
    if other is None:
        linked_sim, linked_real = _linked(row, SIM_LINK_KEYS), _linked(row, REAL_LINK_KEYS)
        other = linked_real or linked_sim
        if other is not None and linked_sim and not linked_real:
            # This run is the real side and names its sim run.
            sim_row = reader.run(other)
            return sim_row, sim or _source_of(reader, sim_row, "sim"), row, real or _source_of(reader, row, "real")
    if other is None and len(reader.sources(run_id)) < 2:
        # A training run named by a robot run (its `sim_run`): the newest such run is the real side.
        other = next((r.id for r in reader.runs(row.project) if _linked(r, SIM_LINK_KEYS) == run_id), None)
    if other is not None:
        real_row = reader.run(other)
        return row, sim or _source_of(reader, row, "sim"), real_row, real or _source_of(reader, real_row, "real")
    sources = reader.sources(run_id) or [row.primary_source]
    default_sim, default_real = _pick_sources(sources, row.primary_source)
    return row, sim or default_sim, row, real or default_real


def _source_of(reader: StoreReader, row: RunRow, wanted: str) -> str:
    sources = reader.sources(row.id) or [row.primary_source]
    return wanted if wanted in sources else row.primary_source


@router.get("/runs/{run_id}/simreal", summary="Shared keys, checkpoint step and videos of a run's sim and real sides")
def simreal(
    run_id: str,
    reader: Reader,
    other: Annotated[str | None, Query(description="a separate run holding the real side (a linked pair)")] = None,
    sim: Annotated[str | None, Query(description="sim source (default 'sim')")] = None,
    real: Annotated[str | None, Query(description="real source (default 'real')")] = None,
) -> dict[str, Any]:
    """Return what the sim-vs-real panel draws; ``available`` is false when there is no second side.

    The sides are the run's ``sim`` and ``real`` sources, or this run and ``other`` (also found
    through a ``real_run``/``sim_run`` entry in the run's config or metadata). ``signals`` are the shared
    keys that are per-step telemetry (:func:`rltrack.sim2real.sides.is_signal_key`), not episode summaries
    or logger aggregates.
    """
    sim_row, sim_src, real_row, real_src = _sides(reader, run_id, other, sim, real)
    base = {"sources": reader.sources(run_id), "sim": sim_src, "real": real_src, "sim_run": sim_row.id,
            "real_run": real_row.id}
    if real_src is None or sim_src is None or (sim_row.id == real_row.id and sim_src == real_src):
        return {**base, "available": False, "shared": []}
    from rltrack.sim2real.sides import is_signal_key

    sim_keys = set(reader.keys(sim_row.id, sim_src))
    real_keys = set(reader.keys(real_row.id, real_src))
    shared = sorted(sim_keys & real_keys)
    videos = {
        side: [
            {"key": m.key, "step": m.step, "url": media_url(r.id, m.path), "path": m.path, "caption": m.caption}
            for m in reader.media(r.id, src)
            if m.kind == "video"
        ]
        for side, r, src in (("sim", sim_row, sim_src), ("real", real_row, real_src))
    }
    return {
        **base,
        "available": True,
        "shared": shared,
        # Per-step telemetry (sim2real's signals, the gap's distribution rows): drawn on each side's own clock.
        "signals": [k for k in shared if is_signal_key(k)],
        "sim_only": sorted(sim_keys - real_keys),
        "real_only": sorted(real_keys - sim_keys),
        "checkpoint_step": checkpoint_step(real_row) if real_row.id != sim_row.id else checkpoint_step(sim_row),
        "videos": videos,
    }


@router.get("/runs/{run_id}/simreal/gap", summary="Gap numbers of rltrack.sim2real.compare for the two sides")
def gap(run_id: str, reader: Reader, other: str | None = None) -> dict[str, Any]:
    """Return ``{"available": true, "report", "heading", "sections"}`` from sim2real, or why it is not available.

    ``compare()`` runs with its defaults (the deployed checkpoint's sim episodes, the one bootstrap
    setting), and ``heading``/``sections`` are the cells of ``report.table()``: the page shows the
    numbers the terminal prints, formatted by the same function.
    """
    sim_row, sim_src, real_row, real_src = _sides(reader, run_id, other, None, None)
    from rltrack.api import RunView
    from rltrack.errors import RltrackError
    from rltrack.sim2real import compare
    from rltrack.sim2real.text import heading, sections

    real_view = None if real_row.id == sim_row.id else RunView(reader, real_row)
    try:
        report = compare(RunView(reader, sim_row), real_view, sources=(sim_src or "sim", real_src or "real"))
    except ImportError as err:  # scipy, loaded when the statistics run, is the sim2real extra
        reason = f"rltrack.sim2real needs its extra: pip install 'rltrack[sim2real]' ({err})"
        return {"available": False, "reason": reason}
    except (RltrackError, ValueError, ArithmeticError) as err:
        return {"available": False, "reason": f"sim2real could not compare these runs: {err}"}
    return {
        "available": True,
        "report": report.to_dict(),
        "heading": heading(report),
        "sections": [{"title": t.title, "header": t.header, "rows": t.rows} for t in sections(report)],
    }
