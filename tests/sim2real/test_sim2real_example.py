"""examples/sim2real_compare.py runs end to end with tiny counts."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sim2real_compare.py"


def test_example_prints_the_gap_and_writes_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "gap.html"
    argv = [str(EXAMPLE), "--episodes", "5", "--max-steps", "40", "--dir", str(tmp_path / "store"), "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    text = capsys.readouterr().out
    assert "paired episodes (5 pairs by episode/seed" in text
    assert "open-loop replay of stand-in episode 0" in text
    assert out.is_file()


def test_without_out_the_report_goes_into_the_run_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    argv = [str(EXAMPLE), "--episodes", "3", "--max-steps", "20", "--dir", str(store)]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("HTML report: "))
    report = Path(line.removeprefix("HTML report: "))
    assert report.parent.parent == store / "runs" and report.name == "sim2real_gap.html"
    assert report.is_file()
    assert list(Path.cwd().iterdir()) == []  # nothing lands in the current folder
