"""``rltrack import-tb``: TensorBoard event files (or folders of runs) into runs, one per folder.

The runs are found and checked before any run is created, so a wrong path leaves nothing behind.
A corrupt event file stops the import with an error naming the file: the runs imported before it
are kept, and the run being imported keeps every value before the bad record (marked failed).
"""

from __future__ import annotations

import sys

import click

from rltrack.cli.options import dir_option

__all__ = ["import_tb", "register"]


def _summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "nothing"


@click.command("import-tb")
@click.argument("path", type=click.Path(exists=True))
@click.option("--project", default="tensorboard", show_default=True, help="Project of the new runs.")
@click.option("--name", help="Name of the run (only when PATH holds one run; default: its folder's path).")
@click.option("--group", help="Group of the new runs (default: none).")
@click.option("--source", "source_name", default="sim", show_default=True, help="Source the values are written under.")
@dir_option
def import_tb(
    path: str, project: str, name: str | None, group: str | None, source_name: str, store_dir: str | None
) -> None:
    """Import TensorBoard event files: scalars, histograms, images, hparams (into config), wall times."""
    import rltrack
    from rltrack.errors import RltrackError

    try:
        from rltrack.tensorboard import find_runs, import_run

        found = find_runs(path)
        import tensorboard  # noqa: F401  # checked before any run is created
    except ImportError as err:
        from rltrack._extras import install_hint

        raise click.ClickException(f"import-tb needs tensorboard ({err}); run `{install_hint('tensorboard')}`") from err
    except RltrackError as err:
        raise click.ClickException(str(err)) from err
    if name is not None and len(found) > 1:
        raise click.UsageError(f"--name names one run but {path!r} holds {len(found)}; leave --name out")
    done: list[str] = []
    with click.progressbar(
        length=sum(r.size for r in found), label=f"importing {path}", file=sys.stderr, show_percent=True
    ) as bar:
        for tb_run in found:
            try:
                run = rltrack.init(
                    project=project, name=name or tb_run.name, group=group, source=source_name, dir=store_dir,
                    job_type="import", system_metrics=False, quiet=True,
                )  # fmt: skip
            except RltrackError as err:
                raise click.ClickException(str(err)) from err
            try:
                result = import_run(tb_run, run, bar.update)
            except RltrackError as err:
                run.finish(1, reason=str(err)[:500])
                kept = f"; runs imported before it are kept: {', '.join(done)}" if done else ""
                raise click.ClickException(
                    f"{err} (run {run.id!r} keeps the values before it and is marked failed{kept})"
                ) from err
            run.finish()
            done.append(repr(run.id))
            skipped = f"; skipped {_summary(result.skipped)}" if result.skipped else ""
            click.echo(f"imported {tb_run.name!r} into run {run.id!r}: {_summary(result.logged)}{skipped}")
    click.echo(f"{len(found)} run(s) imported into project {project!r}")


def register(group: click.Group) -> None:
    """Add ``import-tb`` to the ``rltrack`` group."""
    group.add_command(import_tb)
