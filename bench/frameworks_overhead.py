"""What rltrack's Lightning, Transformers, Keras and RLlib integrations cost a step, beside each framework's own logger.

Each framework trains a small model on in-memory data with its values logged at EVERY optimizer step
(Lightning log_every_n_steps=1, Transformers logging_steps=1, Keras every batch): the worst case for a
logger. Variants, interleaved in every round with the order rotating, all in one process per framework:
  none       untracked (Lightning logger=False, Transformers report_to="none", Keras no callback)
  rltrack    RLTrackLogger / RLTrackTransformersCallback / RLTrackKerasCallback (system metrics off)
  csv        Lightning's CSVLogger; Keras' CSVLogger (epoch rows only: it has no per-batch mode)
  tensorboard  Lightning's TensorBoardLogger; Transformers' report_to="tensorboard"; RLlib: what Tune's
             TBXLoggerCallback does with each result (tensorboardX add_scalar per number, then flush),
             reproduced here because a standalone Algorithm (Ray >= 2.40) has no logger of its own
RLlib's step is one training iteration (algo.train(): 200 CartPole env steps sampled in-process, num_env_runners=0,
so every thread doing work is in this process, then one PPO epoch); rltrack also logs every episode, the peer only
the iteration's numbers. Ray runs a local cluster without dashboard; run the RLlib part inside `unshare -n` (as the
tests do) to keep Ray off every interface but loopback.
Step cost: the mean gap between successive train-batch-end hooks after a warm-up (set-up, the first steps
and the final flush excluded), in process CPU seconds (every thread of the process, rltrack's writer
included; other processes on a shared machine do not count) and in wall seconds (what a user waits, but
noisy on a busy machine). Reported per variant: the median over rounds, and the median over rounds of its
ratio to `none` in the same round.

    python bench/frameworks_overhead.py                      # 3 rounds, 1,000 steps each
    python bench/frameworks_overhead.py --rounds 1 --steps 100 --frameworks keras
    unshare -n sh -c 'ip link set lo up && exec python bench/frameworks_overhead.py --frameworks rllib --steps 40'
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.filterwarnings("ignore")  # frameworks' advice (dataloader workers, deprecations) is not measured here

import numpy as np  # noqa: E402
import torch  # noqa: E402

WARMUP = 20


def _stamp() -> tuple[float, float]:
    return time.process_time(), time.perf_counter()


def _gaps(stamps: list[tuple[float, float]]) -> tuple[float, float]:
    """Mean (CPU, wall) seconds per step after the warm-up."""
    gaps = np.diff(np.asarray(stamps[WARMUP:]), axis=0)
    return float(gaps[:, 0].mean()), float(gaps[:, 1].mean())


# ---- Lightning ---------------------------------------------------------------------------------


def _NoopLogger() -> Any:  # a class made on demand: lightning is imported only when benched
    from lightning.pytorch.loggers import Logger

    class Noop(Logger):
        name = "noop"
        version = "0"

        def log_metrics(self, metrics: Any, step: Any = None) -> None:
            pass

        def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
            pass

    return Noop()


def lightning_step(variant: str, steps: int, tmp: Path) -> tuple[float, float]:
    import lightning as L
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
    from rltrack.callbacks import RLTrackLogger

    import rltrack

    class Net(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.net(x), y)
            self.log_dict({"train/loss": loss, "train/abs": (self.net(x) - y).abs().mean()})
            return loss

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=1e-2)

    class Stamps(L.Callback):
        def __init__(self) -> None:
            self.t: list[tuple[float, float]] = []

        def on_train_batch_end(self, *args: Any) -> None:
            self.t.append(_stamp())

    run = None
    if variant == "rltrack":
        run = rltrack.init(project="bench", dir=tmp / "store", system_metrics=False, quiet=True)
        logger: Any = RLTrackLogger(run)
    elif variant == "csv":
        logger = CSVLogger(tmp / "csv")
    elif variant == "tensorboard":
        logger = TensorBoardLogger(tmp / "tb")
    elif variant == "noop":
        logger = _NoopLogger()  # what Lightning itself spends on any logger: the floor under every variant
    else:
        logger = False
    x = torch.randn(steps * 16, 32)
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True)), batch_size=16)
    stamps = Stamps()
    trainer = L.Trainer(
        max_steps=steps, logger=logger, callbacks=[stamps], log_every_n_steps=1, accelerator="cpu",
        enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False, default_root_dir=tmp,
    )
    trainer.fit(Net(), data)
    if run is not None:
        run.finish()
    return _gaps(stamps.t)


# ---- Transformers ------------------------------------------------------------------------------


def transformers_step(variant: str, steps: int, tmp: Path) -> tuple[float, float]:
    from rltrack.callbacks import RLTrackTransformersCallback
    from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainerCallback, TrainingArguments

    import rltrack

    class Stamps(TrainerCallback):
        def __init__(self) -> None:
            self.t: list[tuple[float, float]] = []

        def on_step_end(self, *args: Any, **kwargs: Any) -> None:
            self.t.append(_stamp())

    class Tokens(torch.utils.data.Dataset[dict[str, Any]]):
        def __init__(self, n: int) -> None:
            self.ids = torch.randint(0, 64, (n, 16), generator=torch.Generator().manual_seed(0))

        def __len__(self) -> int:
            return self.ids.shape[0]

        def __getitem__(self, i: int) -> dict[str, Any]:
            return {"input_ids": self.ids[i], "labels": int(self.ids[i, 0]) % 2}

    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(
        vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=16, num_labels=2,
    ))
    stamps = Stamps()
    callbacks: list[Any] = [stamps]
    run = None
    if variant == "rltrack":
        run = rltrack.init(project="bench", dir=tmp / "store", system_metrics=False, quiet=True)
        callbacks.append(RLTrackTransformersCallback(run))
    args = TrainingArguments(
        output_dir=str(tmp / "out"), max_steps=steps, per_device_train_batch_size=8, logging_steps=1,
        save_strategy="no", report_to="tensorboard" if variant == "tensorboard" else "none", use_cpu=True,
        disable_tqdm=True, dataloader_pin_memory=False,
    )
    Trainer(model=model, args=args, train_dataset=Tokens(steps * 8), callbacks=callbacks).train()
    if run is not None:
        run.finish()
    return _gaps(stamps.t)


# ---- Keras -------------------------------------------------------------------------------------


def keras_step(variant: str, steps: int, tmp: Path) -> tuple[float, float]:
    import keras
    from rltrack.callbacks import RLTrackKerasCallback

    import rltrack

    class Stamps(keras.callbacks.Callback):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.t: list[tuple[float, float]] = []

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            self.t.append(_stamp())

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((32,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(1e-2), loss="mse", metrics=["mae"])
    stamps = Stamps()
    callbacks: list[Any] = [stamps]
    run = None
    if variant == "rltrack":
        run = rltrack.init(project="bench", dir=tmp / "store", system_metrics=False, quiet=True)
        callbacks.append(RLTrackKerasCallback(run))
    elif variant == "csv":
        tmp.mkdir(parents=True, exist_ok=True)
        callbacks.append(keras.callbacks.CSVLogger(str(tmp / "log.csv")))
    x = np.random.default_rng(0).standard_normal((steps * 16, 32)).astype(np.float32)
    model.fit(x, x.sum(1, keepdims=True), batch_size=16, epochs=1, verbose=0, callbacks=callbacks)
    if run is not None:
        run.finish()
    return _gaps(stamps.t)


# ---- RLlib -------------------------------------------------------------------------------------

RLLIB_WARMUP = 3  # iterations: RLlib's first ones build connectors and compile


def rllib_step(variant: str, steps: int, tmp: Path) -> tuple[float, float]:
    import ray
    from ray.rllib.algorithms.ppo import PPOConfig
    from rltrack.callbacks import RLTrackRLlibCallback
    from rltrack.callbacks.ray_tune import flatten_result

    import rltrack

    if not ray.is_initialized():
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(num_cpus=1, include_dashboard=False, _node_ip_address="127.0.0.1", configure_logging=False,
                 log_to_driver=False)
    run = None
    config = (
        PPOConfig().environment("CartPole-v1").env_runners(num_env_runners=0)
        .training(train_batch_size_per_learner=200, minibatch_size=100, num_epochs=1)
        .rl_module(model_config={"fcnet_hiddens": [32]}).debugging(seed=0)
    )
    if variant == "rltrack":
        run = rltrack.init(project="bench", dir=tmp / "store", system_metrics=False, quiet=True)
        config = config.callbacks(RLTrackRLlibCallback)
    writer: Any = None
    if variant == "tensorboard":
        from tensorboardX import SummaryWriter

        writer = SummaryWriter(str(tmp / "tb"))
    algo = config.build_algo()
    stamps = [_stamp()]
    for _ in range(steps):
        result = algo.train()
        if writer is not None:  # Tune's TBXLoggerCallback.log_trial_result, for one trial (it skips NaN)
            step = int(result["num_env_steps_sampled_lifetime"])
            for key, value in flatten_result(result).items():
                if not math.isnan(value):
                    writer.add_scalar(f"ray/tune/{key}", value, global_step=step)
            writer.flush()
        stamps.append(_stamp())
    algo.stop()
    if writer is not None:
        writer.close()
    if run is not None:
        run.finish()
    gaps = np.diff(np.asarray(stamps[RLLIB_WARMUP:]), axis=0)
    return float(gaps[:, 0].mean()), float(gaps[:, 1].mean())


FRAMEWORKS: dict[str, tuple[Callable[[str, int, Path], tuple[float, float]], list[str]]] = {
    "lightning": (lightning_step, ["none", "noop", "rltrack", "csv", "tensorboard"]),
    "transformers": (transformers_step, ["none", "rltrack", "tensorboard"]),
    "keras": (keras_step, ["none", "rltrack", "csv"]),
    "rllib": (rllib_step, ["none", "rltrack", "tensorboard"]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=1000)  # 300 left the writer's start-up inside the timing
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    args = parser.parse_args()
    torch.set_num_threads(1)  # the machines are shared; one thread keeps the step time steady
    print(f"python {sys.version.split()[0]}, torch {torch.__version__}, {args.steps} steps, {args.rounds} rounds, "
          f"load {os.getloadavg()[0]:.1f}")
    for name in args.frameworks.split(","):
        step, variants = FRAMEWORKS[name]
        times: dict[str, list[tuple[float, float]]] = {v: [] for v in variants}
        ratios: dict[str, list[tuple[float, float]]] = {v: [] for v in variants}
        with tempfile.TemporaryDirectory() as root:
            warm = RLLIB_WARMUP + 2 if name == "rllib" else WARMUP + 10
            step("none", warm, Path(root) / "warm")  # imports and first-call costs outside the rounds
            for r in range(args.rounds):
                order = variants[r % len(variants):] + variants[: r % len(variants)]
                got = {v: step(v, args.steps, Path(root) / f"{r}-{v}") for v in order}
                for v in variants:
                    times[v].append(got[v])
                    ratios[v].append((got[v][0] / got["none"][0], got[v][1] / got["none"][1]))
        print(f"\n{name} (load {os.getloadavg()[0]:.1f})")
        print(f"  {'variant':<12} {'CPU ms/step':>11} {'vs none':>8} {'wall ms/step':>12} {'vs none':>8}")
        for v in variants:
            cells = []
            for i in (0, 1):
                step_ms = 1e3 * statistics.median(t[i] for t in times[v])
                overhead = 100 * (statistics.median(r[i] for r in ratios[v]) - 1)
                cells.append(f"{step_ms:{11 + i}.3f} {overhead:+7.1f}%")
            print(f"  {v:<12} {' '.join(cells)}")


if __name__ == "__main__":
    main()
