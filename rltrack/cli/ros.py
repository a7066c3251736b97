"""``rltrack import-bag``: recordings (rosbag2 sqlite3/MCAP folders or files, ROS 1 ``.bag``) into a run.

The recording is opened and checked (named topics exist, something to import) before a run is
created, so a bad path or a typo leaves no empty failed run behind.
"""

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
    from rltrack._extras import install_hint  # hints name packages pip can fetch (rltrack is on no index)

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
            raise click.ClickException(f"import-bag needs rosbags ({err}); run `{install_hint('ros')}`") from err
    raise click.ClickException(
        f"import-bag needs the rltrack_ros package; run `{install_hint('ros')} <rltrack checkout>/ros` "
        "or build it with colcon"
    )


@click.command("import-bag")
@click.argument("path", type=click.Path(exists=True))
@click.option("--run", "run_id", help="Attach to this run id (e.g. the training run) as --source.")
@click.option("--project", help="Start a new run in this project (when --run is not given).")
@click.option("--name", help="Name of the new run.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), help="Topic config YAML.")
@click.option("--topic", "topics", multiple=True, help="Import only this topic (repeatable; default: all).")
@click.option("--source", "source_name", default="real", show_default=True, help="Source the values are written under.")
@click.option("--distro", help="Typestore for bags without definitions: humble, iron, jazzy, kilted.")
@click.option(
    "--msg-dir",
    "msg_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    help="Folder of <pkg>/msg/*.msg and <pkg>/srv/*.srv for custom types (repeatable).",
)
@click.option(
    "--clock",
    type=click.Choice(["auto", "header", "receive"]),
    help="Time axis: header stamps (unstamped topics mapped by the measured offset or /clock), receive "
    "(log) time, or auto (header when the bag has stamps; the default, or the config's 'clock').",
)
@click.option("--policy", help="Artifact ref of the deployed policy (e.g. ppo:latest): lineage and step.")
@click.option("--strict", is_flag=True, help="Fail (exit 1) when any selected topic lost messages.")
@dir_option
def import_bag(
    path: str,
    run_id: str | None,
    project: str | None,
    name: str | None,
    config_path: str | None,
    topics: tuple[str, ...],
    source_name: str,
    distro: str | None,
    msg_dirs: tuple[str, ...],
    policy: str | None,
    strict: bool,
    clock: str | None,
    store_dir: str | None,
) -> None:
    """Import a recording (rosbag2 folder, .mcap/.db3 file, ROS 1 .bag) into a run, as source 'real'."""
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
        if clock:
            from dataclasses import replace

            config = replace(config, clock=clock)
        source = ros.bag.open_for(path, config)  # checked before any run exists
    except RltrackError as err:
        raise click.ClickException(str(err)) from err
    try:
        config = _check_input(ros, source, config, guess=config_path is None)
        if run_id:
            _check_not_imported(ros, source, run_id, source_name, store_dir)
            run = rltrack.init(id=run_id, resume="must", source=source_name, dir=store_dir, system_metrics=False)
        else:
            run = rltrack.init(
                project=project, name=name, source=source_name, dir=store_dir, job_type="import", system_metrics=False
            )
    except RltrackError as err:
        source.close()
        raise click.ClickException(str(err)) from err
    except BaseException:
        source.close()
        raise
    step = None
    if policy:
        from rltrack_ros.lineage import use_policy

        step, problem = use_policy(run, policy)
        if problem:
            click.echo(f"warning: {problem}", err=True)
    _run_import(ros, source, run, config, step, strict)


def _check_input(ros: ModuleType, source: Any, config: Any, *, guess: bool) -> Any:
    """Refuse a recording with nothing to import; find the episode topics by name when none are configured."""
    from dataclasses import replace

    from rltrack.errors import RltrackError

    selected = [t for t, info in source.topics.items() if config.topic(t) is not None]

    def nothing() -> bool:
        return not any((source.topics[t].expected is None or source.topics[t].expected) for t in selected)

    if nothing() and source.recount():
        click.echo("warning: metadata.yaml lists fewer messages than the files hold (written before the recording "
                   "ended?); the files' own counts are expected", err=True)  # fmt: skip
    if nothing():
        listing = ", ".join(f"{t} ({info.expected})" for t, info in sorted(source.topics.items())) or "(none)"
        # A file cut before its channels has no topics: say so, with its repair tool.
        files = [*source.problems, *(f"{f.path.name}: {p}" for f in source.files if (p := f.problem()))]
        why = "".join(f"; {problem}" for problem in files)
        raise RltrackError(f"nothing to import: the selected topics of {str(source.path)!r} hold no messages; "
                           f"its topics: {listing}{why}")  # fmt: skip
    _check_decodable(ros, source, selected)
    if config.episodes is None and guess:
        found = ros.bag.guess_episodes(source)
        if found is not None:
            click.echo(f"episodes: reward {found.reward!r}, done {found.done!r} (found by name; a --config with "
                       "'episodes:' names others)", err=True)  # fmt: skip
            return replace(config, episodes=found)
    return config


def _check_not_imported(ros: ModuleType, source: Any, run_id: str, source_name: str, store_dir: str | None) -> None:
    """Refuse, before attaching, a recording the run already holds under that source (values would double)."""
    import rltrack
    from rltrack.errors import RltrackError

    try:
        done = rltrack.Api(dir=store_dir).run(run_id).config.get(ros.bag.IMPORTED_KEY) or []
    except RltrackError:  # no such run or store: attaching says so
        return
    if f"{source_name}:{ros.bag.bag_fingerprint(source.path)}" in done:
        raise RltrackError(ros.bag.already_imported(source.path, run_id, source_name))


def _check_decodable(ros: ModuleType, source: Any, selected: list[str]) -> None:
    """Refuse, before a run exists, a recording none of whose selected messages can be read.

    Either all are of types the decoder does not know (the user runs again with ``--msg-dir``), or
    all sit on topics skipped for what the recording itself is (not CDR, a schema rosbags cannot
    parse): such a run would hold no value, only an empty (or, under ``--strict``, failed) shell.
    When some selected topic can be read, the others' skips are recorded in the run instead (and
    ``--strict`` fails it).
    """
    from rltrack.errors import RltrackError

    decoder = ros.Decoder(source.typestore)
    unknown: list[str] = []
    skipped: list[str] = []
    for topic in sorted(selected):
        info = source.topics[topic]
        if info.expected == 0:
            continue
        if info.skip is not None:
            skipped.append(f"{topic} ({info.msgtype}: {info.skip})")
        elif decoder.knows(source.types.rename.get(info.msgtype, info.msgtype)):
            return
        else:
            unknown.append(f"{topic} ({info.msgtype})")
    if unknown:
        also = f"; skipped: {', '.join(skipped)}" if skipped else ""
        raise RltrackError(f"nothing to import: the message types of {', '.join(unknown)} in "
                           f"{str(source.path)!r} are unknown; pass a folder of <pkg>/msg/*.msg and <pkg>/srv/*.srv "
                           "files that defines them with --msg-dir, or --topic to name other topics"
                           f"{also}")  # fmt: skip
    if skipped:
        raise RltrackError(f"nothing to import: no selected topic of {str(source.path)!r} can be read: "
                           f"{', '.join(skipped)}")  # fmt: skip


def _with_options(config: Any, topics: tuple[str, ...], distro: str | None, msg_dirs: tuple[str, ...]) -> Any:
    from dataclasses import replace

    if topics:
        config = config.with_topics(topics)
    if distro:
        config = replace(config, distro=distro, distro_given=True)
    if msg_dirs:
        config = replace(config, msg_dirs=config.msg_dirs + tuple(str(Path(d).resolve()) for d in msg_dirs))
    return config


def _run_import(ros: ModuleType, source: Any, run: Any, config: Any, step: int | None, strict: bool) -> None:
    import warnings

    from rltrack.errors import RltrackError

    with (
        click.progressbar(length=0, label=f"importing {source.path}", show_pos=True, file=sys.stderr) as bar,
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        seen = [0]

        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - seen[0])
            seen[0] = done

        try:
            result = ros.import_bag(source, run, config, step_offset=step, progress=progress, strict=strict)
        except RltrackError as err:
            _echo_warnings(caught)
            run.finish(1, reason=str(err)[:500])
            raise click.ClickException(f"{err} (run {run.id!r}, source {run.source!r})") from err
    _echo_warnings(caught)
    run.finish()
    report = result.report
    if report is not None:
        click.echo(report.table())
        quiet = ros.bag.quiet_topics(source, config)
        for hint in report.hints(quiet):
            click.echo(hint, err=True)
    episodes = f"{result.episodes} episodes"
    if config.episodes is None:
        episodes += " (no episode topics configured: a --config with 'episodes: {reward: /rl/reward, done: /rl/done}')"
    click.echo(
        f"imported {result.messages} messages ({result.rate_msgs_per_s:,.0f} msg/s) into run {run.id!r} "
        f"as source {run.source!r}: {result.logged} values rows, {episodes}, "
        f"{result.videos} videos, {result.errors} undecodable"
    )


def _echo_warnings(caught: list[Any]) -> None:
    for w in caught:
        click.echo(f"warning: {w.message}", err=True)


def register(group: click.Group) -> None:
    """Add ``import-bag`` to the ``rltrack`` group."""
    group.add_command(import_bag)
