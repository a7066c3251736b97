"""A CleanRL-style PPO training loop on CartPole-v1 that logs 8 scalars every env step.

Written after CleanRL's single-file ``ppo.py`` (classic control settings: 128-step rollouts,
GAE, 4 epochs of 4 minibatches, clipped objective, Adam with an annealed learning rate), with one
env so that every env step is one ``log()`` call. The per-step stress case of
``bench/sb3_overhead.py`` times this loop with and without a tracker; ``log`` is the tracker's
``log(values, step=step)``, or None untracked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

NUM_STEPS, GAMMA, GAE_LAMBDA, EPOCHS, MINIBATCHES = 128, 0.99, 0.95, 4, 4
CLIP, ENT_COEF, VF_COEF, MAX_GRAD_NORM, LR = 0.2, 0.01, 0.5, 0.5, 2.5e-4


def _mlp(out: int, std: float) -> nn.Sequential:
    layers = [nn.Linear(4, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, out)]
    for layer, gain in zip(layers[::2], (np.sqrt(2), np.sqrt(2), std), strict=True):
        assert isinstance(layer, nn.Linear)
        nn.init.orthogonal_(layer.weight, gain)
        nn.init.zeros_(layer.bias)
    return nn.Sequential(*layers)


def train(steps: int, log: Callable[..., Any] | None) -> float:
    """Train for ``steps`` env steps; return the mean length of the last 20 episodes (it learns: ~20 -> 100s)."""
    torch.manual_seed(0)
    env = gym.make("CartPole-v1")
    actor, critic = _mlp(2, 0.01), _mlp(1, 1.0)
    params = [*actor.parameters(), *critic.parameters()]
    optimizer = torch.optim.Adam(params, lr=LR, eps=1e-5)
    obs_buf = torch.zeros((NUM_STEPS, 4))
    act_buf, logp_buf, rew_buf, done_buf, val_buf = (torch.zeros(NUM_STEPS) for _ in range(5))
    obs, _ = env.reset(seed=0)
    next_obs, next_done = torch.as_tensor(obs, dtype=torch.float32), 0.0
    episode_return, length, episodes, step = 0.0, 0, 0, 0
    lengths: list[int] = []
    updates = steps // NUM_STEPS
    for update in range(updates):
        optimizer.param_groups[0]["lr"] = LR * (1.0 - update / updates)
        for t in range(NUM_STEPS):
            obs_buf[t], done_buf[t] = next_obs, next_done
            with torch.no_grad():
                dist = torch.distributions.Categorical(logits=actor(next_obs))
                action = dist.sample()
                logp_buf[t], val_buf[t] = dist.log_prob(action), critic(next_obs)[0]
            act_buf[t] = action
            obs, reward, terminated, truncated, _ = env.step(int(action))
            rew_buf[t] = float(reward)
            episode_return += float(reward)
            length += 1
            next_done = float(terminated or truncated)
            if terminated or truncated:
                obs, _ = env.reset()
                lengths.append(length)
                episodes += 1
                episode_return, length = 0.0, 0
            next_obs = torch.as_tensor(obs, dtype=torch.float32)
            if log is not None:
                log({
                    "charts/x": float(obs[0]), "charts/x_dot": float(obs[1]), "charts/theta": float(obs[2]),
                    "charts/theta_dot": float(obs[3]), "charts/reward": float(reward),
                    "charts/return": episode_return, "charts/length": length, "charts/episodes": episodes,
                }, step=step)
            step += 1
        advantages = _gae(critic, next_obs, next_done, rew_buf, done_buf, val_buf)
        _update(actor, critic, optimizer, params, obs_buf, act_buf, logp_buf, advantages, advantages + val_buf)
    return float(np.mean(lengths[-20:]))


def _gae(critic: nn.Module, next_obs: torch.Tensor, next_done: float, rewards: torch.Tensor,
         dones: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        next_value = critic(next_obs)[0]
        advantages = torch.zeros_like(rewards)
        last = torch.tensor(0.0)
        for t in reversed(range(NUM_STEPS)):
            not_done = 1.0 - (next_done if t == NUM_STEPS - 1 else dones[t + 1])
            following = next_value if t == NUM_STEPS - 1 else values[t + 1]
            delta = rewards[t] + GAMMA * following * not_done - values[t]
            last = delta + GAMMA * GAE_LAMBDA * not_done * last
            advantages[t] = last
    return advantages


def _update(actor: nn.Module, critic: nn.Module, optimizer: torch.optim.Optimizer, params: list[torch.Tensor],
            obs: torch.Tensor, actions: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor,
            returns: torch.Tensor) -> None:
    size = NUM_STEPS // MINIBATCHES
    for _ in range(EPOCHS):
        order = torch.randperm(NUM_STEPS)
        for start in range(0, NUM_STEPS, size):
            idx = order[start:start + size]
            dist = torch.distributions.Categorical(logits=actor(obs[idx]))
            ratio = (dist.log_prob(actions[idx]) - old_logp[idx]).exp()
            adv = advantages[idx]
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            policy_loss = torch.max(-adv * ratio, -adv * ratio.clamp(1 - CLIP, 1 + CLIP)).mean()
            value_loss = 0.5 * ((critic(obs[idx]).squeeze(-1) - returns[idx]) ** 2).mean()
            loss = policy_loss - ENT_COEF * dist.entropy().mean() + VF_COEF * value_loss
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM)
            optimizer.step()
