"""Hyperparameter sweeps: grid, random and Bayesian search with Hyperband early termination.

A wandb-style sweep config is run by Optuna (``GridSampler``, ``RandomSampler``,
``TPESampler`` for ``bayes``, ``HyperbandPruner``); every trial is an ordinary run in the
sweep's group. Importing this package imports neither Optuna nor PyYAML; the functions do,
and name the extra to install (``pip install 'rltrack[sweeps]'``) when they are missing.

Example:
    >>> import rltrack  # doctest: +SKIP
    >>> sweep_id = rltrack.sweep("sweep.yaml", project="cartpole")  # doctest: +SKIP
    >>> rltrack.agent(sweep_id, train, count=20)  # doctest: +SKIP
"""

from __future__ import annotations

from rltrack.sweeps.agent import TrialResult, agent, should_prune
from rltrack.sweeps.config import SweepConfig, load_config, parse_config
from rltrack.sweeps.create import sweep
from rltrack.sweeps.errors import SweepConfigError, SweepNotFoundError, TrialPruned

__all__ = [
    "SweepConfig",
    "SweepConfigError",
    "SweepNotFoundError",
    "TrialPruned",
    "TrialResult",
    "agent",
    "load_config",
    "parse_config",
    "should_prune",
    "sweep",
]
