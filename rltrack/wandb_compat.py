"""Run an unmodified wandb script on rltrack: ``python -m rltrack.wandb_compat script.py [args...]``.

For that process (and the Python processes it starts) ``import wandb`` is this module: wandb's
names (``init``, ``log``, ``config``, ``summary``, ``finish``, ``run``, ``Table``, ``Image``,
``Video``, ``Histogram``, ``Artifact``, ``save``, ``watch``, ``alert``, ``login``, ``agent``,
``sweep``, ``Api``, ...) backed by rltrack, everything stored in the local store. A name
rltrack does not have raises an ``AttributeError`` that says so. ``-m package.module`` runs a
module instead of a file; ``--path`` prints the folder to put on ``PYTHONPATH`` to get the same
``import wandb`` without the launcher.

wandb's ``WANDB_MODE``, ``WANDB_PROJECT``, ``WANDB_NAME``, ``WANDB_RUN_GROUP``, ``WANDB_JOB_TYPE``,
``WANDB_TAGS``, ``WANDB_RUN_ID`` and ``WANDB_RESUME`` fill ``init()`` arguments left out, and
``mode="online"`` with no rltrack server configured (``RLTRACK_URL``) logs to the local store.
"""

from __future__ import annotations

import enum
import os
import runpy
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import rltrack
from rltrack import _session
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
from rltrack._settings import Settings
from rltrack.api import Api
from rltrack.errors import RltrackError

__all__ = [
    "AlertLevel",
    "Api",
    "Error",
    "Run",
    "Settings",
    "alert",
    "config",
    "define_metric",
    "enable",
    "finish",
    "init",
    "log",
    "log_artifact",
    "main",
    "mark_preempting",
    "save",
    "setup",
    "shim_path",
    "summary",
    "teardown",
    "termerror",
    "termlog",
    "termwarn",
    "unwatch",
    "use_artifact",
    "watch",
]

__version__ = rltrack.__version__
#: wandb's base error class; rltrack's errors are all RltrackError.
Error = RltrackError

#: Names rltrack offers lazily (media, artifacts, sweeps, plot, login), taken from ``rltrack`` on first use.
_FROM_RLTRACK = frozenset({"Artifact", "Histogram", "Table", "agent", "login", "plot", "sweep"})
#: wandb names with no rltrack counterpart: asking for one says so instead of a bare AttributeError.
_UNSUPPORTED = frozenset({
    "Audio", "Html", "Object3D", "Molecule", "Graph", "Plotly", "Classes", "box3d", "controller", "log_model",
    "use_model", "link_model", "require", "restore", "wandb_lib", "apis", "sdk", "util",
})
_ENV = {  # wandb's environment variables, for init() arguments left out
    "mode": "WANDB_MODE", "project": "WANDB_PROJECT", "name": "WANDB_NAME", "group": "WANDB_RUN_GROUP",
    "job_type": "WANDB_JOB_TYPE", "id": "WANDB_RUN_ID", "resume": "WANDB_RESUME", "notes": "WANDB_NOTES",
}


class AlertLevel(str, enum.Enum):
    """Levels of :func:`alert`, as ``wandb.AlertLevel``."""

    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


def init(*args: Any, **kwargs: Any) -> Run:
    """Start a run as ``wandb.init`` does: :func:`rltrack.init`, with wandb's environment and online default."""
    for arg, var in _ENV.items():
        if kwargs.get(arg) is None and os.environ.get(var):
            kwargs[arg] = os.environ[var]
    if kwargs.get("tags") is None and os.environ.get("WANDB_TAGS"):
        kwargs["tags"] = [t for t in os.environ["WANDB_TAGS"].split(",") if t]
    if kwargs.get("tags") is not None:
        kwargs["tags"] = list(kwargs["tags"])
    kwargs.setdefault("reinit", "default")  # wandb: a second init() in a script returns the current run
    if kwargs.get("mode") in ("online", "shared") and not (kwargs.get("url") or os.environ.get("RLTRACK_URL")):
        kwargs["mode"] = "offline"  # wandb's default is its cloud; here the local store is
    return _session.init(*args, **kwargs)


