"""Training-loop integrations that log into a run: SB3's callback and Gymnasium wrappers.

- :class:`RLTrackCallback`: ``model.learn(..., callback=RLTrackCallback())`` logs every SB3 logger
  value, every episode, config, checkpoints and videos (needs ``rltrack[sb3]``).
- :class:`TrackEpisodes`: wrap a Gymnasium env or vector env to log each episode's return and length.
- :class:`RecordRollouts`: wrap a ``render_mode="rgb_array"`` env to log episode videos.
- :class:`RLTrackLogger`: ``lightning.Trainer(logger=RLTrackLogger())`` (needs ``rltrack[lightning]``).
- :class:`RLTrackTransformersCallback`: ``Trainer(..., callbacks=[RLTrackTransformersCallback()])``
  (needs ``rltrack[transformers]``).
- :class:`RLTrackKerasCallback`: ``model.fit(..., callbacks=[RLTrackKerasCallback()])`` (needs ``rltrack[keras]``).
- :class:`RLTrackRLlibCallback`: ``AlgorithmConfig().callbacks(RLTrackRLlibCallback)`` (needs ``rltrack[ray]``).
- :class:`RLTrackTuneCallback`: ``tune.RunConfig(callbacks=[RLTrackTuneCallback()])`` (needs ``rltrack[ray]``).

Each name is imported on first use, so the Gymnasium wrappers work without SB3 installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rltrack.callbacks.gymnasium import RecordRollouts, TrackEpisodes, TrackVectorEpisodes
    from rltrack.callbacks.keras import RLTrackKerasCallback
    from rltrack.callbacks.lightning import RLTrackLogger
    from rltrack.callbacks.ray_tune import RLTrackTuneCallback
    from rltrack.callbacks.rllib import RLTrackRLlibCallback
    from rltrack.callbacks.sb3 import RLTrackCallback
    from rltrack.callbacks.transformers import RLTrackTransformersCallback

__all__ = [
    "RLTrackCallback",
    "RLTrackKerasCallback",
    "RLTrackLogger",
    "RLTrackRLlibCallback",
    "RLTrackTransformersCallback",
    "RLTrackTuneCallback",
    "RecordRollouts",
    "TrackEpisodes",
    "TrackVectorEpisodes",
]

_HOMES = {
    "RLTrackCallback": "rltrack.callbacks.sb3",
    "RLTrackKerasCallback": "rltrack.callbacks.keras",
    "RLTrackLogger": "rltrack.callbacks.lightning",
    "RLTrackRLlibCallback": "rltrack.callbacks.rllib",
    "RLTrackTuneCallback": "rltrack.callbacks.ray_tune",
    "RLTrackTransformersCallback": "rltrack.callbacks.transformers",
    "RecordRollouts": "rltrack.callbacks.gymnasium",
    "TrackEpisodes": "rltrack.callbacks.gymnasium",
    "TrackVectorEpisodes": "rltrack.callbacks.gymnasium",
}
_EXTRAS = {
    "rltrack.callbacks.sb3": "sb3",
    "rltrack.callbacks.gymnasium": "sb3",
    "rltrack.callbacks.lightning": "lightning",
    "rltrack.callbacks.transformers": "transformers",
    "rltrack.callbacks.keras": "keras",
    "rltrack.callbacks.rllib": "ray",
    "rltrack.callbacks.ray_tune": "ray",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'rltrack.callbacks' has no attribute {name!r}")
    import importlib

    from rltrack._extras import install_hint

    try:
        module = importlib.import_module(home)
    except ImportError as err:
        raise ImportError(
            f"rltrack.callbacks.{name} needs {err.name!r}: {install_hint(_EXTRAS[home])}"
        ) from err
    return getattr(module, name)
