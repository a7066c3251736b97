"""``watch(model)``: histograms and norms of a torch module's gradients and parameters, as wandb logs them.

Gradients: a hook on each parameter fires on every backward pass and, every ``log_freq``-th
time, logs ``gradients/<name>`` (a :class:`rltrack.Histogram`) and ``gradients/norm/<name>``
(the L2 norm). Parameters: a forward hook on the module logs ``parameters/<name>`` and
``parameters/norm/<name>`` every ``log_freq`` forward passes. Values land at the run's current
step without advancing it (``commit=False``), next to what the training loop logs. torch is
imported only here, when ``watch()`` is called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rltrack._handle import RunHandle
from rltrack.errors import InvalidValueError

__all__ = ["unwatch", "watch"]

_LOGS = ("gradients", "parameters", "all", None)


def watch(run: RunHandle, models: Any, *, log: str | None = "gradients", log_freq: int = 1000) -> None:
    """Add the hooks (see the module doc); ``models`` is a ``torch.nn.Module`` or a list of them."""
    if log not in _LOGS:
        raise InvalidValueError(f"watch(log={log!r}) must be 'gradients', 'parameters', 'all' or None")
    if not isinstance(log_freq, int) or isinstance(log_freq, bool) or log_freq < 1:
        raise InvalidValueError(f"watch(log_freq={log_freq!r}) must be a positive integer (backward passes per log)")
    try:
        import torch
    except ImportError as err:
        raise InvalidValueError(f"watch() needs torch (pip install torch): {err}") from None
    items = list(models) if isinstance(models, (list, tuple)) else [models]
    for model in items:
        if not isinstance(model, torch.nn.Module):
            raise InvalidValueError(
                f"watch() takes a torch.nn.Module (or a list of them), got {model!r} ({type(model).__name__}); "
                "pass the network, e.g. rltrack.watch(agent.actor)"
            )
    if log is None:
        return
    handles: dict[int, list[Any]] = run.__dict__.setdefault("_watch_handles", {})
    if not handles:
        run._at_finish.append(lambda: unwatch(run))  # no hook may log into a finished run
    for i, model in enumerate(items):
        prefix = f"{i}/" if len(items) > 1 else ""
        hooks = handles.setdefault(id(model), [])
        if log in ("gradients", "all"):
            for name, param in model.named_parameters():
                if param.requires_grad:
                    hooks.append(param.register_hook(_GradientHook(run, f"{prefix}{name}", log_freq)))
        if log in ("parameters", "all"):
            hooks.append(model.register_forward_hook(_ParameterHook(run, model, prefix, log_freq)))


def unwatch(run: RunHandle, models: Any = None) -> None:
    """Remove the hooks of ``models`` (a module or list), or of every watched module."""
    handles: dict[int, list[Any]] = run.__dict__.get("_watch_handles", {})
    if models is None:
        keys = list(handles)
    else:
        keys = [id(m) for m in (models if isinstance(models, (list, tuple)) else [models])]
    for key in keys:
        for handle in handles.pop(key, []):
            handle.remove()


def _tensor_values(kind: str, name: str, tensor: Any) -> dict[str, Any]:
    from rltrack.media import Histogram

    flat = tensor.detach().float().cpu().reshape(-1)
    return {f"{kind}/{name}": Histogram(flat.numpy()), f"{kind}/norm/{name}": float(flat.norm())}


def _log(run: RunHandle, values: Callable[[], dict[str, Any]]) -> None:
    if run.finished:
        return
    try:
        run.log(values(), commit=False)
    except Exception as err:  # a hook must never break the backward pass: counted and warned once
        run._writer.report("watch", err)


class _GradientHook:
    """Counts backward passes through one parameter; logs its gradient every ``log_freq``."""

    def __init__(self, run: RunHandle, name: str, log_freq: int) -> None:
        self.run, self.name, self.log_freq, self.calls = run, name, log_freq, 0

    def __call__(self, grad: Any) -> None:
        self.calls += 1
        if self.calls % self.log_freq == 0:
            _log(self.run, lambda: _tensor_values("gradients", self.name, grad))


class _ParameterHook:
    """Counts forward passes of a module; logs its parameters every ``log_freq``."""

    def __init__(self, run: RunHandle, model: Any, prefix: str, log_freq: int) -> None:
        self.run, self.model, self.prefix, self.log_freq, self.calls = run, model, prefix, log_freq, 0

    def __call__(self, module: Any, inputs: Any, output: Any) -> None:
        self.calls += 1
        if self.calls % self.log_freq == 0:
            _log(self.run, self._values)

    def _values(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, param in self.model.named_parameters():
            values.update(_tensor_values("parameters", f"{self.prefix}{name}", param))
        return values
