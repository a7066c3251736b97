"""The media files of a branched run: copied into a fork or an archive, removed from a rewound run.

Only regular files inside the run's folder are touched: a media row naming a path out of it (a store written
by something that skipped the checks) or a symbolic link is never copied from nor removed.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from pathlib import Path

from rltrack.store.reader import MediaRow

__all__ = ["copy_media", "remove_media"]


def _media_files(folder: Path, path: str) -> list[str]:
    """The files of one media row: its file and, for a table, its cells (``<stem>-r<row>-c<col>.*``).

    Only regular files inside ``folder``: a row naming a path out of the run's folder (a store written by
    something that skipped the checks) or a symbolic link is left alone, never copied from nor removed.
    """
    file = Path(path)
    cells = re.compile(re.escape(file.stem) + r"-r\d+-c\d+(\..*)?")
    parent = folder / file.parent
    try:
        names = [p.name for p in parent.iterdir() if cells.fullmatch(p.name)] if parent.is_dir() else []
    except OSError:
        names = []
    return [rel for rel in (path, *(str(file.parent / n) for n in sorted(names))) if _inside(folder, rel)]


def _inside(folder: Path, rel: str) -> bool:
    target = folder / rel
    try:
        return (not target.is_symlink() and ".." not in Path(rel).parts and not Path(rel).is_absolute()
                and target.resolve().is_relative_to(folder.resolve()))
    except (OSError, ValueError):
        return False


def copy_media(src: Path, dst: Path, media: list[MediaRow]) -> None:
    # Copies, not hard links: a resumed source writing the same name must not change the branch's file.
    for m in media:
        for rel in _media_files(src, m.path):
            if (src / rel).is_file():
                (dst / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src / rel, dst / rel, follow_symlinks=False)


def remove_media(folder: Path, media: list[MediaRow]) -> None:
    # The archive holds copies; a file left behind would only cost disk, so failures are ignored.
    for m in media:
        for rel in _media_files(folder, m.path):
            with contextlib.suppress(OSError):
                (folder / rel).unlink(missing_ok=True)
