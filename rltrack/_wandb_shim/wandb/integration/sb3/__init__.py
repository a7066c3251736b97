"""``from wandb.integration.sb3 import WandbCallback`` under rltrack's wandb shim: :class:`RLTrackCallback`.

wandb's callback leaves SB3's logger values to ``sync_tensorboard`` (the model's
``tensorboard_log``) and saves the model and gradients. So does this one when the run mirrors
TensorBoard and the model writes it; otherwise it logs the values itself, so nothing is lost and
nothing is stored twice. ``model_save_freq`` stores checkpoints as artifact versions,
``gradient_save_freq`` logs gradient histograms; ``model_save_path`` and ``log`` are accepted.
"""

from __future__ import annotations

from typing import Any

from stable_baselines3.common.logger import TensorBoardOutputFormat

from rltrack._tbsync import is_syncing
from rltrack.callbacks import RLTrackCallback

__all__ = ["WandbCallback"]


class WandbCallback(RLTrackCallback):
    """wandb's SB3 callback signature on :class:`rltrack.callbacks.RLTrackCallback`."""

    def __init__(
        self,
        verbose: int = 0,
        model_save_path: str | None = None,
        model_save_freq: int = 0,
        gradient_save_freq: int = 0,
        log: str | None = "all",
        **kwargs: Any,
    ) -> None:
        super().__init__(checkpoint_every=model_save_freq or None, gradients_every=gradient_save_freq or None)
        self.verbose = verbose
        self.model_save_path = model_save_path

    def _init_callback(self) -> None:
        super()._init_callback()
        formats = self.model.logger.output_formats
        if is_syncing(self.run) and any(isinstance(f, TensorBoardOutputFormat) for f in formats):
            # The TensorBoard mirror brings these values in at the same steps: one copy, as wandb keeps.
            formats.remove(self._writer)
