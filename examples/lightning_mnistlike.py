"""Train a small Lightning classifier into a run: metrics, hyperparameters and the best checkpoint.

The data is MNIST-like but made here (no download): 8x8 images of ten classes, each a fixed random
template plus noise. ``RLTrackLogger`` receives what Lightning logs (``train/loss``, ``val/acc``,
``epoch``, the learning rate) at Lightning's step; ``log_model=True`` stores each checkpoint
``ModelCheckpoint`` writes as a version of ``<run name>-model``, the best ``val/acc`` one as ``best``.

    python examples/lightning_mnistlike.py [--epochs 5] [--dir rltrack-runs]
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from rltrack.callbacks import RLTrackLogger
from torch.utils.data import DataLoader, TensorDataset

import rltrack

CLASSES, SIDE = 10, 8


def make_data(n: int, seed: int) -> TensorDataset:
    templates = torch.rand(CLASSES, SIDE * SIDE, generator=torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, CLASSES, (n,), generator=gen)
    images = templates[labels] + 0.5 * torch.randn(n, SIDE * SIDE, generator=gen)
    return TensorDataset(images, labels)


class Classifier(L.LightningModule):
    def __init__(self, hidden: int = 32, lr: float = 1e-2) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(SIDE * SIDE, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, CLASSES)
        )

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        images, labels = batch
        loss = torch.nn.functional.cross_entropy(self.net(images), labels)
        self.log("train/loss", loss)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        images, labels = batch
        logits = self.net(images)
        self.log("val/loss", torch.nn.functional.cross_entropy(logits, labels))
        self.log("val/acc", (logits.argmax(dim=1) == labels).float().mean())

    def configure_optimizers(self) -> Any:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--dir", default=None, help="store folder (default: ./rltrack-runs)")
    args = parser.parse_args()

    torch.manual_seed(0)
    logger = RLTrackLogger(project="lightning-mnistlike", dir=args.dir, log_model=True, tags=["lightning"])
    with tempfile.TemporaryDirectory() as root:  # Lightning's checkpoint files; the run keeps its own copies
        trainer = L.Trainer(
            max_epochs=args.epochs, logger=logger, default_root_dir=root, accelerator="cpu", log_every_n_steps=5,
            callbacks=[ModelCheckpoint(monitor="val/acc", mode="max"), LearningRateMonitor()],
            enable_progress_bar=False, enable_model_summary=False,
        )
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*does not have many workers.*")  # tiny in-memory data
            warnings.filterwarnings("ignore", message=".*treespec, LeafSpec")  # lightning 2.6 on torch 2.13
            trainer.fit(
                Classifier(),
                DataLoader(make_data(640, seed=1), batch_size=32, shuffle=True),
                DataLoader(make_data(320, seed=2), batch_size=64),
            )
    run = logger.experiment
    run.finish()

    view = rltrack.Api(args.dir).run(run.id)
    best = rltrack.Api(args.dir).artifact(f"{run.name}-model:best")
    print(f"run {run.id} ({run.name}): keys {view.keys()}, final val/acc {view.summary['val/acc']:.2f}, "
          f"best checkpoint {best.ref} ({best.metadata['filename']}); see it: rltrack ui --dir {run.dir.parents[1]}")


if __name__ == "__main__":
    main()
