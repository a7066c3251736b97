"""Options shared by every ``rltrack`` command."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

__all__ = ["dir_option", "open_api", "resolve_run_id"]

F = TypeVar("F", bound=Callable[..., Any])


def dir_option(func: F) -> F:
    """Add ``--dir`` (the store folder; default ``$RLTRACK_DIR`` or ``./rltrack-runs``)."""
    return click.option(
        "--dir",
        "store_dir",
        type=click.Path(file_okay=False),
        default=None,
        help="Store folder (default: $RLTRACK_DIR or ./rltrack-runs).",
    )(func)


def open_api(store_dir: str | None) -> Any:
    """Open the store read-only, turning rltrack errors into a clean CLI error that names ``--dir``."""
    from rltrack.api import Api
    from rltrack.errors import RltrackError
    from rltrack.store.paths import DB_FILENAME, resolve_root

    root = resolve_root(store_dir)
    if not (root / DB_FILENAME).is_file():
        raise click.ClickException(missing_store(store_dir, root))
    try:
        return Api(store_dir)
    except RltrackError as err:
        raise click.ClickException(str(err)) from err


def missing_store(store_dir: str | None, root: Path) -> str:
    """The CLI's message for a folder without ``rltrack.db``: names ``--dir``, and the store the user stands in."""
    from rltrack.store.paths import DB_FILENAME

    where = "--dir" if store_dir is not None else "no --dir given: $RLTRACK_DIR or ./rltrack-runs"
    text = (f"no rltrack store at {str(root)!r} ({where}); log a run first, or pass --dir PATH "
            f"(or set RLTRACK_DIR) to the folder that holds {DB_FILENAME}")
    if store_dir is None and (Path.cwd() / DB_FILENAME).is_file():
        # `cd rltrack-runs && rltrack ui` is the usual slip: the folder holding rltrack.db is the store.
        text += f"; this folder holds {DB_FILENAME}: pass --dir ."
    return text


def resolve_run_id(api: Any, run_id: str) -> str:
    """Return the id of the one run whose id is ``run_id`` or starts with it.

    Raises:
        click.ClickException: no run matches (with the nearest ids, if any) or the prefix is ambiguous.
    """
    import difflib

    ids: list[str] = [str(r.id) for r in api.runs()]
    if run_id in ids:
        return run_id
    matches = [i for i in ids if i.startswith(run_id)] if run_id else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        shown = ", ".join(sorted(matches)[:10]) + (" ..." if len(matches) > 10 else "")
        raise click.ClickException(
            f"run id prefix {run_id!r} matches {len(matches)} runs ({shown}); type more of the id"
        )
    near = difflib.get_close_matches(run_id, ids, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(n) for n in near)}?" if near else "; `rltrack runs ls` lists the runs"
    raise click.ClickException(f"no run {run_id!r} in {str(api.root)!r}{hint}")
