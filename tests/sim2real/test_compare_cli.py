"""``rltrack compare`` as a user runs it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from rltrack.cli import main


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_compare_prints_the_gap_table(sim_real_run: Callable[..., str], store_dir: Path) -> None:
    run_id = sim_real_run(range(5), masspole=0.5, max_steps=40)
    code, out = invoke("compare", run_id, "--dir", str(store_dir), "--n-boot", "200")
    assert code == 0, out
    # No deployed policy step recorded: every sim episode, and the table says so.
    assert f"sim: all 5 episodes (no deployed policy step recorded); run {run_id}, source 'sim'" in out
    assert f"real: 5 episodes; run {run_id}, source 'real'" in out
    assert "paired episodes (5 pairs by episode/seed, aligned on step)" in out
    assert "versions: no policy versions given" in out


def test_compare_json_and_html(sim_real_run: Callable[..., str], store_dir: Path, tmp_path: Path) -> None:
    run_id = sim_real_run(range(5), max_steps=30)
    html = tmp_path / "out" / "report.html"
    code, out = invoke(
        "compare",
        run_id,
        "--dir",
        str(store_dir),
        "--json",
        "--keys",
        "obs/0,obs/1",
        "--out",
        str(html),
        "--n-boot",
        "100",
    )
    assert code == 0, out
    report = json.loads(out[: out.rindex("}") + 1])
    assert sorted(report["signals"]) == ["obs/0", "obs/1"]
    assert report["episodes"]["return"]["n_real"] == 5
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_compare_map_pairs_keys(sim_real_run: Callable[..., str], store_dir: Path) -> None:
    run_id = sim_real_run(range(5), max_steps=30, real_signal=lambda obs: {"joint/vel": float(obs[3])})
    code, out = invoke(
        "compare", run_id, "--dir", str(store_dir), "--json", "--keys", "obs/3", "--map", "obs/3=joint/vel"
    )
    assert code == 0, out
    assert json.loads(out)["signals"]["obs/3"]["real_key"] == "joint/vel"


def test_compare_unknown_run_is_a_clean_error(sim_real_run: Callable[..., str], store_dir: Path) -> None:
    sim_real_run(range(1), max_steps=5)
    code, out = invoke("compare", "nosuchrun", "--dir", str(store_dir))
    assert code == 1
    assert out.startswith("Error: ")
    assert "nosuchrun" in out
    assert "Traceback" not in out


def test_compare_bad_map_is_a_usage_error(sim_real_run: Callable[..., str], store_dir: Path) -> None:
    run_id = sim_real_run(range(1), max_steps=5)
    code, out = invoke("compare", run_id, "--dir", str(store_dir), "--map", "obs/3")
    assert code == 2
    assert "'obs/3' is not SIM_KEY=REAL_KEY" in out


def test_compare_pair_by_order(sim_real_run: Callable[..., str], store_dir: Path) -> None:
    run_id = sim_real_run(range(3), real_seeds=range(10, 13), max_steps=10)
    code, out = invoke("compare", run_id, "--dir", str(store_dir), "--json", "--pair-by", "order", "--n-boot", "50")
    assert code == 0, out
    assert json.loads(out)["paired"]["pair_key"] == "episode order"
