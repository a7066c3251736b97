"""``rltrack demo``: train, deploy on a robot stand-in, import its rosbag2, print the gap, serve the dashboard."""

from __future__ import annotations

import click

from rltrack.cli.options import dir_option

__all__ = ["demo", "register"]

DEFAULT_PORT = 8080


@click.command("demo")
@dir_option
@click.option("--steps", default=20_000, show_default=True, type=click.IntRange(min=64),
              help="PPO training timesteps (4 envs).")
@click.option("--episodes", default=10, show_default=True, type=click.IntRange(min=2),
              help="Episodes of the deployed policy on each side (nominal sim, robot stand-in).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of training and evaluation.")
@click.option("--no-ui", is_flag=True, help="Do not serve the dashboard at the end (CI, tests).")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535),
              help="Dashboard port on 127.0.0.1 (0: any free; a busy default falls back to a free one).")
@click.option("--open", "open_browser", is_flag=True, help="Open the dashboard in a web browser.")
def demo(
    store_dir: str | None, steps: int, episodes: int, seed: int, no_ui: bool, port: int, open_browser: bool
) -> None:
    """Train PPO, deploy it on a robot stand-in (a simulated stand-in, not a robot), show the reality gap.

    PPO trains on CartPole-v1 with RLTrackCallback (source 'sim'); the final checkpoint plays the
    nominal simulator and the robot stand-in (heavier pole, one-step actuator delay, sensor noise),
    both recorded as rosbag2 and imported into the same run (stand-in as source 'real'); then the
    sim2real gap table is printed, an HTML report written and the dashboard served on 127.0.0.1.
    """
    from rltrack.demo import DemoError, DemoSettings, run_demo
    from rltrack.demo.deps import check_packages
    from rltrack.errors import RltrackError

    try:
        if not no_ui:
            check_packages(ui=True)  # before a minute of work, not after
            if port not in (0, DEFAULT_PORT):
                _check_port(port)
        result = run_demo(DemoSettings(dir=store_dir, steps=steps, episodes=episodes, seed=seed), echo=click.echo)
    except DemoError as err:
        raise click.ClickException(str(err)) from err
    except RltrackError as err:
        raise click.ClickException(f"the demo stopped: {err}") from err
    click.echo("")
    for line in result.where():
        click.echo(line)
    if no_ui:
        click.echo(f"  dashboard   rltrack ui --dir {result.store}   (then open /runs/{result.run_id})")
        return
    from rltrack.demo.dashboard import serve_run

    try:
        serve_run(result.store, result.run_id, port=port, fallback_port=port == DEFAULT_PORT,
                  open_browser=open_browser, echo=click.echo)  # fmt: skip
    except RltrackError as err:
        raise click.ClickException(str(err)) from err


def _check_port(port: int) -> None:
    """Fail now, not after training, when an explicitly asked ``--port`` is taken."""
    from rltrack.demo.dashboard import HOST
    from rltrack.server.serve import bind

    bind(HOST, port).close()


def register(group: click.Group) -> None:
    """Add ``demo`` to the ``rltrack`` command group."""
    group.add_command(demo)
