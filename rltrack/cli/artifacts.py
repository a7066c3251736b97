"""``rltrack artifacts ls|show|get``: list artifact versions, inspect one, and materialise its files."""

from __future__ import annotations

import json
from typing import Any

import click

from rltrack.cli.options import dir_option, open_api
from rltrack.errors import RltrackError

__all__ = ["register"]


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # unreachable: the loop always returns


def _when(version: Any) -> str:
    return str(version.created_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"))


def _version_json(v: Any) -> dict[str, Any]:
    return {
        "name": v.name, "version": v.version, "type": v.type, "digest": v.digest, "size": v.size,
        "aliases": v.aliases, "metadata": v.metadata, "description": v.description, "created_ns": v.created_ns,
        "logged_by": v.logged_by_id,
    }


@click.group("artifacts")
def artifacts_group() -> None:
    """List, inspect and download artifact versions (policy checkpoints, datasets)."""


@artifacts_group.command("ls")
@dir_option
@click.argument("name", required=False)
@click.option("--type", "type_", default=None, help="Only artifacts of this type (model, dataset, ...).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def artifacts_ls(store_dir: str | None, name: str | None, type_: str | None, as_json: bool) -> None:
    """List artifact versions (all, or of NAME), by name then version."""
    api = open_api(store_dir)
    try:
        versions = api.artifacts(name, type=type_)
    except RltrackError as err:
        raise click.ClickException(str(err)) from err
    if as_json:
        click.echo(json.dumps([_version_json(v) for v in versions], indent=2))
        return
    if not versions:
        click.echo(f"no artifacts in {api.root}")
        return
    click.echo(f"{'NAME':<24} {'VERSION':<7} {'TYPE':<10} {'SIZE':>10} {'CREATED':<19} {'LOGGED BY':<10} ALIASES")
    for v in versions:
        click.echo(
            f"{v.name[:24]:<24} {v.version:<7} {v.type[:10]:<10} {_size(v.size):>10} {_when(v):<19} "
            f"{(v.logged_by_id or '-')[:10]:<10} {','.join(v.aliases)}"
        )


@artifacts_group.command("show")
@dir_option
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def artifacts_show(store_dir: str | None, ref: str, as_json: bool) -> None:
    """Show one version (REF is NAME, NAME:ALIAS or NAME:vN): files, aliases, metadata, lineage."""
    api = open_api(store_dir)
    try:
        v = api.artifact(ref)
        users = [r.id for r in v.used_by]
    except RltrackError as err:
        raise click.ClickException(str(err)) from err
    files = v.files
    if as_json:
        data = _version_json(v)
        data["used_by"] = users
        data["files"] = [{"path": f.path, "digest": f.digest, "size": f.size} for f in files]
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"{v.ref}  ({v.type}, {_size(v.size)}, {len(files)} file{'s' if len(files) != 1 else ''})")
    click.echo(f"  digest:    sha256:{v.digest}")
    click.echo(f"  aliases:   {', '.join(v.aliases) or '-'}")
    click.echo(f"  created:   {_when(v)}")
    click.echo(f"  logged by: {v.logged_by_id or '-'}")
    click.echo(f"  used by:   {', '.join(users) or '-'}")
    if v.description:
        click.echo(f"  description: {v.description}")
    click.echo(f"  metadata:  {json.dumps(v.metadata)}")
    click.echo("  files:")
    for f in files:
        click.echo(f"    {f.path}  {_size(f.size)}  sha256:{f.digest[:16]}")


@artifacts_group.command("get")
@dir_option
@click.argument("ref")
@click.option(
    "--to", "to", type=click.Path(file_okay=False), default=None,
    help="Folder to put the files in (default: <store>/artifacts/downloads/NAME/vN).",
)
def artifacts_get(store_dir: str | None, ref: str, to: str | None) -> None:
    """Copy a version's files into a folder, each checked against its sha256; prints the folder."""
    api = open_api(store_dir)
    try:
        path = api.artifact(ref).download(to)
    except RltrackError as err:
        raise click.ClickException(str(err)) from err
    click.echo(str(path))


def register(group: click.Group) -> None:
    """Add the ``artifacts`` command group to ``group`` (the ``rltrack`` command)."""
    group.add_command(artifacts_group)
