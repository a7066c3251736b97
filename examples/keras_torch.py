"""Train a small Keras 3 model on the torch backend into a run: epoch and batch metrics, config, checkpoints.

No TensorFlow: the script sets ``KERAS_BACKEND=torch`` before importing Keras. The data is made
here: points in the plane labelled by which of two interleaved spirals they lie on.
``RLTrackKerasCallback`` logs every value Keras reports at each epoch's end (``loss``,
``accuracy``, ``val_*``), each batch's running values as ``batch/*``, the model and optimizer
config, and, with ``checkpoint_every``, the model as versions of ``<run name>-model`` (the best
``val_loss`` one tagged ``best``).

    python examples/keras_torch.py [--epochs 20] [--dir rltrack-runs]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np
from rltrack.callbacks import RLTrackKerasCallback

import rltrack


def spirals(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    t = rng.uniform(0.5, 3.0, n) * np.pi
    angle = t + labels * np.pi
    points = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1) / 10 + rng.normal(0, 0.02, (n, 2))
    return points.astype(np.float32), labels.astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--dir", default=None, help="store folder (default: ./rltrack-runs)")
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((2,)),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=["accuracy"])
    callback = RLTrackKerasCallback(
        project="keras-torch", dir=args.dir, batch_every=5, checkpoint_every=5, monitor="val_loss"
    )
    x, y = spirals(1024, seed=0)
    model.fit(x, y, batch_size=64, epochs=args.epochs, validation_split=0.25, verbose=0, callbacks=[callback])
    run = callback.run
    assert run is not None
    run.finish()

    api = rltrack.Api(args.dir)
    view = api.run(run.id)
    best = api.artifact(f"{run.name}-model:best")
    print(f"run {run.id} ({run.name}): final val_accuracy {view.summary['val_accuracy']:.2f}, best checkpoint "
          f"{best.ref} at epoch {best.metadata['epoch']}; see it: rltrack ui --dir {run.dir.parents[1]}")


if __name__ == "__main__":
    main()
