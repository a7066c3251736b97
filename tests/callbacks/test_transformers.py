"""RLTrackTransformersCallback: a real Trainer on a tiny BERT built from a config, checked against log_history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("transformers")
pytest.importorskip("accelerate")

import torch
from rltrack.callbacks import RLTrackTransformersCallback
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

import rltrack
from rltrack.errors import RltrackError, RunFinishedError

from .conftest import read_run

MAX_STEPS = 6


class Tokens(torch.utils.data.Dataset[dict[str, Any]]):
    """Random 8-token sequences whose label is whether token 0 is even: learnable, no download."""

    def __init__(self, n: int, seed: int) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(0, 32, (n, 8), generator=gen)

    def __len__(self) -> int:
        return self.ids.shape[0]

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"input_ids": self.ids[i], "labels": int(self.ids[i, 0]) % 2}


def _model() -> BertForSequenceClassification:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=32, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=16, num_labels=2,
    )
    return BertForSequenceClassification(config)


def _train(tmp_path: Path, callback: RLTrackTransformersCallback, **overrides: Any) -> Trainer:
    settings: dict[str, Any] = {
        "output_dir": str(tmp_path / "out"), "max_steps": MAX_STEPS, "per_device_train_batch_size": 4,
        "per_device_eval_batch_size": 8, "learning_rate": 1e-3, "logging_steps": 2, "eval_strategy": "steps",
        "eval_steps": 3, "save_strategy": "no", "report_to": "none", "use_cpu": True, "disable_tqdm": True,
        "seed": 0, "dataloader_pin_memory": False,
    }
    settings.update(overrides)
    trainer = Trainer(
        model=_model(), args=TrainingArguments(**settings), train_dataset=Tokens(32, 1), eval_dataset=Tokens(16, 2),
        callbacks=[callback],
    )
    trainer.train()
    return trainer


def test_every_log_history_value_is_in_the_run_at_its_step_and_nothing_else(run: rltrack.Run, store_dir: Path,
                                                                               tmp_path: Path) -> None:
    trainer = _train(tmp_path, RLTrackTransformersCallback(run))
    expected: dict[str, list[tuple[int, float]]] = {}
    for entry in trainer.state.log_history:
        entry = dict(entry)
        step = entry.pop("step")
        for key, value in entry.items():
            expected.setdefault(key, []).append((step, float(value)))
    # Training logs, evaluation and the end-of-training totals: the Trainer's whole output.
    assert {"loss", "learning_rate", "grad_norm", "eval_loss", "train_runtime", "epoch"} <= set(expected)
    view = read_run(store_dir, run)
    assert set(view.keys()) == set(expected)
    for key, points in expected.items():
        steps, _, values = view.series(key)
        assert sorted(zip(steps.tolist(), values.tolist(), strict=True)) == sorted(points), key
    assert max(s for s, _ in expected["loss"]) == MAX_STEPS


def test_training_arguments_and_model_config_land_in_config(run: rltrack.Run, store_dir: Path,
                                                            tmp_path: Path) -> None:
    run.config["learning_rate"] = 0.5  # set by the user (or a sweep) first: kept
    _train(tmp_path, RLTrackTransformersCallback(run))
    config = read_run(store_dir, run).config
    assert config["learning_rate"] == 0.5
    assert config["max_steps"] == MAX_STEPS
    assert config["eval_strategy"] == "steps"
    assert config["model_class"] == "BertForSequenceClassification"
    assert config["model_config"]["num_hidden_layers"] == 2
    assert config["model_num_parameters"] == _model().num_parameters()


def test_checkpoints_are_versions_with_latest_and_best(run: rltrack.Run, store_dir: Path, tmp_path: Path) -> None:
    trainer = _train(
        tmp_path, RLTrackTransformersCallback(run, log_checkpoints=True), save_strategy="steps", save_steps=3,
        metric_for_best_model="eval_loss", greater_is_better=False,
    )
    api = rltrack.Api(store_dir)
    name = f"{run.name}-model"
    versions = api.artifacts(name)
    assert sorted(v.metadata["step"] for v in versions) == [3, 6]
    latest = api.artifact(f"{name}:latest")
    assert latest.metadata["folder"] == "checkpoint-6"
    best = api.artifact(f"{name}:best")
    assert best.metadata["step"] == trainer.state.best_global_step
    # The whole folder: weights, optimizer and the trainer state, as Transformers wrote them.
    folder = tmp_path / "out" / "checkpoint-6"
    written = {p.relative_to(folder).as_posix(): p.stat().st_size for p in folder.rglob("*") if p.is_file()}
    assert {f.path: f.size for f in latest.files} == written
    assert {"model.safetensors", "optimizer.pt", "trainer_state.json"} <= set(written)


def test_without_log_checkpoints_no_checkpoint_is_stored(run: rltrack.Run, store_dir: Path, tmp_path: Path) -> None:
    _train(tmp_path, RLTrackTransformersCallback(run), save_strategy="steps", save_steps=3)
    assert (tmp_path / "out" / "checkpoint-6").is_dir()
    assert rltrack.Api(store_dir).artifacts() == []


def test_run_starts_when_training_begins(store_dir: Path, tmp_path: Path) -> None:
    callback = RLTrackTransformersCallback(project="nlp", dir=store_dir, system_metrics=False)
    assert callback.run is None and not store_dir.exists()
    _train(tmp_path, callback)
    assert callback.run is not None
    assert "eval_loss" in read_run(store_dir, callback.run).keys()  # noqa: SIM118  # RunView is not a mapping


def test_run_and_init_arguments_together_are_refused(run: rltrack.Run) -> None:
    with pytest.raises(RltrackError, match=r"RLTrackTransformersCallback got run=.* and init arguments \['project'\]"):
        RLTrackTransformersCallback(run, project="x")


def test_finished_run_is_refused(run: rltrack.Run) -> None:
    run.finish()
    with pytest.raises(RunFinishedError, match="has finished"):
        RLTrackTransformersCallback(run)
