from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rltrack.errors import RltrackError
from rltrack.sweeps.config import DEFAULT_COMMAND, Hyperband, Metric, Param, load_config, parse_config
from rltrack.sweeps.errors import SweepConfigError


def _config(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "method": "random",
        "metric": {"name": "eval/mean_reward", "goal": "maximize"},
        "parameters": {"lr": {"min": 1e-5, "max": 1e-2, "distribution": "log_uniform_values"}},
    }
    base.update(overrides)
    return base


def test_wandb_example_parses_into_records() -> None:
    cfg = parse_config(
        {
            "program": "train.py",
            "method": "bayes",
            "name": "ppo-sweep",
            "metric": {"name": "eval/mean_reward", "goal": "maximize", "target": 475},
            "parameters": {
                "learning_rate": {"min": 1e-5, "max": 1e-2, "distribution": "log_uniform_values"},
                "n_steps": {"values": [64, 128, 256]},
                "gamma": {"distribution": "uniform", "min": 0.9, "max": 0.999},
                "batch_size": {"min": 16, "max": 64},
                "policy": {"value": "MlpPolicy"},
                "optimizer": {"parameters": {"eps": {"values": [1e-8, 1e-5], "probabilities": [0.7, 0.3]}}},
            },
            "early_terminate": {"type": "hyperband", "min_iter": 3, "eta": 2},
            "run_cap": 20,
        }
    )
    assert cfg.method == "bayes"
    assert cfg.metric == Metric(name="eval/mean_reward", goal="maximize", target=475.0)
    assert cfg.early_terminate == Hyperband(min_iter=3, max_iter=None, eta=2)
    assert cfg.run_cap == 20
    assert cfg.program == "train.py"
    assert cfg.command == DEFAULT_COMMAND
    by_name = {p.name: p for p in cfg.params}
    assert list(by_name) == ["learning_rate", "n_steps", "gamma", "batch_size", "policy", "optimizer.eps"]
    assert by_name["n_steps"].distribution == "categorical"
    assert by_name["batch_size"].distribution == "int_uniform"  # both bounds are ints, as in wandb
    assert by_name["gamma"] == Param(path=("gamma",), distribution="uniform", min=0.9, max=0.999)
    assert by_name["policy"].values == ("MlpPolicy",)
    assert by_name["optimizer.eps"].path == ("optimizer", "eps")
    assert by_name["optimizer.eps"].probabilities == (0.7, 0.3)


def test_goal_defaults_to_minimize_like_wandb() -> None:
    assert parse_config(_config(metric={"name": "loss"})).metric.goal == "minimize"


def test_hyperband_with_only_max_iter_starts_at_max_iter_over_eta_to_the_s() -> None:
    cfg = parse_config(_config(early_terminate={"type": "hyperband", "max_iter": 27, "s": 2, "eta": 3}))
    assert cfg.early_terminate == Hyperband(min_iter=3, max_iter=27, eta=3)


def test_yaml_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(
        "method: grid\nmetric:\n  name: loss\nparameters:\n  lr:\n    values: [0.1, 0.01]\n", encoding="utf-8"
    )
    assert load_config(path)["method"] == "grid"
    cfg = parse_config(path)
    assert cfg.params[0].values == (0.1, 0.01)


def test_yaml_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(SweepConfigError, match="must hold a mapping"):
        parse_config(path)


def test_config_error_is_an_rltrack_error_and_a_value_error() -> None:
    with pytest.raises(SweepConfigError) as info:
        parse_config(_config(method="hill_climb"))
    assert isinstance(info.value, RltrackError)
    assert isinstance(info.value, ValueError)
    assert len(info.value.args) == 1


