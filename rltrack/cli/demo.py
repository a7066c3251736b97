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
            check_packages(ui=True)  # before minutes of work, not after
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
    _serve(result.store, result.run_id, port, explicit_port=port != DEFAULT_PORT, open_browser=open_browser)


def _serve(store: object, run_id: str, port: int, *, explicit_port: bool, open_browser: bool) -> None:
    from pathlib import Path

    import uvicorn

    from rltrack.errors import RltrackError
    from rltrack.server.app import ServerSettings, create_app
    from rltrack.server.serve import bind

    host = "127.0.0.1"
    try:
        sock = bind(host, port)
    except RltrackError as err:
        if explicit_port:
            raise click.ClickException(str(err)) from err
        sock = bind(host, 0)  # the default port is taken (another dashboard?): any free one will do
    url = f"http://{host}:{sock.getsockname()[1]}/runs/{run_id}"
    app = create_app(ServerSettings(root=Path(str(store))))
    click.echo(f"  dashboard   {url}   (Ctrl-C to stop)")
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2)
    try:
        # uvicorn handles Ctrl-C itself: it stops accepting, closes connections and returns.
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
    click.echo("dashboard stopped")


def register(group: click.Group) -> None:
    """Add ``demo`` to the ``rltrack`` command group."""
    group.add_command(demo)
