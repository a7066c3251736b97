"""RLTrackKerasCallback: a real Keras 3 fit() on the torch backend, checked against History and CSVLogger."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

# The torch backend: no TensorFlow needed. Keras reads this once, at its first import.
os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":
    pytest.skip(f"Keras was imported with the {keras.backend.backend()!r} backend first", allow_module_level=True)

from rltrack.callbacks import RLTrackKerasCallback  # noqa: E402

import rltrack  # noqa: E402
from rltrack.errors import InvalidValueError, RltrackError, RltrackWarning, RunFinishedError  # noqa: E402

from .conftest import read_run  # noqa: E402

# Keras 3.15's torch tensors lack numpy 2's __array__(copy=): numpy warns on every conversion. As an
# error the warning would make Keras' own pythonify_logs keep tensors in logs (it catches and moves on).
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept:DeprecationWarning")

SAMPLES, BATCH, EPOCHS = 64, 16, 3
BATCHES = SAMPLES // BATCH


def _model() -> Any:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    return model


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.random((SAMPLES, 4), dtype=np.float32)
    return x, x.sum(axis=1, keepdims=True)


def _fit(callback: RLTrackKerasCallback, *more: Any, epochs: int = EPOCHS) -> Any:
    x, y = _data()
    return _model().fit(x, y, batch_size=BATCH, epochs=epochs, validation_split=0.25, shuffle=False, verbose=0,
                        callbacks=[callback, *more])


def test_every_history_and_csvlogger_value_is_in_the_run_at_its_epoch(run: rltrack.Run, store_dir: Path,
                                                                      tmp_path: Path) -> None:
    csv_path = tmp_path / "log.csv"
    history = _fit(RLTrackKerasCallback(run, batch_every=None), keras.callbacks.CSVLogger(str(csv_path)))
    view = read_run(store_dir, run)
    train_batches = int(SAMPLES * 0.75) // BATCH
    epoch_steps = [train_batches * (e + 1) for e in range(EPOCHS)]
    # What Keras keeps (History), exactly: loss, mae, the validation pair and the learning rate.
    assert {"loss", "mae", "val_loss", "val_mae"} <= set(history.history)
    assert set(view.keys()) == {*history.history, "epoch"}
    for key, values in history.history.items():
        steps, _, stored = view.series(key)
        assert steps.tolist() == epoch_steps, key
        np.testing.assert_allclose(stored, values, rtol=0, atol=0, err_msg=key)
    assert view.series("epoch")[2].tolist() == history.epoch
    # CSVLogger's file says the same (it rounds nothing but writes repr, so compare as floats).
    with open(csv_path, newline="") as f:
        for row in csv.DictReader(f):
            epoch = int(row.pop("epoch"))
            for key, text in row.items():
                steps, _, stored = view.series(key)
                assert stored[steps.tolist().index(epoch_steps[epoch])] == pytest.approx(float(text), rel=1e-6)


class _BatchLogs(keras.callbacks.Callback):  # type: ignore[misc]
    """Records what Keras hands callbacks after each training batch."""

    def __init__(self) -> None:
        super().__init__()
        self.logs: list[dict[str, float]] = []

    def on_train_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
        self.logs.append(dict(logs or {}))


def test_batch_values_are_logged_every_batch_every_batches(run: rltrack.Run, store_dir: Path) -> None:
    seen = _BatchLogs()
    _fit(RLTrackKerasCallback(run, batch_every=2), seen)
    view = read_run(store_dir, run)
    assert len(seen.logs) == 3 * EPOCHS
    for key in ("loss", "mae"):
        steps, _, values = view.series(f"batch/{key}")
        assert steps.tolist() == list(range(2, len(seen.logs) + 1, 2))
        assert values.tolist() == [float(seen.logs[s - 1][key]) for s in steps.tolist()]


def test_model_and_optimizer_config_land_in_config(run: rltrack.Run, store_dir: Path) -> None:
    run.config["epochs"] = 99  # set by the user (or a sweep) first: kept
    _fit(RLTrackKerasCallback(run))
    config = read_run(store_dir, run).config
    assert config["epochs"] == 99
    assert config["steps_per_epoch"] == 3
    assert config["model_class"] == "Sequential"
    assert [layer["class_name"] for layer in config["model_config"]["layers"]] == ["InputLayer", "Dense", "Dense"]
    assert config["optimizer_class"] == "SGD"
    assert config["optimizer_config"]["learning_rate"] == pytest.approx(0.05)


def test_checkpoints_are_versions_with_latest_and_best(run: rltrack.Run, store_dir: Path, tmp_path: Path) -> None:
    history = _fit(RLTrackKerasCallback(run, checkpoint_every=2, monitor="val_loss"), epochs=4)
    api = rltrack.Api(store_dir)
    name = f"{run.name}-model"
    versions = api.artifacts(name)
    val_loss = history.history["val_loss"]
    best_epochs = [e for e in range(4) if val_loss[e] == min(val_loss[: e + 1])]
    # Every epoch with a new best val_loss, plus every 2nd epoch (the last among them).
    assert sorted(v.metadata["epoch"] for v in versions) == sorted({*best_epochs, 1, 3})
    best = api.artifact(f"{name}:best")
    assert best.metadata["epoch"] == int(np.argmin(val_loss))
    assert best.metadata["val_loss"] == min(val_loss)
    assert api.artifact(f"{name}:latest").metadata["epoch"] == 3
    # The stored file is a model Keras loads back.
    restored = keras.saving.load_model(best.download(tmp_path / "best") / "model.keras")
    assert restored.count_params() == _model().count_params()


def test_a_monitor_key_keras_does_not_report_warns_once(run: rltrack.Run, store_dir: Path) -> None:
    with pytest.warns(RltrackWarning, match=r"monitor='val_acc' is not among the epoch's values"):
        _fit(RLTrackKerasCallback(run, checkpoint_every=5, monitor="val_acc"))
    versions = rltrack.Api(store_dir).artifacts(f"{run.name}-model")
    assert [v.metadata["epoch"] for v in versions] == [EPOCHS - 1]  # the final model only


def test_run_starts_when_training_begins(store_dir: Path) -> None:
    callback = RLTrackKerasCallback(project="keras", dir=store_dir, system_metrics=False)
    assert callback.run is None and not store_dir.exists()
    _fit(callback, epochs=1)
    assert callback.run is not None
    assert "val_loss" in read_run(store_dir, callback.run).keys()  # noqa: SIM118  # RunView is not a mapping


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_every": 0}, "batch_every=0 must be a positive int or None"),
        ({"checkpoint_every": 1.5}, "checkpoint_every=1.5 must be a positive int or None"),
        ({"checkpoint_every": 1, "mode": "best"}, "mode='best' must be 'min' or 'max'"),
        ({"monitor": "val_loss"}, "monitor='val_loss' picks the best checkpoint: pass a key .* with checkpoint_every="),
    ],
)
def test_bad_settings_are_refused(run: rltrack.Run, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        RLTrackKerasCallback(run, **kwargs)


def test_run_and_init_arguments_together_are_refused(run: rltrack.Run) -> None:
    with pytest.raises(RltrackError, match=r"RLTrackKerasCallback got run=.* and init arguments \['project'\]"):
        RLTrackKerasCallback(run, project="x")


def test_finished_run_is_refused(run: rltrack.Run) -> None:
    run.finish()
    with pytest.raises(RunFinishedError, match="has finished"):
        RLTrackKerasCallback(run)
