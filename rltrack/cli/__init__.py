"""The ``rltrack`` command line: one click group; each feature registers its own commands."""

from __future__ import annotations

import importlib

import click

from rltrack.cli import runs

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rltrack")
def main() -> None:
    """rltrack: track RL training and real-robot runs in one local store."""


runs.register(main)

# Feature modules register themselves when they are present; each imports its heavy
# dependencies only when its command runs, so `rltrack --help` stays fast. `accounts` comes after
# `server`: it adds `rltrack server admin ...` to the server group.
for _name in ("artifacts", "server", "accounts", "ros", "compare", "calibrate", "sweeps", "demo", "tb"):
    try:
        _module = importlib.import_module(f"rltrack.cli.{_name}")
    except ModuleNotFoundError as _err:
        if _err.name != f"rltrack.cli.{_name}":
            raise
        continue
    _module.register(main)
