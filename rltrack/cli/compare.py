"""``rltrack compare SIM [REAL]``: the sim-vs-real gap as a table, JSON or an offline HTML page.

The defaults are ``compare()``'s: the deployed checkpoint's sim episodes and the one bootstrap
setting (:data:`~rltrack.sim2real.deployed.N_BOOT` resamples, seed :data:`~rltrack.sim2real.deployed.SEED`),
so the table shows the gap the dashboard, the demo and the Python API show. HTML reports go into the
sim run's folder in the store (``--html``) or to ``--out``, never into the current folder.
"""

from __future__ import annotations

import click

from rltrack.cli.options import dir_option, open_api
from rltrack.errors import RltrackError

__all__ = ["REPORT_NAME", "compare_command", "register"]

#: File name of the HTML report in the sim run's folder (``--html``); the demo writes the same name.
REPORT_NAME = "sim2real_gap.html"


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
@click.option(
    "--html", "in_store", is_flag=True, help=f"Write the HTML report into the sim run's folder ({REPORT_NAME})."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of a table.")
@click.option(
    "--n-boot",
    type=click.IntRange(min=1),
    default=None,
    help="Bootstrap resamples [default: rltrack.sim2real's N_BOOT, 2000, as on the dashboard and in the demo].",
)
@click.option("--seed", type=int, default=None, help="Bootstrap seed [default: rltrack.sim2real's SEED, 0].")
@click.option(
    "--policy-step",
    type=click.IntRange(min=0),
    default=None,
    help="Training step of the policy the robot ran (default: what the runs record); picks the sim episodes.",
)
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
    in_store: bool,
    as_json: bool,
    n_boot: int | None,
    seed: int | None,
    policy_step: int | None,
    align: str,
    pair_by: str,
    store_dir: str | None,
) -> None:
    """Measure the reality gap between run SIM and run REAL.

    Without REAL, compares the `sim` and `real` sources of run SIM. The sim side is the deployed
    checkpoint's episodes (its eval episodes, else the last training episodes before it), as the
    first line of the table says. Measures that cannot be computed are listed with the reason.
    """
    try:
        from rltrack.sim2real import compare
        from rltrack.sim2real.deployed import N_BOOT, SEED
    except ModuleNotFoundError as err:
        raise click.ClickException(f"rltrack compare needs scipy ({err}); pip install 'rltrack[sim2real]'") from err
    api = open_api(store_dir)
    try:
        report = compare(
            sim,
            real,
            keys=_split(keys) or None,
            mapping=_mapping(maps),
            n_boot=N_BOOT if n_boot is None else n_boot,
            seed=SEED if seed is None else seed,
            align="t_ns" if align == "t_ns" else "step",
            pair_by="order" if pair_by == "order" else "seed",
            policy_step=policy_step,
            api=api,
        )
        written = [report.to_html(out)] if out else []
        if in_store:
            written.append(report.to_html(api.run(report.sim.run).dir / REPORT_NAME))
    except RltrackError as err:
        raise click.ClickException(str(err)) from err
    click.echo(report.to_json() if as_json else report.table(), nl=False)
    if as_json:
        click.echo()
    for path in written:
        click.echo(f"wrote {path}", err=as_json)


def register(group: click.Group) -> None:
    """Add ``compare`` to the ``rltrack`` command group."""
    group.add_command(compare_command)
