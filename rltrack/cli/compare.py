"""``rltrack compare SIM [REAL]``: the sim-vs-real gap as a table, JSON or an offline HTML page."""

from __future__ import annotations

import click

from rltrack.cli.options import dir_option, open_api
from rltrack.errors import RltrackError

__all__ = ["compare_command", "register"]


def _split(values: tuple[str, ...]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _mapping(values: tuple[str, ...]) -> dict[str, str]:
    mapping = {}
    for item in _split(values):
        sim_key, sep, real_key = item.partition("=")
        if not sep or not sim_key or not real_key:
            raise click.BadParameter(f"{item!r} is not SIM_KEY=REAL_KEY", param_hint="--map")
        mapping[sim_key] = real_key
    return mapping


@click.command("compare")
@click.argument("sim")
@click.argument("real", required=False)
@click.option("--keys", multiple=True, help="Signal keys to compare (sim names; repeat or comma-separate).")
@click.option("--map", "maps", multiple=True, help="Pair differently named keys: SIM_KEY=REAL_KEY (repeatable).")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write a self-contained HTML report here.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of a table.")
@click.option("--n-boot", type=click.IntRange(min=1), default=2000, show_default=True, help="Bootstrap resamples.")
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@click.option(
    "--align",
    type=click.Choice(["step", "t_ns"]),
    default="step",
    show_default=True,
    help="Align paired episodes on step or on time stamps.",
)
@click.option(
    "--pair-by",
    type=click.Choice(["seed", "order"]),
    default="seed",
    show_default=True,
    help="Pair episodes by episode/seed (or episode/tag) values, or by their order.",
)
@dir_option
def compare_command(
    sim: str,
    real: str | None,
    keys: tuple[str, ...],
    maps: tuple[str, ...],
    out: str | None,
    as_json: bool,
    n_boot: int,
    seed: int,
    align: str,
    pair_by: str,
    store_dir: str | None,
) -> None:
    """Measure the reality gap between run SIM and run REAL.

    Without REAL, compares the `sim` and `real` sources of run SIM. Measures that cannot be
    computed are listed with the reason.
    """
    try:
        from rltrack.sim2real import compare
    except ModuleNotFoundError as err:
        raise click.ClickException(f"rltrack compare needs scipy ({err}); pip install 'rltrack[sim2real]'") from err
    api = open_api(store_dir)
    try:
        report = compare(
            sim,
            real,
            keys=_split(keys) or None,
            mapping=_mapping(maps),
            n_boot=n_boot,
            seed=seed,
            align="t_ns" if align == "t_ns" else "step",
            pair_by="order" if pair_by == "order" else "seed",
            api=api,
        )
        written = report.to_html(out) if out else None
    except RltrackError as err:
        raise click.ClickException(str(err)) from err
    click.echo(report.to_json() if as_json else report.table(), nl=False)
    if as_json:
        click.echo()
    if written is not None:
        click.echo(f"wrote {written}", err=as_json)


def register(group: click.Group) -> None:
    """Add ``compare`` to the ``rltrack`` command group."""
    group.add_command(compare_command)
