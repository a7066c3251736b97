"""RLTrackLogger: a real Lightning Trainer on a tiny model, checked against Lightning's own CSVLogger."""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("lightning")

import lightning as L
import torch
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from rltrack.callbacks import RLTrackLogger
from torch.utils.data import DataLoader, TensorDataset

import rltrack
from rltrack.errors import RltrackError, RltrackWarning, RunFinishedError

from .conftest import read_run

BATCHES_PER_EPOCH = 4


class Regression(L.LightningModule):
    """y = 2x + 1 with one linear layer: training and validation losses, logged per step and per epoch."""

    def __init__(self, lr: float = 0.1, hidden: int = 1) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(1, hidden)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        self.log("train/loss", loss, on_step=True, on_epoch=True)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def _loader() -> DataLoader[Any]:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(BATCHES_PER_EPOCH * 8, 1, generator=gen)
    return DataLoader(TensorDataset(x, 2 * x + 1), batch_size=8)


def _fit(tmp_path: Path, loggers: list[Any], epochs: int = 3, checkpoint: ModelCheckpoint | None = None) -> None:
    torch.manual_seed(0)
    callbacks: list[Any] = [LearningRateMonitor(logging_interval="step")]
    if checkpoint is not None:
        callbacks.append(checkpoint)
    trainer = L.Trainer(
        max_epochs=epochs, logger=loggers, callbacks=callbacks, default_root_dir=tmp_path, accelerator="cpu",
        log_every_n_steps=1, enable_progress_bar=False, enable_model_summary=False,
        enable_checkpointing=checkpoint is not None,
    )
    with warnings.catch_warnings():
        # Lightning's advice for a tiny CPU run (more dataloader workers), not a fault of the logger.
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        # lightning 2.6 builds torch's LeafSpec, deprecated in torch 2.13: theirs to fix, harmless here.
        warnings.filterwarnings("ignore", message=r".*treespec, LeafSpec\)` is deprecated", category=FutureWarning)
        trainer.fit(Regression(), train_dataloaders=_loader(), val_dataloaders=_loader())


def _csv_rows(csv_logger: CSVLogger) -> list[dict[str, float]]:
    with open(Path(csv_logger.log_dir) / "metrics.csv", newline="") as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


def test_every_csvlogger_value_is_in_the_run_at_its_step_and_nothing_else(run: rltrack.Run, store_dir: Path,
                                                                            tmp_path: Path) -> None:
    csv_logger = CSVLogger(tmp_path / "csv", name="oracle")
    _fit(tmp_path, [RLTrackLogger(run), csv_logger])
    rows = _csv_rows(csv_logger)
    view = read_run(store_dir, run)
    expected: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        step = int(row.pop("step"))
        for key, value in row.items():
            expected.setdefault(key, []).append((step, value))
    # Per-step and per-epoch losses, validation, the learning rate and epoch: Lightning's whole output.
    assert {"train/loss_step", "train/loss_epoch", "val_loss", "lr-SGD", "epoch"} <= set(expected)
    assert set(view.keys()) == set(expected)
    for key, points in expected.items():
        steps, _, values = view.series(key)
        got = sorted(zip(steps.tolist(), values.tolist(), strict=True))
        assert [s for s, _ in got] == [s for s, _ in sorted(points)], key
        # metrics.csv holds Python's repr of each float: equal to the last bit.
        np.testing.assert_allclose([v for _, v in got], [v for _, v in sorted(points)], rtol=0, atol=0, err_msg=key)
    assert max(s for s, _ in expected["train/loss_step"]) == 3 * BATCHES_PER_EPOCH - 1


def test_hyperparameters_land_in_config(run: rltrack.Run, store_dir: Path, tmp_path: Path) -> None:
    _fit(tmp_path, [RLTrackLogger(run)], epochs=1)
    assert read_run(store_dir, run).config == {"lr": 0.1, "hidden": 1}


def test_checkpoints_are_versions_with_latest_and_best(run: rltrack.Run, store_dir: Path, tmp_path: Path) -> None:
    checkpoint = ModelCheckpoint(monitor="val_loss", mode="min", save_top_k=1, save_last=True)
    _fit(tmp_path, [RLTrackLogger(run, log_model=True)], epochs=3, checkpoint=checkpoint)
    api = rltrack.Api(store_dir)
    name = f"{run.name}-model"
    best = api.artifact(f"{name}:best")
    latest = api.artifact(f"{name}:latest")
    # The checkpoint Lightning calls best is the version called best, byte for byte.
    best_file = Path(checkpoint.best_model_path)
    assert best.metadata["filename"] == best_file.name
    assert best.metadata["monitor"] == "val_loss"
    assert math.isclose(best.metadata["score"], float(checkpoint.best_model_score))
    (stored,) = [f for f in best.files]
    assert stored.size == best_file.stat().st_size
    # Every epoch wrote a top-k file and last.ckpt; the newest version is the last file written.
    versions = api.artifacts(name)
    assert len(versions) >= 3
    assert latest.metadata["filename"] == "last.ckpt"
    assert latest.metadata["step"] == 3 * BATCHES_PER_EPOCH
    # Checkpoints live in Lightning's folder named after the logger: <root>/<project>/<run id>/checkpoints.
    assert Path(checkpoint.dirpath) == tmp_path / run.project / run.id / "checkpoints"