LR = "parameters.lr"


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"method": "hill_climb"}, r"method: unknown method 'hill_climb'"),
        ({"method": None}, r"method: unknown method None"),
        ({"metric": None}, r"metric: missing"),
        ({"metric": {"goal": "maximize"}}, r"metric\.name: expected the logged key"),
        ({"metric": {"name": "loss", "goal": "max"}}, r"metric\.goal: 'max' is neither"),
        ({"metric": {"name": "loss", "direction": "max"}}, r"metric\.direction: unknown key"),
        ({"metric": {"name": "loss", "target": "high"}}, r"metric\.target: expected a number"),
        ({"parameters": {}}, r"parameters: expected a non-empty mapping"),
        ({"parameters": {"lr": 0.1}}, r"parameters\.lr: expected a mapping"),
        (
            {"parameters": {"lr": {"distribution": "cauchy", "min": 0, "max": 1}}},
            r"lr\.distribution: unknown distribution 'cauchy'",
        ),
        ({"parameters": {"lr": {"min": 0.1, "max": 0.01}}}, r"parameters\.lr\.min: 0\.1 > max 0\.01"),
        ({"parameters": {"lr": {"values": []}}}, r"parameters\.lr\.values: the list is empty"),
        ({"parameters": {"lr": {"values": "abc"}}}, r"parameters\.lr\.values: expected a list"),
        ({"parameters": {"lr": {"min": 0.1}}}, r"parameters\.lr: say what to search"),
        (
            {"parameters": {"lr": {"distribution": "uniform", "max": 1.0}}},
            r"parameters\.lr\.min: distribution 'uniform' needs",
        ),
        (
            {"parameters": {"lr": {"min": "a", "max": 1.0, "distribution": "uniform"}}},
            r"parameters\.lr\.min: expected a number",
        ),
        ({"parameters": {"lr": {"min": 0.0, "max": 1.0, "distribution": "log_uniform_values"}}}, r"needs min > 0"),
        ({"parameters": {"lr": {"min": 0.5, "max": 3, "distribution": "int_uniform"}}}, r"int_uniform needs integer"),
        ({"parameters": {"lr": {"values": [1, 2], "probabilities": [0.5]}}}, r"lr\.probabilities: expected 2 numbers"),
        ({"parameters": {"lr": {"values": [1, 2], "probabilities": [0.5, 0.6]}}}, r"must be non-negative and sum to 1"),
        (
            {"parameters": {"lr": {"values": [1, 2], "min": 0}}},
            r"lr\.min: does not apply to distribution 'categorical'",
        ),
        (
            {"parameters": {"lr": {"distribution": "normal", "mu": 0, "sigma": 0}}},
            r"lr\.sigma: expected a positive number",
        ),
        ({"parameters": {"lr": {"distribution": "constant"}}}, r"lr\.value: a constant parameter needs"),
        ({"parameters": {"lr": {"values": [1], "scale": 2}}}, r"parameters\.lr\.scale: unknown key"),
        (
            {"parameters": {"opt": {"parameters": {"lr": {"min": 2.0, "max": 1.0}}}}},
            r"parameters\.opt\.parameters\.lr\.min: 2\.0 > max",
        ),
        ({"parameters": {"opt": {"parameters": {}}}}, r"parameters\.opt\.parameters: nested parameters"),
        ({"parameters": {"a.b": {"value": 1}, "a": {"parameters": {"b": {"value": 2}}}}}, r"'a\.b' is defined twice"),
        ({"early_terminate": {"type": "median"}}, r"early_terminate\.type: unknown type 'median'"),
        ({"early_terminate": {"type": "hyperband"}}, r"early_terminate: set min_iter or max_iter"),
        ({"early_terminate": {"type": "hyperband", "min_iter": 0}}, r"early_terminate\.min_iter: expected a positive"),
        (
            {"early_terminate": {"type": "hyperband", "min_iter": 3, "eta": 1}},
            r"early_terminate\.eta: 1 must be at least 2",
        ),
        ({"early_terminate": {"type": "hyperband", "min_iter": 9, "max_iter": 3}}, r"min_iter: 9 > max_iter 3"),
        ({"early_terminate": {"type": "hyperband", "min_iter": 1, "bands": 3}}, r"early_terminate\.bands: unknown key"),
        ({"run_cap": 0}, r"run_cap: expected a positive integer, got 0"),
        ({"run_cap": True}, r"run_cap: expected a positive integer, got True"),
        ({"command": "python train.py"}, r"command: expected a non-empty list of strings"),
        ({"program": ""}, r"program: expected a non-empty string"),
        ({"controller": {"type": "local"}}, r"unknown key 'controller'"),
    ],
)
def test_invalid_config_names_field_and_problem(overrides: dict[str, Any], match: str) -> None:
    with pytest.raises(SweepConfigError, match=match):
        parse_config(_config(**overrides))


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"min": 0.0, "max": 1.0}, r"grid search cannot enumerate the continuous distribution 'uniform'"),
        (
            {"min": 1e-4, "max": 1e-2, "distribution": "log_uniform_values"},
            r"continuous distribution 'log_uniform_values'",
        ),
        ({"distribution": "normal"}, r"continuous distribution 'normal'"),
        ({"values": [1, 2], "probabilities": [0.5, 0.5]}, r"grid search tries every value, so probabilities"),
        ({"min": 0.31, "max": 0.39, "q": 0.1, "distribution": "q_uniform"}, r"no multiple of q=0\.1"),
    ],
)
def test_grid_refuses_what_it_cannot_enumerate(spec: dict[str, Any], match: str) -> None:
    with pytest.raises(SweepConfigError, match=match):
        parse_config(_config(method="grid", parameters={"x": spec}))


def test_grid_accepts_finite_distributions() -> None:
    cfg = parse_config(
        _config(
            method="grid",
            parameters={
                "a": {"values": [1, 2]},
                "b": {"min": 1, "max": 3},
                "c": {"min": 0.0, "max": 0.3, "q": 0.1, "distribution": "q_uniform"},
                "d": {"value": "x"},
            },
        )
    )
    assert [p.distribution for p in cfg.params] == ["categorical", "int_uniform", "q_uniform", "constant"]
