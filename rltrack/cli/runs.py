"""``rltrack runs ls|show`` and ``rltrack export``: look at runs and take their values elsewhere."""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click

from rltrack.cli.options import dir_option, open_api, resolve_run_id
from rltrack.errors import RltrackError
from rltrack.types import RUN_STATES

__all__ = ["register"]


def _when(ns: int | None) -> str:
    if not ns:
        return "-"
    return dt.datetime.fromtimestamp(ns / 1e9).strftime("%Y-%m-%d %H:%M:%S")


def _run_json(run: Any) -> dict[str, Any]:
    return {
        "id": run.id, "name": run.name, "project": run.project, "group": run.group, "tags": run.tags,
        "state": run.state, "reason": run.reason, "created_ns": run.created_ns, "ended_ns": run.ended_ns,
        "sources": run.sources, "config": run.config, "summary": run.summary,
    }


@click.group("runs")
def runs_group() -> None:
    """List and inspect runs."""


@runs_group.command("ls")
@dir_option
@click.option("--project", default=None, help="Only this project.")
@click.option("--group", default=None, help="Only this group.")
@click.option("--state", type=click.Choice(RUN_STATES), default=None, help="Only runs in this state.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def runs_ls(store_dir: str | None, project: str | None, group: str | None, state: str | None, as_json: bool) -> None:
    """List runs, newest first."""
    api = open_api(store_dir)
    runs = api.runs(project, group=group, state=state)
    if as_json:
        click.echo(json.dumps([_run_json(r) for r in runs], indent=2, default=repr))
        return
    if not runs:
        click.echo(_nothing_matched(api, project, group, state))
        return
    # As wide as the longest id (ids are up to 64 characters: fork archives read '<id>-rewound-<k>') and the
    # longest project (a cut 'calibrate-cartpo' cannot be pasted into --project), never cut.
    w = max(10, *(len(r.id) for r in runs))
    pw = max(16, *(len(r.project) for r in runs))
    header = f"{'ID':<{w}} {'PROJECT':<{pw}} {'NAME':<22} {'STATE':<9} {'CREATED':<19} SOURCES"
    click.echo(header)
    for r in runs:
        click.echo(
            f"{r.id:<{w}} {r.project:<{pw}} {r.name[:22]:<22} {r.state:<9} {_when(r.created_ns):<19} "
            f"{','.join(r.sources)}"
        )


def _nothing_matched(api: Any, project: str | None, group: str | None, state: str | None) -> str:
    """Say why ``runs ls`` listed nothing: an empty store, or filters no run matches (naming them)."""
    given = [f"--{name} {value!r}" for name, value in (("project", project), ("group", group), ("state", state))
             if value is not None]
    if not given:
        return f"no runs in {api.root}"
    line = f"no runs in {api.root} match {' '.join(given)}"
    if project is not None:
        projects = api.projects()
        if project not in projects:
            near = difflib.get_close_matches(project, projects, n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            line += f"; {hint}projects here: {', '.join(projects) or 'none'}"
    return line


@runs_group.command("show")
@dir_option
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def runs_show(store_dir: str | None, run_id: str, as_json: bool) -> None:
    """Show one run: state, config, summary per source, keys, media and metadata."""
    api = open_api(store_dir)
    try:
        run = api.run(resolve_run_id(api, run_id))
    except RltrackError as err:
        raise click.ClickException(str(err)) from err
    if as_json:
        data = _run_json(run)
        data["metadata"] = run.metadata
        data["keys"] = {s: run.keys(s) for s in run.sources}
        click.echo(json.dumps(data, indent=2, default=repr))
        return
    click.echo(f"run      {run.id}  ({run.name})")
    click.echo(f"project  {run.project}   group {run.group or '-'}   tags {', '.join(run.tags) or '-'}")
    state = run.state + (f" ({run.reason})" if run.reason else "")
    click.echo(f"state    {state}")
    click.echo(f"created  {_when(run.created_ns)}   ended {_when(run.ended_ns)}")
    click.echo(f"folder   {run.dir}")
    click.echo("config")
    for k, v in sorted(run.config.items()):
        click.echo(f"  {k} = {v!r}")
    for source in run.sources:
        click.echo(f"summary [{source}]")
        for k, v in sorted(run.summary_of(source).items()):
            click.echo(f"  {k} = {v!r}")
        keys = run.keys(source)
        click.echo(f"keys [{source}] ({len(keys)}): {', '.join(keys[:40])}{' ...' if len(keys) > 40 else ''}")
    media = run.media()
    if media:
        click.echo(f"media ({len(media)})")
        for m in media[:20]:
            click.echo(f"  {m.source}/{m.key} step {m.step}: {m.kind} {m.path}")
    git = run.metadata.get("git")
    if git:
        click.echo(f"git      {git.get('commit', '')[:12]} {git.get('branch')} {'dirty' if git.get('dirty') else ''}")


def _rows(run: Any) -> Iterator[tuple[str, str, int, int, float]]:
    for source in run.sources:
        for key in run.keys(source):
            steps, times, values = run.series(key, source=source)
            for s, t, v in zip(steps.tolist(), times.tolist(), values.tolist(), strict=True):
                yield source, key, s, t, v


@click.command("export")
@dir_option
@click.argument("run_id")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "parquet"]), default="csv", show_default=True)
@click.option(
    "--out", type=click.Path(dir_okay=False), default=None, help="Output file (default: stdout; parquet needs one)."
)
def export(store_dir: str | None, run_id: str, fmt: str, out: str | None) -> None:
    """Export every value of a run as long rows: source, key, step, t_ns, value."""
    api = open_api(store_dir)
    try:
        run = api.run(resolve_run_id(api, run_id))
    except RltrackError as err:
        raise click.ClickException(str(err)) from err
    if fmt == "parquet":
        _parquet(run, out)
        return
    stream: IO[str]
    stream = open(out, "w", newline="", encoding="utf-8") if out else sys.stdout  # noqa: SIM115 - closed below
    try:
        if fmt == "csv":
            writer = csv.writer(stream)
            writer.writerow(["source", "key", "step", "t_ns", "value"])
            writer.writerows(_rows(run))
        else:
            for source, key, s, t, v in _rows(run):
                stream.write(json.dumps({"source": source, "key": key, "step": s, "t_ns": t, "value": v}) + "\n")
    finally:
        if out:
            stream.close()
    if out:
        click.echo(f"wrote {out}", err=True)


def _parquet(run: Any, out: str | None) -> None:
    if not out:
        raise click.UsageError("--format parquet needs --out FILE")
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as err:
        raise click.ClickException("parquet export needs pyarrow: pip install pyarrow") from err
    import numpy as np

    columns: dict[str, list[Any]] = {"source": [], "key": [], "step": [], "t_ns": [], "value": []}
    for source in run.sources:
        for key in run.keys(source):
            steps, times, values = run.series(key, source=source)
            columns["source"].append(np.full(steps.shape[0], source, dtype=object))
            columns["key"].append(np.full(steps.shape[0], key, dtype=object))
            columns["step"].append(steps)
            columns["t_ns"].append(times)
            columns["value"].append(values)
    table = pa.table({k: (np.concatenate(v) if v else np.empty(0)) for k, v in columns.items()})
    pq.write_table(table, Path(out))
    click.echo(f"wrote {out}", err=True)


def register(group: click.Group) -> None:
    """Add ``runs`` and ``export`` to the ``rltrack`` group."""
    group.add_command(runs_group)
    group.add_command(export)
