"""The steps of ``rltrack demo``: train, deploy on sim and on the robot stand-in, record and import bags, compare.

1. PPO trains on CartPole-v1 with :class:`rltrack.callbacks.RLTrackCallback` into one run (source
   ``sim``); checkpoints become versions of ``<run name>-policy``.
2. The deployed policy (``<run name>-policy:latest``, loaded from the store) plays the same seeds
   in the nominal simulator and on the robot stand-in.
3. Every earlier checkpoint plays both sides too (fewer episodes), for the gap across training.
4. Each side is recorded as a rosbag2 (what a ROS 2 robot would publish) and imported through
   ``rltrack_ros.import_bag`` into the same run, the simulator as ``sim`` and the stand-in as
   ``real``, with the policy recorded as lineage so episodes sit at its training step; each
   checkpoint's mean return goes in as ``eval/mean_reward`` under both sources.
5. ``rltrack.sim2real.compare`` measures the gap; the table is printed, the report written.
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from rltrack.demo.deps import DemoError, check_packages, import_rltrack_ros
from rltrack.demo.physics import ENV_ID, StandInPhysics

if TYPE_CHECKING:
    import rltrack
    from rltrack.demo.checkpoints import CheckpointEval
    from rltrack.demo.gap import GapFiles
    from rltrack.demo.record import RecordedBag
    from rltrack.demo.standin import Episode

__all__ = ["N_ENVS", "PPO_KWARGS", "DemoResult", "DemoSettings", "run_demo", "training_steps"]

Echo = Callable[[str], None]
N_ENVS = 4
#: PPO settings that balance CartPole-v1 within ~20k steps (SB3's defaults need about twice that).
PPO_KWARGS: dict[str, Any] = {"n_steps": 512, "batch_size": 256, "learning_rate": 1e-3}
#: Checkpoints during training, besides the final one.
CHECKPOINTS = 4
#: Episodes per side for each earlier checkpoint (the deployed one gets ``episodes``).
CHECKPOINT_EPISODES = 5
#: Evaluation seeds start here, away from the seeds the training envs used.
EVAL_SEED_BASE = 10_000
NOTES = (
    "rltrack demo: PPO on CartPole-v1. Source 'real' is a robot stand-in (CartPole with different physics, "
    "recorded as a rosbag2 and imported through rltrack_ros), not a real robot."
)


@dataclass(frozen=True)
class DemoSettings:
    """What the demo does; the defaults finish in about a minute on two cores."""

    dir: str | Path | None = None
    steps: int = 20_000
    episodes: int = 10
    seed: int = 0
    physics: StandInPhysics = field(default_factory=StandInPhysics)
    project: str = "rltrack-demo"
    calibrate: bool = True

    def __post_init__(self) -> None:
        """Refuse budgets the demo cannot work with.

        Raises:
            DemoError: ``steps`` or ``episodes`` is too small.
        """
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 64:
            raise DemoError(f"steps={self.steps!r} must be an int >= 64 (e.g. 20000)")
        if isinstance(self.episodes, bool) or not isinstance(self.episodes, int) or self.episodes < 2:
            raise DemoError(f"episodes={self.episodes!r} must be an int >= 2: a confidence interval needs two")


@dataclass(frozen=True)
class DemoResult:
    """Where everything the demo made is, and what it measured."""

    store: Path
    run_id: str
    run_name: str
    project: str
    run_dir: Path
    policy_ref: str  # name:vN of the deployed checkpoint
    policy_step: int
    sim_bag: Path
    standin_bag: Path
    report_html: Path
    report_json: Path
    table: str
    sim_returns: tuple[float, ...]
    standin_returns: tuple[float, ...]
    timings_s: dict[str, float]

    def where(self) -> list[str]:
        """Return the closing lines: what was made and where."""
        timing = ", ".join(f"{k} {v:.1f} s" for k, v in self.timings_s.items() if k != "total")
        return [
            f"done in {self.timings_s['total']:.1f} s ({timing})",
            f"  store       {self.store}",
            f"  run         {self.run_name} (id {self.run_id}, project {self.project!r}): sources 'sim' "
            "and 'real' (robot stand-in)",
            f"  run folder  {self.run_dir}",
            f"  policy      {self.policy_ref} (training step {self.policy_step:,})",
            f"  bags        {self.sim_bag}  (nominal sim)",
            f"              {self.standin_bag}  (robot stand-in)",
            f"  gap report  {self.report_html}",
            f"              {self.report_json}",
        ]


@contextmanager
def _timed(timings: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - start


def run_demo(settings: DemoSettings, *, echo: Echo = print) -> DemoResult:
    """Run every step of the demo into a new run of ``settings.project`` and return where things are.

    Raises:
        DemoError: a package is missing (the message says what to install) or training stored no
            checkpoint.
    """
    start = time.perf_counter()
    check_packages(ui=False)
    ros = import_rltrack_ros()
    import rltrack
    from rltrack.store.paths import resolve_root

    store = resolve_root(settings.dir).resolve()
    config = {"demo": {"env_id": ENV_ID, "episodes": settings.episodes, "stand_in": settings.physics.as_config()}}
    run = rltrack.init(
        project=settings.project, dir=store, tags=["demo", "stand-in"], job_type="demo", notes=NOTES, config=config
    )
    echo(f"rltrack demo: run {run.name!r} (id {run.id}) in project {run.project!r}, store {store}")
    timings: dict[str, float] = {}
    import torch

    # Small MLPs on a shared 2-core machine: torch's thread pool makes each predict() ~15x slower
    # than one thread (measured here: 15 ms vs 1 ms per batch), so the demo runs single-threaded.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = _steps(run, settings, store, ros, echo, timings)
    except BaseException as err:
        run.finish(1, reason=f"{type(err).__name__}: {err}"[:500])
        raise
    finally:
        torch.set_num_threads(threads)
    run.finish()
    timings["total"] = time.perf_counter() - start
    return result


def _steps(
    run: rltrack.Run, settings: DemoSettings, store: Path, ros: ModuleType, echo: Echo, timings: dict[str, float]
) -> DemoResult:
    import rltrack
    from rltrack.demo.checkpoints import CheckpointEval, evaluate_checkpoints, load_policy, policy_versions
    from rltrack.demo.gap import measure_gap, stand_in_table
    from rltrack.demo.standin import make_env, run_episodes

    physics = settings.physics
    total = training_steps(settings.steps)
    rollout = int(PPO_KWARGS["n_steps"]) * N_ENVS
    echo(f"[1/5] training PPO on {ENV_ID} for {total:,} steps ({N_ENVS} envs, rollouts of {rollout:,} steps) "
         "with RLTrackCallback, logged as source 'sim'")  # fmt: skip
    with _timed(timings, "train"):
        _train(run, total, settings.seed)
    api = rltrack.Api(store)
    versions = policy_versions(api, run.id)
    ref = f"{versions[-1].name}:latest"
    deployed = api.artifact(ref)
    step = int(deployed.metadata["step"])
    seeds = [EVAL_SEED_BASE + settings.seed * 1000 + i for i in range(settings.episodes)]
    echo(f"[2/5] deploying {ref} ({deployed.version}, step {step:,}) for {settings.episodes} episodes in the "
         f"nominal simulator and on the robot stand-in: {physics.describe()}")  # fmt: skip
    with _timed(timings, "deploy"):
        policy = load_policy(deployed)
        sim_eps = run_episodes(policy, lambda: make_env(False), seeds)
        standin_eps = run_episodes(policy, lambda: make_env(True, physics), seeds)
    echo(f"[3/5] evaluating {len(versions) - 1} earlier checkpoint(s) on both sides ({CHECKPOINT_EPISODES} "
         "episodes each)")  # fmt: skip
    with _timed(timings, "checkpoints"):
        evals = evaluate_checkpoints(versions[:-1], physics, seeds[:CHECKPOINT_EPISODES])
        evals.append(CheckpointEval(deployed.ref, step, _returns(sim_eps), _returns(standin_eps)))
    echo("[4/5] recording both as rosbag2 (/joint_states, /rl/action, /rl/reward, /rl/done, /camera/image_raw) "
         "and importing them with rltrack_ros.import_bag: sim as 'sim', robot stand-in as 'real'")  # fmt: skip
    with _timed(timings, "bags"):
        sim_bag, standin_bag = _record_and_import(run, settings, store, ros, ref, (sim_eps, standin_eps), evals, echo)
    echo("[5/5] measuring the reality gap with rltrack.sim2real.compare")
    with _timed(timings, "compare"):
        files = measure_gap(api.run(run.id), checkpoints=evals, out_dir=run.dir, stand_in=physics.describe())
    gap = files.report.episode_return
    if gap is not None and gap.difference is not None:
        run.summary["sim2real/return_gap"] = gap.difference
    table = stand_in_table(files.report, physics.describe())
    echo("")
    echo(table)
    if settings.calibrate:
        with _timed(timings, "calibrate"):
            _calibrate(api, run.id, physics, files, echo)
    return DemoResult(
        store=store, run_id=run.id, run_name=run.name, project=run.project, run_dir=run.dir,
        policy_ref=deployed.ref, policy_step=step, sim_bag=sim_bag.path, standin_bag=standin_bag.path,
        report_html=files.html, report_json=files.json, table=table,
        sim_returns=_returns(sim_eps), standin_returns=_returns(standin_eps), timings_s=timings,
    )  # fmt: skip


#: The demo's calibration: the stand-in's pole mass and actuator delay, from its first recorded episodes.
CALIBRATION_PARAMS: dict[str, Any] = {
    "pole_mass_factor": {"min": 0.5, "max": 6.0},
    "actuator_delay_steps": {"min": 0, "max": 3},
}
#: Three episodes hold the mass and the delay (up to 1,500 steps); the filter's cost grows with the steps.
CALIBRATION_EPISODES, CALIBRATION_BUDGET, CALIBRATION_WORKERS = 3, 40, 2
#: The imported /joint_states in CartPole's observation order, and the command topic.
CALIBRATION_OBS = (
    "joint_states/position/cart",
    "joint_states/velocity/cart",
    "joint_states/position/pole",
    "joint_states/velocity/pole",
)
CALIBRATION_ACTIONS = "rl/action/data"


def _calibrate(api: rltrack.Api, run_id: str, physics: StandInPhysics, gap: GapFiles, echo: Echo) -> None:
    """Fit the stand-in's pole mass and delay to its recorded ``real`` episodes; print them beside the truth.

    The stand-in's sensors are noisy (0.3 m/s on the cart's velocity): replaying the commands from a
    recorded, noisy state moves the replay error by under 1 % between a pole 2x and 6x heavier, so
    the mass would come out unidentifiable. The information is in the recording all the same, spread
    over every step; the filter metric reads it (see :mod:`rltrack.sim2real.calibrate_filter`), given
    the sensors' noise, which a robot's datasheet gives and the stand-in knows.
    """
    import importlib.util

    from rltrack.demo.gap import write_gap_page
    from rltrack.errors import RltrackError
    from rltrack.sim2real import calibrate

    echo("")
    if importlib.util.find_spec("optuna") is None:
        echo("calibration skipped: it searches with Optuna (pip install 'rltrack[sweeps]')")
        return
    echo(f"calibrating the simulator from the stand-in's recording ({CALIBRATION_EPISODES} episodes, "
         f"{CALIBRATION_BUDGET} trials): pole mass factor and actuator delay, scored by an ensemble Kalman "
         "filter given the sensors' noise (a replay from noisy recorded states hides the mass)")  # fmt: skip
    result = calibrate(
        run_id, make_env="rltrack.demo.standin:calibration_env", params=CALIBRATION_PARAMS,
        observations=list(CALIBRATION_OBS), actions=CALIBRATION_ACTIONS, episodes=CALIBRATION_EPISODES,
        budget=CALIBRATION_BUDGET, workers=CALIBRATION_WORKERS, metric="filter",
        noise=list(physics.sensor_noise_std), api=api,
    )  # fmt: skip
    truth = {"pole_mass_factor": physics.pole_mass_factor, "actuator_delay_steps": physics.actuator_delay_steps}
    for p in result.parameters:
        found = (
            f"{p.estimate:.3g} (95% likelihood range {p.low:.3g}..{p.high:.3g})"
            if p.identifiable
            else f"nothing: not identifiable from {result.n_steps:,} recorded steps (the likelihood changes "
            f"{p.sensitivity:.2%} over [{p.prior_low:g}, {p.prior_high:g}]); record longer episodes"
        )
        echo(f"  {p.name:<22} true {truth[p.name]:<5g} recovered {found}")
    gain = result.before.n_samples * math.log(result.improvement) if math.isfinite(result.improvement) else math.inf
    echo(f"  log-likelihood of the recording {gain:+.1f} over the nominal simulator ({result.n_steps:,} steps); "
         f"trials are runs in group {result.group!r}")  # fmt: skip
    folder = api.run(run_id).dir / (result.group or "calibration")
    _, ranges = result.write(folder)
    echo(f"  suggested randomization ranges: {ranges}")
    try:
        write_gap_page(gap, calibration=result)
    except RltrackError as err:  # the tables above stand
        echo(f"  no before/after overlay in the gap report: {err}")
    else:
        echo(f"  before/after overlay: {gap.html}#calibration")


def _returns(episodes: Sequence[Episode]) -> tuple[float, ...]:
    return tuple(e.ret for e in episodes)


def _record_and_import(
    run: rltrack.Run,
    settings: DemoSettings,
    store: Path,
    ros: ModuleType,
    ref: str,
    episodes: tuple[Sequence[Episode], Sequence[Episode]],
    evals: Sequence[CheckpointEval],
    echo: Echo,
) -> tuple[RecordedBag, RecordedBag]:
    """Write both bags into the run's folder and import them: sim into ``run``, the stand-in as ``real``.

    Each checkpoint's mean return goes along as ``eval/mean_reward`` at its training step, under
    ``sim`` and ``real``: the curve of the gap over training, next to the training curves.
    """
    import rltrack
    from rltrack.demo.record import mirror_config, write_bag

    bags = run.dir / "bags"
    bags.mkdir(parents=True, exist_ok=True)
    sim_bag = write_bag(bags / "sim", episodes[0], t0_ns=time.time_ns() // 1_000_000 * 1_000_000)
    standin_bag = write_bag(
        bags / "stand-in", episodes[1], t0_ns=sim_bag.t_end_ns + 1_000_000_000,
        jitter_ns=settings.physics.stamp_jitter_ns, seed=settings.seed,
    )  # fmt: skip
    mirror = ros.parse_config(mirror_config(), origin="rltrack demo topic config")
    _import(ros, sim_bag.path, run, mirror, ref, echo)
    for ev in evals:
        run.log({"eval/mean_reward": sum(ev.sim_returns) / len(ev.sim_returns)}, step=ev.step)
    run.flush()
    # The robot side attaches to the same run as a second writer, as the ROS 2 node would.
    with rltrack.init(id=run.id, resume="must", source="real", dir=store, system_metrics=False) as real:
        _import(ros, standin_bag.path, real, mirror, ref, echo)
        for ev in evals:
            real.log({"eval/mean_reward": sum(ev.standin_returns) / len(ev.standin_returns)}, step=ev.step)
    return sim_bag, standin_bag


def training_steps(steps: int) -> int:
    """Return ``steps`` rounded up to whole PPO rollouts, which is what ``learn()`` runs anyway."""
    rollout = int(PPO_KWARGS["n_steps"]) * N_ENVS
    return -(-steps // rollout) * rollout


def _train(run: rltrack.Run, total: int, seed: int) -> None:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    # By name: callbacks/ is mapped into rltrack at install time and is not in core's mypy stage.
    callback_cls: Any = importlib.import_module("rltrack.callbacks").RLTrackCallback
    env = make_vec_env(ENV_ID, n_envs=N_ENVS, seed=seed)
    try:
        model = PPO("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **PPO_KWARGS)
        # Evenly spaced checkpoints; the last one falls on the final step (no duplicate at the end).
        every = max(total // CHECKPOINTS, N_ENVS)
        model.learn(total, callback=callback_cls(run, checkpoint_every=every))
    finally:
        env.close()


def _import(ros: ModuleType, bag: Path, run: rltrack.Run, mirror: Any, ref: str, echo: Echo) -> None:
    from rltrack_ros.lineage import use_policy

    step, problem = use_policy(run, ref)
    if problem:
        echo(f"warning: {problem}")
    result = ros.import_bag(bag, run, mirror, step_offset=step)
    where = "at robot steps" if step is None else f"at step {step:,}"
    echo(f"      {bag.name}: {result.messages:,} messages -> source {run.source!r}, {result.episodes} episodes "
         f"{where}, {result.videos} videos ({result.rate_msgs_per_s:,.0f} msg/s)")  # fmt: skip
