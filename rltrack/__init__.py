"""rltrack: a local-first experiment tracker for reinforcement learning and robotics.

Training (``sim``) and real-robot telemetry (``real``) land in the same runs of one local
store; nothing needs a network.

Example:
    >>> import rltrack, tempfile
    >>> run = rltrack.init(project="cartpole", config={"lr": 3e-4}, dir=tempfile.mkdtemp(), system_metrics=False)
    >>> run.log({"train/loss": 0.25})
    >>> run.finish()
"""

from rltrack._module_api import (
    alert,
    config,
    define_metric,
    log_artifact,
    mark_preempting,
    save,
    summary,
    unwatch,
    use_artifact,
    watch,
)
from rltrack._run import Run
from rltrack._session import finish, init, log
from rltrack._settings import Settings
from rltrack.api import Api
from rltrack.errors import RltrackError

__all__ = [
    "Api",
    "Artifact",
    "Histogram",
    "Image",
    "RltrackError",
    "Run",
    "Settings",
    "Table",
    "Video",
    "agent",
    "alert",
    "config",
    "define_metric",
    "finish",
    "init",
    "log",
    "log_artifact",
    "login",
    "mark_preempting",
    "plot",
    "run",
    "save",
    "show",
    "summary",
    "sweep",
    "unwatch",
    "use_artifact",
    "watch",
]
__version__ = "0.1.0"


_LAZY = {"Artifact": "rltrack.artifacts", "agent": "rltrack.sweeps", "sweep": "rltrack.sweeps",
         "Histogram": "rltrack.media", "show": "rltrack.notebook", "Image": "rltrack.media", "Video": "rltrack.media",
         "Table": "rltrack.media", "login": "rltrack._login"}


def __getattr__(name: str) -> object:
    # `rltrack.run` is the current run of this context (None when there is none), like `wandb.run`.
    if name == "run":
        from rltrack._session import current

        return current()
    if name == "plot":  # the module rltrack.plot (wandb.plot's functions), loaded on first use
        import importlib

        return importlib.import_module("rltrack.plot")
    # Media and artifact classes load on first use: time to first log matters more than 10 ms of imports.
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rltrack' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