def test_without_log_model_no_checkpoint_is_stored(run: rltrack.Run, store_dir: Path, tmp_path: Path) -> None:
    _fit(tmp_path, [RLTrackLogger(run)], epochs=1, checkpoint=ModelCheckpoint())
    assert rltrack.Api(store_dir).artifacts() == []


def test_run_starts_when_lightning_first_needs_it(store_dir: Path, tmp_path: Path) -> None:
    logger = RLTrackLogger(project="perception", dir=store_dir, system_metrics=False)
    assert not store_dir.exists()  # built, but no run yet (every DDP worker builds one too)
    assert logger.name == "perception"
    _fit(tmp_path, [logger], epochs=1)
    run = logger.experiment
    assert isinstance(run, rltrack.Run)
    assert logger.version == run.id
    view = read_run(store_dir, run)
    assert "val_loss" in view.keys()  # noqa: SIM118  # RunView is not a mapping


def test_a_value_the_run_refuses_is_dropped_with_one_warning(run: rltrack.Run, store_dir: Path) -> None:
    logger = RLTrackLogger(run)
    with pytest.warns(RltrackWarning, match="'_rltrack/x' at step 3 was not logged"):
        logger.log_metrics({"loss": 0.5, "_rltrack/x": 1.0}, step=3)
    view = read_run(store_dir, run)
    assert view.keys() == ["loss"]
    assert view.series("loss")[0].tolist() == [3]


def test_run_and_init_arguments_together_are_refused(run: rltrack.Run) -> None:
    with pytest.raises(RltrackError, match=r"RLTrackLogger got run=.* and init arguments \['project'\]"):
        RLTrackLogger(run, project="x")


def test_finished_run_is_refused(run: rltrack.Run) -> None:
    run.finish()
    with pytest.raises(RunFinishedError, match="has finished"):
        RLTrackLogger(run)


def test_log_model_must_be_a_bool(run: rltrack.Run) -> None:
    with pytest.raises(RltrackError, match=r"log_model='all' must be True or False"):
        RLTrackLogger(run, log_model="all")  # type: ignore[arg-type]


DDP_SCRIPT = """
import sys, warnings
warnings.filterwarnings("ignore")
import lightning as L, torch
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader, TensorDataset
from rltrack.callbacks import RLTrackLogger

class Net(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)
    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        self.log("train/loss", loss, sync_dist=True)
        return loss
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

if __name__ == "__main__":
    store, root = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    x = torch.rand(64, 1)
    logger = RLTrackLogger(project="ddp", dir=store, system_metrics=False)
    trainer = L.Trainer(strategy="ddp", devices=2, accelerator="cpu", max_epochs=1, log_every_n_steps=1,
                        logger=[logger, CSVLogger(root, name="csv")], default_root_dir=root,
                        enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False)
    trainer.fit(Net(), DataLoader(TensorDataset(x, 2 * x + 1), batch_size=8))
    if trainer.global_rank == 0:
        print("RUN", logger.experiment.id)
"""


@pytest.mark.slow  # two DDP processes on gloo: ~1 min on a busy 2-core machine
def test_under_ddp_only_rank_zero_writes_one_run(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT)
    store = tmp_path / "store"
    done = subprocess.run([sys.executable, str(script), str(store), str(tmp_path / "root")], capture_output=True,
                          text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    (run_id,) = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("RUN ")]
    runs = rltrack.Api(store).runs("ddp")
    assert [r.id for r in runs] == [run_id]  # the second process started no run of its own
    (csv_dir,) = (tmp_path / "root" / "csv").iterdir()
    with open(csv_dir / "metrics.csv", newline="") as f:
        rows = [row for row in csv.DictReader(f) if row["train/loss"]]
    steps, _, values = rltrack.Api(store).run(run_id).series("train/loss")
    assert steps.tolist() == [int(row["step"]) for row in rows] == list(range(4))  # 64 samples / 2 ranks / 8
    assert values.tolist() == [float(row["train/loss"]) for row in rows]
