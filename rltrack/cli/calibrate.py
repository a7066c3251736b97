"""``rltrack calibrate RUN --env ... --params ...``: fit a simulator's parameters to a real run.

Runs :func:`rltrack.sim2real.calibrate` with a progress bar, prints the result table, and writes
``calibration.json`` and ``randomization.yaml`` (the suggested domain-randomization ranges, in the
``parameters`` form a sweep or a later calibration reads) and ``calibration.html`` (the tables and
the before/after replay overlay; when the run has both a ``sim`` and a ``real`` side, the run's gap
report with the calibration as its last section) into the real run's folder, or ``--out``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from rltrack.cli.options import dir_option, open_api, resolve_run_id

__all__ = ["calibrate_command", "register"]

#: Default replay window, as :data:`rltrack.sim2real.calibrate.DEFAULT_HORIZON` (not imported: keeps --help light).
_HORIZON = 20


def _keys(value: str) -> str | list[str]:
    """A prefix stays a string; a comma-separated list becomes the keys in order."""
    parts = [p.strip() for p in value.split(",") if p.strip()]
    return parts if len(parts) > 1 else (parts[0] if parts else value)


@click.command("calibrate")
@click.argument("run")
@click.option("--env", "env_spec", required=True, help="Simulator: module:factory (takes the parameters as "
              "keyword arguments or has them as env.unwrapped attributes) or a Gymnasium env id.")  # fmt: skip
@click.option("--params", "params_path", required=True, type=click.Path(dir_okay=False),
              help="YAML file of wandb-sweep-style parameter distributions, each with a prior range.")  # fmt: skip
@click.option("--budget", type=click.IntRange(min=1), default=200, show_default=True, help="Trials in all.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes.")
@click.option("--engine", type=click.Choice(["optuna", "cmaes", "random"]), default="optuna", show_default=True,
              help="Search: Optuna TPE, Optuna CMA-ES (needs cmaes) or random.")  # fmt: skip
@click.option("--metric", type=click.Choice(["trajectory", "dtw", "filter"]), default="trajectory", show_default=True,
              help="trajectory: replay RMSE; dtw: replay DTW (timing drift); filter: ensemble Kalman filter "
              "likelihood (noisy sensors; needs --noise).")  # fmt: skip
@click.option("--noise", default=None, help="--metric filter: sensor noise std per scored key, comma-separated "
              "(a name instead of a number: the searched parameter that holds it).")  # fmt: skip
@click.option("--dtw-band", type=click.IntRange(min=0), default=None, help="--metric dtw: band half-width in steps "
              "[default: 10% of the window].")  # fmt: skip
@click.option("--keys", multiple=True, help="Observation keys to score (repeat or comma-separate; default all).")
@click.option("--obs", "observations", default="obs", show_default=True,
              help="Observation key prefix, or comma-separated keys in the simulator's order.")  # fmt: skip
@click.option("--actions", default="action", show_default=True, help="Action key prefix, or comma-separated keys.")
@click.option("--source", default="real", show_default=True, help="Source holding the recording.")
@click.option("--episodes", type=click.IntRange(min=1), default=None, help="Use only the first N episodes.")
@click.option("--horizon", type=click.IntRange(min=0), default=_HORIZON, show_default=True,
              help="Replay window in steps (0: whole episodes from reset).")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the search.")
@click.option("--no-track", is_flag=True, help="Do not store each trial as a run.")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for calibration.json and randomization.yaml [default: the run's folder].")  # fmt: skip
@dir_option
def calibrate_command(
    run: str,
    env_spec: str,
    params_path: str,
    budget: int,
    workers: int,
    engine: str,
    metric: str,
    noise: str | None,
    dtw_band: int | None,
    keys: tuple[str, ...],
    observations: str,
    actions: str,
    source: str,
    episodes: int | None,
    horizon: int,
    seed: int,
    no_track: bool,
    out: str | None,
    store_dir: str | None,
) -> None:
    """Calibrate a simulator from the real episodes of RUN and suggest randomization ranges."""
    from rltrack.errors import RltrackError
    from rltrack.sim2real import calibrate

    api = open_api(store_dir)
    run_id = resolve_run_id(api, run)
    wanted = [k.strip() for value in keys for k in value.split(",") if k.strip()] or None
    bar_options: dict[str, Any] = {"label": "calibrating", "item_show_func": _best, "file": sys.stderr}
    with click.progressbar(length=budget, **bar_options) as bar:

        def progress(done: int, total: int, best: float) -> None:
            bar.update(done - bar.pos, current_item=best)

        try:
            result = calibrate(
                run_id, make_env=env_spec, params=Path(params_path), keys=wanted, budget=budget,
                engine=engine,  # type: ignore[arg-type]  # click.Choice checked it
                workers=workers, seed=seed, observations=_keys(observations), actions=_keys(actions),
                source=source, episodes=episodes, horizon=horizon or None, track=not no_track,
                progress=progress, api=api, metric=metric,  # type: ignore[arg-type]  # click.Choice checked it
                noise=_noise(noise), dtw_band=dtw_band,
            )  # fmt: skip
        except RltrackError as err:
            raise click.ClickException(str(err)) from err
    folder = Path(out) if out is not None else api.run(run_id).dir / (result.group or "calibration")
    json_path, yaml_path = result.write(folder)
    click.echo(result.table())
    click.echo(f"result          {json_path}")
    click.echo(f"randomization   {yaml_path}")
    gap = _gap_report(api, run_id)
    try:
        page = result.to_html(folder / "calibration.html", gap=gap)
    except RltrackError as err:  # plotly missing: the tables and files above still stand
        click.echo(f"no HTML page: {err}", err=True)
    else:
        where = " (the run's gap report, calibration last)" if gap is not None else ""
        click.echo(f"before/after    {page}{where}")


def _gap_report(api: Any, run_id: str) -> Any:
    """The run's sim-vs-real gap report when it has both sides, else None (the page is the calibration's own)."""
    from rltrack.errors import RltrackError
    from rltrack.sim2real import compare

    view = api.run(run_id)
    if not {"sim", "real"} <= set(view.sources):
        return None
    try:
        return compare(view, api=api)
    except RltrackError:  # nothing comparable between the sides: the calibration page stands alone
        return None


def _noise(value: str | None) -> list[float | str] | None:
    """``"0.02,0.3,x_noise"`` -> ``[0.02, 0.3, "x_noise"]``: numbers, or names of searched parameters."""
    if value is None:
        return None
    out: list[float | str] = []
    for part in (p.strip() for p in value.split(",")):
        try:
            out.append(float(part))
        except ValueError:
            out.append(part)
    return out


def _best(value: Any) -> str:
    return "" if value is None else f"best {value:.4g}"


def register(group: click.Group) -> None:
    """Add ``calibrate`` to the ``rltrack`` command group."""
    group.add_command(calibrate_command)
