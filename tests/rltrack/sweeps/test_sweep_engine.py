from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import optuna
import pytest

from rltrack.sweeps import SweepNotFoundError, parse_config, sweep
from rltrack.sweeps.engine import load_sweep, make_pruner, make_sampler, open_storage, sweep_folder
from rltrack.sweeps.space import Space

BUDGET = 40
SEEDS = range(5)


def _branin(x: float, y: float) -> float:
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (y - b * x**2 + c * x - 6) ** 2 + 10 * (1 - t) * math.cos(x) + 10


BRANIN_MIN = 0.397887


def _best_on_branin(method: str, seed: int) -> float:
    cfg = parse_config(
        {
            "method": method,
            "metric": {"name": "branin", "goal": "minimize"},
            "parameters": {"x": {"min": -5.0, "max": 10.0}, "y": {"min": 0.0, "max": 15.0}},
        }
    )
    study = optuna.create_study(sampler=make_sampler(cfg, seed=seed), direction=cfg.metric.goal)
    space = Space(cfg.params)
    for _ in range(BUDGET):
        trial = study.ask()
        params = space.sample(trial)
        study.tell(trial, _branin(params["x"], params["y"]))
    return float(study.best_value)


def test_bayes_beats_random_on_branin_with_the_same_budget() -> None:
    bayes = [_best_on_branin("bayes", s) for s in SEEDS]
    rand = [_best_on_branin("random", s) for s in SEEDS]
    regret_bayes = sum(v - BRANIN_MIN for v in bayes) / len(bayes)
    regret_random = sum(v - BRANIN_MIN for v in rand) / len(rand)
    # Measured: TPE's mean regret is about 0.3 vs 1.2 for random search with 40 trials.
    assert regret_bayes < 0.5 * regret_random, (bayes, rand)


@pytest.mark.parametrize(
    ("method", "sampler"),
    [
        ("grid", optuna.samplers.GridSampler),
        ("random", optuna.samplers.RandomSampler),
        ("bayes", optuna.samplers.TPESampler),
    ],
)
def test_method_picks_the_optuna_sampler(method: str, sampler: type[Any]) -> None:
    cfg = parse_config({"method": method, "metric": {"name": "m"}, "parameters": {"a": {"values": [1, 2]}}})
    assert isinstance(make_sampler(cfg, seed=0), sampler)


def test_early_terminate_makes_a_hyperband_pruner() -> None:
    base = {"method": "random", "metric": {"name": "m"}, "parameters": {"a": {"values": [1, 2]}}}
    cfg = parse_config({**base, "early_terminate": {"type": "hyperband", "min_iter": 2, "max_iter": 18, "eta": 3}})
    pruner = make_pruner(cfg)
    assert isinstance(pruner, optuna.pruners.HyperbandPruner)
    assert isinstance(make_pruner(parse_config(base)), optuna.pruners.NopPruner)


def test_grid_ask_tell_does_not_stop_the_study_outside_optimize() -> None:
    # Optuna's GridSampler.after_trial calls study.stop(), which raises outside optimize().
    cfg = parse_config({"method": "grid", "metric": {"name": "m"}, "parameters": {"a": {"values": [1, 2]}}})
    study = optuna.create_study(sampler=make_sampler(cfg))
    space = Space(cfg.params)
    seen = []
    for _ in range(2):
        trial = study.ask()
        seen.append(space.sample(trial)["a"])
        study.tell(trial, 0.0)
    assert sorted(seen) == [1, 2]


def test_sweep_keeps_its_journal_next_to_the_store(tmp_path: Path) -> None:
    sweep_id = sweep(
        {"method": "random", "metric": {"name": "m"}, "parameters": {"a": {"values": [1]}}}, project="p", dir=tmp_path
    )
    assert sorted(p.name for p in sweep_folder(tmp_path).iterdir()) == [f"{sweep_id}.journal", f"{sweep_id}.json"]
    handle = load_sweep(sweep_id, tmp_path)
    assert (handle.project, handle.config.method, handle.study.direction) == (
        "p",
        "random",
        optuna.study.StudyDirection.MINIMIZE,
    )


def test_sweep_in_a_database_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    cfg = {"method": "random", "metric": {"name": "m", "goal": "maximize"}, "parameters": {"a": {"values": [1]}}}
    sweep_id = sweep(cfg, dir=tmp_path / "store", storage=url)
    # An agent on this store finds the URL through the pointer; one elsewhere passes storage=.
    assert load_sweep(sweep_id, tmp_path / "store").study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert load_sweep(sweep_id, tmp_path / "elsewhere", storage=url).project == "default"
    assert load_sweep(sweep_id, tmp_path / "elsewhere", storage=url).lock_path is None


def test_config_project_is_the_default_project(tmp_path: Path) -> None:
    cfg = {"method": "random", "metric": {"name": "m"}, "parameters": {"a": {"values": [1]}}, "project": "cfgproj"}
    assert load_sweep(sweep(cfg, dir=tmp_path), tmp_path).project == "cfgproj"
    assert load_sweep(sweep(cfg, "argproj", dir=tmp_path), tmp_path).project == "argproj"


def test_unknown_sweep_id_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(SweepNotFoundError, match=r"no sweep 'abc' under .*sweeps"):
        load_sweep("abc", tmp_path)


def test_study_not_made_by_rltrack_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    optuna.create_study(study_name="foreign", storage=open_storage(url))
    with pytest.raises(SweepNotFoundError, match=r"was not created by rltrack\.sweep"):
        load_sweep("foreign", tmp_path, storage=url)
