"""Train a tiny BERT with the Hugging Face Trainer into a run: logs, arguments and checkpoints.

The model is built from a config (no download) and the data is made here: random token
sequences whose label is whether the first token is even. ``RLTrackTransformersCallback`` takes
the place of ``report_to``: every value the Trainer logs lands at its global step, the
``TrainingArguments`` and the model config go into the run's config, and with
``log_checkpoints=True`` each saved checkpoint folder becomes a version of ``<run name>-model``
(the best ``eval_loss`` one tagged ``best``).

    python examples/transformers_tiny.py [--steps 60] [--dir rltrack-runs]
"""

from __future__ import annotations

import argparse
import tempfile
from typing import Any

import torch
from rltrack.callbacks import RLTrackTransformersCallback
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

import rltrack

VOCAB, LENGTH = 32, 8


class Tokens(torch.utils.data.Dataset[dict[str, Any]]):
    def __init__(self, n: int, seed: int) -> None:
        self.ids = torch.randint(0, VOCAB, (n, LENGTH), generator=torch.Generator().manual_seed(seed))

    def __len__(self) -> int:
        return self.ids.shape[0]

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"input_ids": self.ids[i], "labels": int(self.ids[i, 0]) % 2}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="optimizer steps")
    parser.add_argument("--dir", default=None, help="store folder (default: ./rltrack-runs)")
    args = parser.parse_args()

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=LENGTH, num_labels=2,
    )
    callback = RLTrackTransformersCallback(project="transformers-tiny", dir=args.dir, log_checkpoints=True)
    every = max(1, args.steps // 3)
    with tempfile.TemporaryDirectory() as out:  # the Trainer's own checkpoint folders; the run keeps copies
        trainer = Trainer(
            model=BertForSequenceClassification(config),
            args=TrainingArguments(
                output_dir=out, max_steps=args.steps, per_device_train_batch_size=16, learning_rate=3e-3,
                logging_steps=max(1, args.steps // 10), eval_strategy="steps", eval_steps=every,
                save_strategy="steps", save_steps=every, metric_for_best_model="eval_loss", greater_is_better=False,
                report_to="none", use_cpu=True, disable_tqdm=True, seed=0, dataloader_pin_memory=False,
            ),
            train_dataset=Tokens(512, seed=1), eval_dataset=Tokens(128, seed=2), callbacks=[callback],
        )
        trainer.train()
    run = callback.run
    assert run is not None
    run.finish()

    api = rltrack.Api(args.dir)
    view = api.run(run.id)
    best = api.artifact(f"{run.name}-model:best")
    print(f"run {run.id} ({run.name}): {len(view.keys())} keys, final eval_loss {view.summary['eval_loss']:.3f}, "
          f"best checkpoint {best.ref} at step {best.metadata['step']}; see it: rltrack ui --dir {run.dir.parents[1]}")


if __name__ == "__main__":
    main()
