"""Options shared by every ``rltrack`` command."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

__all__ = ["dir_option", "open_api"]

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
    """Open the store read-only, turning rltrack errors into a clean CLI error."""
    from rltrack.api import Api
    from rltrack.errors import RltrackError

    try:
        return Api(store_dir)
    except RltrackError as err:
        raise click.ClickException(str(err)) from err
