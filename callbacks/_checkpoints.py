"""Policy checkpoints as versions of one artifact, ``<run name>-policy``, with ``latest`` and ``best``."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from rltrack.callbacks._runs import check_running
from rltrack.callbacks._warn import WarnOnce

import rltrack
from rltrack.errors import RltrackError

__all__ = ["Checkpointer", "artifact_name"]


def artifact_name(run: rltrack.Run) -> str:
    """Return ``<run name>-policy`` with characters an artifact name may not hold replaced by ``-``."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", run.name).strip("-.") or run.id
    return f"{stem}-policy"


class Checkpointer:
    """Saves an SB3 model (and its VecNormalize statistics) as a new version of the policy artifact.

    A failure to save or store a checkpoint warns once and training goes on.
    """

    def __init__(self, run: rltrack.Run, warn: WarnOnce) -> None:
        self.run = run
        self.name = artifact_name(run)
        self.warn = warn
        #: ``model.num_timesteps`` of the last checkpoint stored (None before the first).
        self.last_step: int | None = None
        #: The model's gradient-update count (SB3's ``_n_updates``) at the last checkpoint.
        self.last_updates: int | None = None

    def is_current(self, model: Any, step: int) -> bool:
        """Whether the last checkpoint holds ``model`` as it is now: same step, no update since."""
        return self.last_step == step and self.last_updates == getattr(model, "_n_updates", None)

    def save(self, model: Any, step: int, *, best: bool = False, metadata: dict[str, Any] | None = None) -> None:
        """Store ``model`` at ``step`` as the newest version (``latest``), moving ``best`` to it when ``best``."""
        from rltrack.artifacts import Artifact

        if not check_running(self.run, self.warn):
            return
        meta: dict[str, Any] = {"step": step, "algorithm": type(model).__name__, **(metadata or {})}
        # ``latest`` always follows the newest version on its own; only ``best`` is set here.
        aliases = ["best"] if best else []
        try:
            with tempfile.TemporaryDirectory(prefix="rltrack-checkpoint-") as tmp:
                path = Path(tmp) / "model.zip"
                model.save(path)
                artifact = Artifact(self.name, type="model", metadata=meta)
                artifact.add_file(path)
                vec_normalize = model.get_vec_normalize_env()
                if vec_normalize is not None:
                    # The policy is useless without the observation statistics it was trained on.
                    stats = Path(tmp) / "vecnormalize.pkl"
                    vec_normalize.save(str(stats))
                    artifact.add_file(stats)
                self.run.log_artifact(artifact, aliases=aliases)
        except (RltrackError, OSError) as err:
            self.warn(
                f"checkpoint-{type(err).__name__}",
                f"checkpoint of {self.name!r} at step {step} was not stored ({err!r}); training goes on",
            )
            return
        self.last_step = step
        self.last_updates = getattr(model, "_n_updates", None)
