"""``rltrack runs ls|show`` and ``rltrack export`` as a user runs them."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import rltrack
from rltrack.cli import main


@pytest.fixture
def filled(store_dir: Path) -> str:
    run = rltrack.init(project="cartpole", name="ppo-1", dir=store_dir, config={"lr": 0.001}, system_metrics=False)
    run.log({"train/loss": 0.5}, step=0)
    run.log({"train/loss": 0.25}, step=10)
    run.finish()
    real = rltrack.init(id=run.id, resume="must", source="real", dir=store_dir, system_metrics=False)
    real.log({"episode/return": 42.0}, step=10, t_ns=123)
    real.finish()
    return run.id


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_runs_ls_lists_the_run(store_dir: Path, filled: str) -> None:
    out = _invoke("runs", "ls", "--dir", str(store_dir))
    assert filled in out
    assert "ppo-1" in out
    assert "sim,real" in out


def test_runs_ls_keeps_columns_aligned_with_long_ids(store_dir: Path, filled: str) -> None:
    long_id = "a-long-run-id-rewound-1"
    rltrack.init(id=long_id, project="cartpole", name="archive", dir=store_dir, system_metrics=False).finish()
    lines = _invoke("runs", "ls", "--dir", str(store_dir)).splitlines()
    starts = {line.index(word) for line, word in zip(lines, ("PROJECT", "cartpole", "cartpole"), strict=True)}
    assert len(starts) == 1 and any(line.startswith(long_id + " ") for line in lines)


def test_runs_ls_shows_a_long_project_name_whole(store_dir: Path, filled: str) -> None:
    rltrack.init(project="calibrate-cartpole-long", name="trial", dir=store_dir, system_metrics=False).finish()
    lines = _invoke("runs", "ls", "--dir", str(store_dir)).splitlines()
    assert "calibrate-cartpole-long " in lines[1]
    assert len({line.index(word) for line, word in zip(lines, ("NAME", "trial", "ppo-1"), strict=True)}) == 1


def test_runs_ls_with_filters_nothing_matches_says_which_and_suggests_the_project(
        store_dir: Path, filled: str) -> None:
    out = _invoke("runs", "ls", "--dir", str(store_dir), "--project", "cartpol")
    assert out.strip() == (f"no runs in {store_dir} match --project 'cartpol'; did you mean 'cartpole'? "
                           "projects here: cartpole")
    out = _invoke("runs", "ls", "--dir", str(store_dir), "--project", "cartpole", "--state", "failed")
    assert out.strip() == f"no runs in {store_dir} match --project 'cartpole' --state 'failed'"


def test_runs_ls_json(store_dir: Path, filled: str) -> None:
    data = json.loads(_invoke("runs", "ls", "--dir", str(store_dir), "--json"))
    assert [(r["id"], r["state"], r["config"], r["sources"]) for r in data] == [
        (filled, "finished", {"lr": 0.001}, ["sim", "real"])
    ]


def test_runs_show(store_dir: Path, filled: str) -> None:
    out = _invoke("runs", "show", filled, "--dir", str(store_dir))
    assert "lr = 0.001" in out
    assert "summary [real]" in out
    assert "episode/return = 42.0" in out


def test_runs_show_unknown_id_is_a_clean_error(store_dir: Path, filled: str) -> None:
    result = CliRunner().invoke(main, ["runs", "show", "nope", "--dir", str(store_dir)])
    assert result.exit_code == 1
    assert "no run 'nope' in" in result.output and "rltrack runs ls" in result.output


def test_runs_ls_on_a_folder_without_a_store(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["runs", "ls", "--dir", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "no rltrack store at" in result.output


def test_runs_ls_inside_the_store_folder_says_to_pass_dir_dot(
        store_dir: Path, filled: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(store_dir)  # `cd rltrack-runs && rltrack runs ls`
    monkeypatch.delenv("RLTRACK_DIR", raising=False)
    result = CliRunner().invoke(main, ["runs", "ls"])
    assert result.exit_code == 1
    assert result.output.strip().endswith("this folder holds rltrack.db: pass --dir .")
    assert filled in _invoke("runs", "ls", "--dir", ".")


def test_export_csv_has_every_point_of_every_source(store_dir: Path, filled: str) -> None:
    rows = list(csv.reader(io.StringIO(_invoke("export", filled, "--dir", str(store_dir)))))
    assert rows[0] == ["source", "key", "step", "t_ns", "value"]
    body = [(r[0], r[1], r[2], r[4]) for r in rows[1:]]
    assert body == [("sim", "train/loss", "0", "0.5"), ("sim", "train/loss", "10", "0.25"),
                    ("real", "episode/return", "10", "42.0")]


def test_export_jsonl(store_dir: Path, filled: str) -> None:
    lines = _invoke("export", filled, "--dir", str(store_dir), "--format", "jsonl").splitlines()
    assert json.loads(lines[-1]) == {"source": "real", "key": "episode/return", "step": 10, "t_ns": 123,
                                     "value": 42.0}


def test_export_parquet(store_dir: Path, filled: str, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "run.parquet"
    _invoke("export", filled, "--dir", str(store_dir), "--format", "parquet", "--out", str(out))
    table = pq.read_table(out).to_pydict()
    assert table["key"] == ["train/loss", "train/loss", "episode/return"]
    assert table["value"] == [0.5, 0.25, 42.0]


def _fail(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code != 0, result.output
    return result.output


def test_runs_show_takes_a_unique_id_prefix(store_dir: Path, filled: str) -> None:
    out = _invoke("runs", "show", filled[:4], "--dir", str(store_dir))
    assert out.startswith(f"run      {filled}  (ppo-1)")


def test_runs_show_suggests_the_nearest_id_for_a_typo(store_dir: Path, filled: str) -> None:
    typo = filled[:-1] + ("x" if filled[-1] != "x" else "y")
    out = _fail("runs", "show", typo, "--dir", str(store_dir))
    assert f"no run {typo!r}" in out
    assert f"did you mean {filled!r}?" in out


def test_an_ambiguous_prefix_lists_the_runs_it_matches(store_dir: Path) -> None:
    a = rltrack.init(project="p", id="abc111", dir=store_dir, system_metrics=False)
    a.finish()
    b = rltrack.init(project="p", id="abc222", dir=store_dir, system_metrics=False)
    b.finish()
    out = _fail("runs", "show", "abc", "--dir", str(store_dir))
    assert "run id prefix 'abc' matches 2 runs (abc111, abc222); type more of the id" in out


def test_runs_ls_refuses_an_unknown_state_and_lists_the_choices(store_dir: Path, filled: str) -> None:
    out = _fail("runs", "ls", "--state", "bogus", "--dir", str(store_dir))
    assert "'bogus' is not one of 'running', 'finished', 'failed', 'crashed', 'pruned'" in out


def test_a_missing_store_names_the_dir_flag(tmp_path: Path) -> None:
    out = _fail("runs", "ls", "--dir", str(tmp_path / "nowhere"))
    assert "no rltrack store at" in out and "pass --dir PATH" in out
    assert "dir=" not in out
