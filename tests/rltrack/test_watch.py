"""rltrack.watch(model): gradient and parameter histograms and norms at the run's step."""

from __future__ import annotations

from pathlib import Path

import pytest

import rltrack
from rltrack.errors import InvalidValueError

torch = pytest.importorskip("torch")


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))


def _train(net: torch.nn.Module, run: rltrack.Run, steps: int) -> None:
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(steps):
        loss = net(torch.ones(2, 3)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        run.log({"loss": float(loss.detach())})


def test_gradients_and_parameters_every_log_freq_at_the_runs_step(store_dir: Path) -> None:
    net = _net()
    run = rltrack.init(dir=store_dir, system_metrics=False, quiet=True)
    rltrack.watch(net, log="all", log_freq=2)
    _train(net, run, 5)
    final_norm = float(net[0].weight.detach().norm())
    run.finish()
    view = rltrack.Api(store_dir).run(run.id)
    steps, _, norms = view.series("gradients/norm/0.weight")
    # Backward passes 2 and 4 happen before the log() of steps 1 and 3: they land at those steps.
    assert steps.tolist() == [1, 3]
    assert all(n > 0 for n in norms)
    assert view.series("parameters/norm/2.bias")[0].tolist() == [1, 3]
    assert view.series("parameters/norm/0.weight")[2][-1] != pytest.approx(final_norm)  # before the last updates
    hist = [m for m in view.media() if m.key == "gradients/0.weight"]
    assert [m.step for m in hist] == [1, 3]
    assert {m.key for m in view.media()} >= {"gradients/2.weight", "parameters/0.bias"}
    assert view.series("loss")[0].tolist() == [0, 1, 2, 3, 4]


def test_gradients_only_by_default_and_unwatch_stops_logging(store_dir: Path) -> None:
    net = _net()
    run = rltrack.init(dir=store_dir, system_metrics=False, quiet=True)
    run.watch(net, log_freq=1)
    _train(net, run, 2)
    rltrack.unwatch(net)
    _train(net, run, 2)
    run.finish()
    view = rltrack.Api(store_dir).run(run.id)
    assert view.series("gradients/norm/0.weight")[0].tolist() == [0, 1]
    keys = view.keys()
    assert not [k for k in keys if k.startswith("parameters/")]


def test_hooks_are_removed_at_finish(store_dir: Path) -> None:
    net = _net()
    run = rltrack.init(dir=store_dir, system_metrics=False, quiet=True)
    rltrack.watch(net, log_freq=1)
    run.finish()
    net(torch.ones(1, 3)).sum().backward()  # no hook left to log into the finished run


def test_watch_of_a_non_module_is_a_clear_error(store_dir: Path) -> None:
    run = rltrack.init(dir=store_dir, system_metrics=False, quiet=True)
    run.log({"x": 1.0})
    with pytest.raises(InvalidValueError, match=r"watch\(\) takes a torch\.nn\.Module .*got 'policy' \(str\)"):
        rltrack.watch("policy")
    with pytest.raises(InvalidValueError, match=r"watch\(log='weights'\)"):
        rltrack.watch(_net(), log="weights")
    with pytest.raises(InvalidValueError, match=r"watch\(log_freq=0\)"):
        rltrack.watch(_net(), log_freq=0)
    run.finish()
    assert rltrack.Api(store_dir).run(run.id).series("x")[2].tolist() == [1.0]
