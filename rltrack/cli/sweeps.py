"""``rltrack sweep CONFIG`` and ``rltrack agent SWEEP_ID``: hyperparameter sweeps from the shell."""

from __future__ import annotations

import shlex
from collections import Counter

import click

from rltrack.cli.options import dir_option
from rltrack.errors import RltrackError

__all__ = ["agent_command", "register", "sweep_command"]


@click.command("sweep")
@click.argument("config_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--project", "-p", default=None, help="Project of the trials' runs (default: the config's project).")
@dir_option
@click.option("--storage", default=None, help="Database URL for Optuna (default: a journal file in the store).")
def sweep_command(config_file: str, project: str | None, store_dir: str | None, storage: str | None) -> None:
    """Create a sweep from a wandb-style YAML config and print its id."""
    from rltrack.sweeps import sweep

    try:
        _quiet_optuna()
        sweep_id = sweep(config_file, project, dir=store_dir, storage=storage)
    except (RltrackError, ImportError) as err:
        raise click.ClickException(str(err)) from err
    # The id alone on stdout, so `ID=$(rltrack sweep sweep.yaml)` works; the hint goes to stderr.
    click.echo(sweep_id)
    # The agent must open the same store: a --dir given here is part of the command to copy.
    where = f" --dir {shlex.quote(store_dir)}" if store_dir is not None else ""
    click.echo(f"start agents with: rltrack agent {sweep_id}{where}", err=True)


@click.command("agent")
@click.argument("sweep_id")
@click.option("--count", type=click.IntRange(min=1), default=None, help="Most trials this agent runs.")
@dir_option
@click.option("--storage", default=None, help="The database URL the sweep was created with, if any.")
@click.option("--seed", type=int, default=None, help="Seed of this agent's sampler (one per agent).")
def agent_command(
    sweep_id: str, count: int | None, store_dir: str | None, storage: str | None, seed: int | None
) -> None:
    """Run the sweep's program for trial after trial (``--name=value`` arguments), a line per trial."""
    from rltrack.sweeps import agent

    try:
        _quiet_optuna()
        results = agent(sweep_id, None, count, dir=store_dir, storage=storage, seed=seed)
    except (RltrackError, ImportError) as err:
        raise click.ClickException(str(err)) from err
    states = Counter(r.state for r in results)
    trials = f"{len(results)} trial{'' if len(results) == 1 else 's'}"
    click.echo(
        f"agent done: {trials} ({states['finished']} finished, {states['pruned']} pruned, {states['failed']} failed)",
        err=True,
    )


def _quiet_optuna() -> None:
    # Optuna logs study creation and loading at INFO; the commands print their own lines.
    from rltrack.sweeps.engine import import_optuna

    optuna = import_optuna()
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def register(group: click.Group) -> None:
    """Add ``sweep`` and ``agent`` to the ``rltrack`` command group."""
    group.add_command(sweep_command)
    group.add_command(agent_command)