def log(data: Mapping[str, Any], step: int | None = None, commit: bool | None = None, sync: bool | None = None) -> None:
    """Log to the current run as ``wandb.log`` does: values logged with ``step=N`` leave the step open.

    A later ``log()`` without a step lands at ``N`` too (then the step advances), as in wandb.
    """
    _session.log(data, step, (step is None) if commit is None else commit)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """Finish the current run, as ``wandb.finish``."""
    _session.finish(0 if exit_code is None else exit_code, quiet)


def termlog(string: str = "", newline: bool = True, repeat: bool = True, prefix: bool = True) -> None:
    """Print a line to stderr, as ``wandb.termlog``."""
    print(f"{'wandb: ' if prefix else ''}{string}", file=sys.stderr, end="\n" if newline else "")


def termwarn(string: str, newline: bool = True, repeat: bool = True, prefix: bool = True) -> None:
    """Print a warning line to stderr, as ``wandb.termwarn``."""
    termlog(f"WARNING {string}", newline, repeat, prefix)


def termerror(string: str, newline: bool = True, repeat: bool = True, prefix: bool = True) -> None:
    """Print an error line to stderr, as ``wandb.termerror``."""
    termlog(f"ERROR {string}", newline, repeat, prefix)


def setup(settings: Any = None) -> None:
    """Do nothing: wandb starts its service process here; rltrack has none."""


def teardown(exit_code: int | None = None) -> None:
    """Finish the current run, as ``wandb.teardown``."""
    finish(exit_code)


def __getattr__(name: str) -> Any:
    if name == "run":
        return _session.current()
    if name in ("Image", "Video"):
        from rltrack import _wandb_media

        return getattr(_wandb_media, name)
    if name in _FROM_RLTRACK:
        return getattr(rltrack, name)
    if name in _UNSUPPORTED:
        raise AttributeError(
            f"wandb.{name} is not supported by rltrack's wandb shim; see 'wandb compatibility' in rltrack's README"
        )
    raise AttributeError(f"module 'wandb' (rltrack's wandb shim) has no attribute {name!r}")


def shim_path() -> str:
    """Return the folder whose ``wandb`` package is this module (put it first on ``PYTHONPATH``)."""
    return str(Path(__file__).resolve().parent / "_wandb_shim")


def enable() -> None:
    """Make ``import wandb`` give this module here and in every Python process started from now on."""
    import importlib

    # Importing the shim's `wandb` package makes this module `wandb` (with the package's path, so
    # that `wandb.integration.sb3` resolves too).
    sys.path.insert(0, shim_path())
    sys.modules.pop("wandb", None)
    importlib.import_module("wandb")
    sys.path.remove(shim_path())
    folder = shim_path()
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != folder]
    os.environ["PYTHONPATH"] = os.pathsep.join([folder, *paths])


_USAGE = """usage: python -m rltrack.wandb_compat SCRIPT.py [ARGS...]
       python -m rltrack.wandb_compat -m MODULE [ARGS...]
       python -m rltrack.wandb_compat --path

Runs a script written for wandb unchanged, with `import wandb` resolving to rltrack; everything it
logs goes into the local rltrack store (see it with `rltrack ui`). --path prints the folder to put on
PYTHONPATH to get the same `import wandb` without this launcher."""


def main(argv: list[str] | None = None) -> int:
    """Run a script (or ``-m`` module) with ``import wandb`` resolving to rltrack; return the exit status."""
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help"):
        print(_USAGE, file=sys.stderr if not args else sys.stdout)
        return 2 if not args else 0
    if args[0] == "--path":
        print(shim_path())
        return 0
    enable()
    if args[0] == "-m":
        if len(args) < 2:
            print(_USAGE, file=sys.stderr)
            return 2
        sys.argv = [args[1], *args[2:]]
        sys.path.insert(0, os.getcwd())
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
        return 0
    script = Path(args[0])
    if not script.is_file():
        print(f"rltrack.wandb_compat: no such script {args[0]!r}\n\n{_USAGE}", file=sys.stderr)
        return 2
    sys.argv = args
    sys.path[0] = str(script.resolve().parent)  # as `python script.py` sets it
    runpy.run_path(str(script), run_name="__main__")
    return 0


if __name__ == "__main__":
    # `python -m` runs a second copy of this file as __main__: hand over to the importable module,
    # so `import wandb` and this launcher share one module.
    from rltrack.wandb_compat import main as _main

    sys.exit(_main())
