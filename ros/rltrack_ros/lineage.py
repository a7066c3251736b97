"""The deployed policy's lineage: which artifact version the robot ran, and at which training step.

Integration note: this relies on the artifacts API (``run.use_artifact(ref)`` returning a version
whose ``metadata`` holds ``{"step": N}``). Where that API is missing or the ref is unknown, the ref
is still written to the run's config (``policy``) and episodes fall back to robot steps.
"""

from __future__ import annotations

from typing import Any

from rltrack.errors import RltrackError

__all__ = ["use_policy"]


def use_policy(run: Any, ref: str) -> tuple[int | None, str | None]:
    """Record ``ref`` as used by ``run``; return (training step or None, a warning or None)."""
    run.config["policy"] = ref
    use = getattr(run, "use_artifact", None)
    if use is None:
        return None, f"policy {ref!r}: this rltrack has no artifacts API; recorded in config only"
    try:
        version = use(ref)
    except (RltrackError, ImportError) as err:
        return None, f"policy {ref!r} not recorded as lineage ({err}); episodes are placed at robot steps"
    meta = getattr(version, "metadata", None) or {}
    step = meta.get("step") if isinstance(meta, dict) else None
    if isinstance(step, bool) or not isinstance(step, (int, float)):
        return None, f"policy {ref!r} has no 'step' in its metadata; episodes are placed at robot steps"
    run.config["policy_step"] = int(step)
    return int(step), None
