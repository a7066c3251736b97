from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import optuna
import pytest
from scipy import stats

from rltrack.sweeps.config import parse_config
from rltrack.sweeps.engine import make_sampler
from rltrack.sweeps.space import Space

N_SAMPLES = 2000
# With a fixed seed the p-values are fixed numbers; 0.01 leaves room for a correct mapping
# while the power checks below show that a wrong mapping falls far below it.
ALPHA = 0.01


def _draw(parameters: dict[str, Any], n: int = N_SAMPLES, seed: int = 0) -> list[dict[str, Any]]:
    cfg = parse_config({"method": "random", "metric": {"name": "m"}, "parameters": parameters})
    study = optuna.create_study(sampler=make_sampler(cfg, seed=seed))
    space = Space(cfg.params)
    out = []
    for _ in range(n):
        trial = study.ask()
        out.append(space.sample(trial))
        study.tell(trial, 0.0)
    return out


def _column(parameters: dict[str, Any], name: str = "x") -> np.ndarray:
    return np.array([d[name] for d in _draw(parameters)], dtype=float)


@pytest.mark.parametrize(
    ("spec", "cdf"),
    [
        ({"distribution": "uniform", "min": -2.0, "max": 3.0}, stats.uniform(loc=-2.0, scale=5.0).cdf),
        (
            {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
            stats.loguniform(1e-5, 1e-1).cdf,
        ),
        ({"distribution": "log_uniform", "min": -3.0, "max": 1.0}, stats.loguniform(math.exp(-3), math.exp(1)).cdf),
        ({"distribution": "normal", "mu": 1.5, "sigma": 0.3}, stats.norm(loc=1.5, scale=0.3).cdf),
        ({"distribution": "log_normal", "mu": 0.0, "sigma": 0.5}, stats.lognorm(s=0.5, scale=1.0).cdf),
    ],
    ids=["uniform", "log_uniform_values", "log_uniform", "normal", "log_normal"],
)
def test_random_draws_follow_continuous_distribution(spec: dict[str, Any], cdf: Any) -> None:
    samples = _column({"x": spec})
    assert stats.kstest(samples, cdf).pvalue > ALPHA


def test_ks_check_has_power_against_a_wrong_distribution() -> None:
    # log_uniform_values draws are far from uniform on the same range: the KS test must say so.
    samples = _column({"x": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1}})
    assert stats.kstest(samples, stats.uniform(loc=1e-5, scale=1e-1 - 1e-5).cdf).pvalue < 1e-6


def _chi_square_p(observed: Counter[Any], expected_probs: dict[Any, float]) -> float:
    assert set(observed) == set(expected_probs)
    keys = list(expected_probs)
    f_obs = np.array([observed[k] for k in keys], dtype=float)
    f_exp = np.array([expected_probs[k] * N_SAMPLES for k in keys])
    return float(stats.chisquare(f_obs, f_exp).pvalue)


def test_int_uniform_draws_every_integer_equally() -> None:
    samples = [d["x"] for d in _draw({"x": {"min": 2, "max": 7}})]
    assert all(type(v) is int for v in samples)
    assert _chi_square_p(Counter(samples), {k: 1 / 6 for k in range(2, 8)}) > ALPHA


def test_q_uniform_draws_multiples_of_q_equally() -> None:
    samples = [d["x"] for d in _draw({"x": {"distribution": "q_uniform", "min": 0.0, "max": 1.0, "q": 0.25}})]
    assert _chi_square_p(Counter(samples), {k / 4: 1 / 5 for k in range(5)}) > ALPHA


def test_categorical_probabilities_are_respected() -> None:
    probs = {"adam": 0.6, "sgd": 0.3, "rmsprop": 0.1}
    samples = [d["x"] for d in _draw({"x": {"values": list(probs), "probabilities": list(probs.values())}})]
    assert _chi_square_p(Counter(samples), probs) > ALPHA


def test_categorical_check_has_power_against_equal_weights() -> None:
    probs = {"adam": 0.6, "sgd": 0.3, "rmsprop": 0.1}
    samples = [d["x"] for d in _draw({"x": {"values": list(probs), "probabilities": list(probs.values())}})]
    assert _chi_square_p(Counter(samples), dict.fromkeys(probs, 1 / 3)) < 1e-6


def test_categorical_without_probabilities_is_uniform() -> None:
    samples = [d["x"] for d in _draw({"x": {"values": [8, 16, 32, 64]}})]
    assert _chi_square_p(Counter(samples), dict.fromkeys([8, 16, 32, 64], 1 / 4)) > ALPHA


def test_q_normal_rounds_to_multiples_of_q() -> None:
    samples = _column({"x": {"distribution": "q_normal", "mu": 10.0, "sigma": 3.0, "q": 2}})
    assert np.all(samples % 2 == 0)
    assert abs(samples.mean() - 10.0) < 0.3


def test_values_optuna_cannot_store_are_searched_by_index() -> None:
    draws = _draw({"net_arch": {"values": [[64, 64], [256, 256]]}, "act": {"values": ["tanh", "tanh"]}}, n=50)
    assert {tuple(d["net_arch"]) for d in draws} == {(64, 64), (256, 256)}
    assert {d["act"] for d in draws} == {"tanh"}


def test_nested_parameters_build_nested_config_with_constants() -> None:
    (draw,) = _draw(
        {"policy": {"value": "MlpPolicy"}, "optimizer": {"parameters": {"lr": {"min": 0.1, "max": 0.2}}}}, n=1
    )
    assert draw["policy"] == "MlpPolicy"
    assert set(draw["optimizer"]) == {"lr"}
    assert 0.1 <= draw["optimizer"]["lr"] <= 0.2


def test_grid_points_are_the_product_of_the_axes() -> None:
    cfg = parse_config(
        {
            "method": "grid",
            "metric": {"name": "m"},
            "parameters": {
                "a": {"values": ["x", "y"]},
                "b": {"min": 1, "max": 3},
                "c": {"distribution": "q_uniform", "min": 0.1, "max": 0.3, "q": 0.1},
                "d": {"value": 7},
            },
        }
    )
    space = Space(cfg.params)
    assert space.grid_size() == 2 * 3 * 3
    points = space.grid_points()
    assert len(points) == 18
    assert {(p["a"], p["b"], p["c"], p["d"]) for p in points} == {
        (a, b, c, 7) for a in "xy" for b in (1, 2, 3) for c in (0.1, 0.2, 0.3)
    }
