"""Which ``sim`` episodes stand for the policy the robot ran: the one choice behind every gap figure.

A training run's ``sim`` episodes are its whole learning curve; the robot ran one checkpoint. The
ROS node records that checkpoint's training step as the run's ``policy_step`` and logs the real
episodes there, so the gap compares them with the sim episodes of the same policy: those logged
at that step (an evaluation of the checkpoint, as ``rltrack demo`` does), else the last
:data:`RECENT_EPISODES` training episodes up to it (what SB3's ``rollout/ep_rew_mean`` averages).
A training episode that happened to end exactly at the checkpoint step counts as evaluated there
(the store cannot tell them apart). A run with no recorded policy step takes the step every real episode
was logged at, when they share one; otherwise it keeps every sim episode.

:func:`select_sim` makes that choice and says it in words (``"sim: 10 eval episodes at step
20,480, policy v3"``); ``compare()``, ``rltrack compare``, the demo, the dashboard and the HTML
report all go through it, with the bootstrap settings :data:`N_BOOT` and :data:`SEED`, so one
gap is the same number wherever it is read.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "N_BOOT",
    "POLICY_STEP_KEYS",
    "RECENT_EPISODES",
    "SEED",
    "DeployedEpisodes",
    "SimSelection",
    "deployed_view",
    "policy_step_of",
    "select_sim",
]

#: Bootstrap resamples of every gap interval, wherever the gap is shown.
N_BOOT = 2000
#: Bootstrap seed of every gap interval, wherever the gap is shown.
SEED = 0
#: Training episodes kept before the checkpoint when it has no evaluation episodes of its own.
RECENT_EPISODES = 100
#: Fewer episodes than this at the policy step are not an evaluation (one training episode can end there).
MIN_EVAL_EPISODES = 2
#: Where a run records the training step of the policy it deployed (metadata first, then config).
POLICY_STEP_KEYS = (
    "deployed_step",
    "checkpoint_step",
    "policy_step",
    "deployed_policy_step",
    "deployed_policy.step",
    "policy.step",
    "checkpoint.step",
)
_END_KEYS = ("episode/length", "episode/return")

SeriesArrays = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]
Kind = Literal["eval", "recent", "all"]


def _lookup(data: Mapping[str, Any], dotted: str) -> object:
    """The value at a flat key (``policy.step``) or a nested path, else ``None``."""
    if dotted in data:
        return data[dotted]
    current: object = data
    for part in dotted.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current


def policy_step_of(metadata: Mapping[str, Any] | None, config: Mapping[str, Any] | None) -> int | None:
    """Return the training step of the deployed policy a run records, if it records one."""
    for data in (metadata or {}, config or {}):
        for key in POLICY_STEP_KEYS:
            value = _lookup(data, key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return int(value)
    return None


def _recorded_step(view: Any) -> int | None:
    return policy_step_of(getattr(view, "metadata", None), getattr(view, "config", None))


def _policy_name(view: Any, source: str, step: int) -> str | None:
    """The version (``v3``) of the checkpoint at ``step``: used by ``source`` of the run, or logged by the run.

    Falls back to the ref in the run's config (``policy``, written by the ROS node) when that config
    records this very step; ``None`` when nothing names it.
    """
    reader = getattr(view, "_reader", None)  # a RunView's store reader: lineage lives in the store
    db = getattr(reader, "db", None)
    if db is not None:
        from rltrack.artifacts import logged_artifacts, used_artifacts

        for versions in (reversed(used_artifacts(db, str(view.id), source)), logged_artifacts(db, str(view.id))):
            for version in versions:
                meta = version.metadata if isinstance(version.metadata, dict) else {}
                if meta.get("step") == step:
                    return str(version.version)
    config = getattr(view, "config", None) or {}
    ref = config.get("policy")
    if isinstance(ref, str) and ref and policy_step_of(None, config) == step:
        return ref
    return None


@dataclass(frozen=True)
class SimSelection:
    """The sim episodes a gap compares with the robot's, and the sentence that says which.

    Attributes:
        view: The sim run's read view with its ``sim`` episode keys limited to the chosen episodes.
        description: Stated in every gap table, e.g. ``"sim: 10 eval episodes at step 20,480, policy v3"``.
        kind: ``eval`` (episodes at the policy step), ``recent`` (training episodes up to it) or ``all``.
        policy_step: The deployed checkpoint's training step, when the runs record one.
        n_episodes: How many sim episodes were chosen.
    """

    view: Any
    description: str
    kind: Kind
    policy_step: int | None
    n_episodes: int


class DeployedEpisodes:
    """A read view whose ``source`` episode keys keep only the chosen episodes (see :func:`select_sim`).

    Args:
        view: The run's read view (``rltrack.Api().run(id)``).
        policy_step: The deployed checkpoint's training step.
        kind: ``eval``: keep episodes at ``policy_step``; ``recent``: the last :data:`RECENT_EPISODES` up to it.
        source: The side to filter (``sim``).
    """

    def __init__(self, view: Any, *, policy_step: int, kind: Kind = "eval", source: str = "sim") -> None:
        self._view = view
        self._policy_step = policy_step
        self._kind = kind
        self._source = source

    @property
    def id(self) -> str:
        """The run id."""
        return str(self._view.id)

    @property
    def sources(self) -> Collection[str]:
        """Sources that wrote into the run."""
        return list(self._view.sources)

    def keys(self, source: str | None = None) -> list[str]:
        """Keys logged under ``source``."""
        return list(self._view.keys(source))

    def __getattr__(self, name: str) -> Any:
        # Everything else (config, summary, media, ...) is the run's own.
        return getattr(self._view, name)

    def series(self, key: str, *, source: str | None = None) -> SeriesArrays:
        """``(step, t_ns, value)`` of one key, ``sim`` episode keys limited to the deployed policy."""
        step, t_ns, value = self._view.series(key, source=source)
        if (source or self._view.primary_source) != self._source or not key.startswith("episode/"):
            return step, t_ns, value
        keep = _keep(step, self._policy_step, self._kind)
        return step[keep], t_ns[keep], value[keep]


def _keep(step: npt.NDArray[np.int64], policy_step: int, kind: Kind) -> npt.NDArray[np.bool_]:
    if kind == "eval":
        return np.asarray(step == policy_step)
    keep = np.zeros(step.shape, dtype=bool)
    if kind == "recent":
        keep[np.flatnonzero(step <= policy_step)[-RECENT_EPISODES:]] = True
    else:
        keep[:] = True
    return keep


def _end_steps(view: Any, source: str) -> npt.NDArray[np.int64]:
    present = set(view.keys(source)) if source in view.sources else set()
    for key in _END_KEYS:
        if key in present:
            step, _, _ = view.series(key, source=source)
            if step.size:
                return np.asarray(step, dtype=np.int64)
    return np.empty(0, dtype=np.int64)


def _episodes(n: int) -> str:
    return f"{n} episode" if n == 1 else f"{n} episodes"


def select_sim(
    sim_view: Any,
    real_view: Any = None,
    *,
    source: str = "sim",
    real_source: str = "real",
    policy_step: int | None = None,
) -> SimSelection:
    """Pick the sim episodes of the deployed checkpoint and describe them.

    Args:
        sim_view: Read view of the run holding the sim side.
        real_view: Read view of the run holding the real side (``None``: the same run).
        source: The sim side's source.
        real_source: The real side's source (where the deployed policy's lineage is recorded).
        policy_step: The deployed checkpoint's step; default: what the real run, else the sim
            run, records (``policy_step`` in its config, written by the ROS node, or
            :data:`POLICY_STEP_KEYS`).

    Returns:
        The chosen episodes as a read view, with the sentence every gap table states.
    """
    real_view = sim_view if real_view is None else real_view
    step = policy_step
    if step is None:
        step = _recorded_step(real_view)
    if step is None:
        step = _recorded_step(sim_view)
    inferred = False
    if step is None:
        # Nothing records the checkpoint, but every real episode was logged at one training step: that is how the
        # README's robot writer marks the policy it ran (``step=deployed_checkpoint_step``). Comparing with the
        # whole learning curve instead would set the robot against untrained episodes (the gap changed sign).
        real_steps = np.unique(_end_steps(real_view, real_source))
        if real_steps.size == 1:
            step = int(real_steps[0])
            inferred = True
    ends = _end_steps(sim_view, source)
    if step is None:
        n = int(ends.size)
        text = f"sim: all {_episodes(n)} (no deployed policy step recorded)"
        return SimSelection(sim_view, text, "all", None, n)
    kind: Kind = "eval" if int((ends == step).sum()) >= MIN_EVAL_EPISODES else "recent"
    n = int(_keep(ends, step, kind).sum())
    policy = _policy_name(real_view, real_source, step) or _policy_name(sim_view, source, step)
    named = f", policy {policy}" if policy else ""
    if kind == "eval":
        text = f"sim: {n} eval episodes at step {step:,}{named}" + (" (the real episodes' step)" if inferred else "")
    else:
        why = "no eval episodes at that step" + ("; every real episode was logged at it" if inferred else "")
        text = f"sim: last {_episodes(n)} of training up to step {step:,}{named} ({why})"
    return SimSelection(DeployedEpisodes(sim_view, policy_step=step, kind=kind, source=source), text, kind, step, n)


def deployed_view(view: Any, policy_step: int | None = None) -> Any:
    """Return ``view`` limited to its deployed policy's ``sim`` episodes (see :func:`select_sim`)."""
    return select_sim(view, policy_step=policy_step).view
