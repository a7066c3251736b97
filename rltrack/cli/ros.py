"""``rltrack import-bag``: rosbag2 recordings (sqlite3/mcap folders, ``.mcap`` files) into a run."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import click

from rltrack.cli.options import dir_option

__all__ = ["import_bag", "register"]


def _rltrack_ros() -> ModuleType:
    """Import rltrack_ros: installed (colcon or pip), else from this checkout's ``ros/`` folder."""
    try:
        return importlib.import_module("rltrack_ros")
    except ImportError:
        pass
    checkout = Path(__file__).resolve().parents[2] / "ros"
    if (checkout / "rltrack_ros" / "__init__.py").is_file():
        sys.path.insert(0, str(checkout))
        try:
            return importlib.import_module("rltrack_ros")
        except ImportError as err:
            raise click.ClickException(
                f"import-bag needs rosbags ({err}); run `pip install 'rltrack[ros]'`"
            ) from err
    raise click.ClickException(
        "import-bag needs the rltrack_ros package; run `pip install 'rltrack[ros]' <rltrack>/ros` "
        "or build it with colcon"
    )


@click.command("import-bag")
@click.argument("path", type=click.Path(exists=True))
@click.option("--run", "run_id", help="Attach to this run id (e.g. the training run) as --source.")
@click.option("--project", help="Start a new run in this project (when --run is not given).")
@click.option("--name", help="Name of the new run.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), help="Topic config YAML.")
@click.option("--topic", "topics", multiple=True, help="Import only this topic (repeatable; default: all).")
@click.option("--source", default="real", show_default=True, help="Source the values are written under.")
@click.option("--distro", help="Typestore for bags without definitions: humble, iron, jazzy, kilted.")
@click.option("--msg-dir", "msg_dirs", multiple=True, type=click.Path(exists=True, file_okay=False),
              help="Folder of <pkg>/msg/*.msg for custom types (repeatable).")
@click.option("--policy", help="Artifact ref of the deployed policy (e.g. ppo:latest): lineage and step.")
@dir_option
def import_bag(
    path: str,
    run_id: str | None,
    project: str | None,
    name: str | None,
    config_path: str | None,
    topics: tuple[str, ...],
    source: str,
    distro: str | None,
    msg_dirs: tuple[str, ...],
    policy: str | None,
    store_dir: str | None,
) -> None:
    """Import a rosbag2 recording (folder or .mcap file) into a run, as source 'real'."""
    if bool(run_id) == bool(project):
        raise click.UsageError("give exactly one of --run ID (attach) or --project P (new run)")
    if name and run_id:
        raise click.UsageError("--name names a new run; it cannot be combined with --run")
    ros = _rltrack_ros()
    import rltrack
    from rltrack.errors import RltrackError

    try:
        config = ros.load_config(config_path) if config_path else ros.parse_config({})
        config = _with_options(config, topics, distro, msg_dirs)
        if run_id:
            run = rltrack.init(id=run_id, resume="must", source=source, dir=store_dir, system_metrics=False)
        else:
            run = rltrack.init(project=project, name=name, source=source, dir=store_dir, job_type="import",
                               system_metrics=False)
    except RltrackError as err:
        raise click.ClickException(str(err)) from err
    step = None
    if policy:
        from rltrack_ros.lineage import use_policy

        step, problem = use_policy(run, policy)
        if problem:
            click.echo(f"warning: {problem}", err=True)
    _run_import(ros, path, run, config, step)


def _with_options(config: Any, topics: tuple[str, ...], distro: str | None, msg_dirs: tuple[str, ...]) -> Any:
    from dataclasses import replace

    if topics:
        config = config.with_topics(topics)
    if distro:
        config = replace(config, distro=distro)
    if msg_dirs:
        config = replace(config, msg_dirs=config.msg_dirs + tuple(str(Path(d).resolve()) for d in msg_dirs))
    return config


def _run_import(ros: ModuleType, path: str, run: Any, config: Any, step: int | None) -> None:
    from rltrack.errors import RltrackError

    with click.progressbar(length=0, label=f"importing {path}", show_pos=True, file=sys.stderr) as bar:
        seen = [0]

        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - seen[0])
            seen[0] = done

        try:
            result = ros.import_bag(path, run, config, step_offset=step, progress=progress)
        except RltrackError as err:
            run.finish(1, reason=str(err)[:500])
            raise click.ClickException(f"{err} (run {run.id!r}, source {run.source!r})") from err
    run.finish()
    click.echo(
        f"imported {result.messages} messages ({result.rate_msgs_per_s:,.0f} msg/s) into run {run.id!r} "
        f"as source {run.source!r}: {result.logged} values rows, {result.episodes} episodes, "
        f"{result.videos} videos, {result.errors} undecodable"
    )


def register(group: click.Group) -> None:
    """Add ``import-bag`` to the ``rltrack`` group."""
    group.add_command(import_bag)
