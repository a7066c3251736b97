"""``rltrack ui`` on a folder without a store: the error names the ``--dir`` option, as ``rltrack runs`` does."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from rltrack.cli import main


def test_ui_on_a_folder_without_a_store_names_the_dir_option(tmp_path: Path) -> None:
    empty = tmp_path / "no-store"
    empty.mkdir()
    result = CliRunner().invoke(main, ["ui", "--dir", str(empty), "--port", "0"])
    assert result.exit_code == 1, result.output
    assert result.output == (f"Error: no rltrack store at {str(empty)!r} (--dir); log a run first, or pass --dir PATH "
                             "(or set RLTRACK_DIR) to the folder that holds rltrack.db\n")
    assert "dir=" not in result.output  # the Python API's spelling, which a CLI user cannot pass
    assert list(empty.iterdir()) == []  # nothing was created there


def test_ui_inside_the_store_folder_says_pass_dir_dot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "rltrack.db").write_bytes(b"")  # `cd rltrack-runs && rltrack ui`: the usual slip
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RLTRACK_DIR", raising=False)
    result = CliRunner().invoke(main, ["ui", "--port", "0"])
    assert result.exit_code == 1, result.output
    assert "(no --dir given: $RLTRACK_DIR or ./rltrack-runs)" in result.output
    assert result.output.rstrip().endswith("this folder holds rltrack.db: pass --dir .")
