"""SB3's logger output-format seam: :class:`RunOutputFormat`, a ``KVWriter`` that writes into a run.

SB3 hands every ``logger.dump(step)`` to each of ``logger.output_formats``; appending this
writer there makes every ``train/*``, ``rollout/*``, ``time/*`` and ``eval/*`` value land at
SB3's own step, for every algorithm, with no TensorBoard files and no patching. SB3's own
``Video`` records become :class:`rltrack.Video` and ``HParam`` records go to ``run.config``;
``Image`` and ``Figure`` records are left to the formats made for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.logger import HParam, KVWriter, Video

from rltrack.media import Video as RunVideo

__all__ = ["FORMAT_NAME", "RunOutputFormat", "to_number"]

#: The name ``logger.record(..., exclude=...)`` can use to keep a value out of rltrack.
FORMAT_NAME = "rltrack"


def to_number(value: Any) -> float | int | None:
    """Return ``value`` as a Python number, or None for anything that is not a scalar number.

    SB3 records Python and numpy scalars, 0-d or one-element arrays and tensors; strings,
    ``Video``, ``Figure``, ``Image`` and ``HParam`` objects are for other output formats.
    """
    cls = value.__class__
    if cls is float or cls is int:
        return value  # type: ignore[no-any-return]  # narrowed by the class test above
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "fiub":
        item = value.item()
        return int(item) if isinstance(item, bool) else item
    if isinstance(value, th.Tensor) and value.numel() == 1 and not value.is_complex():
        item = value.item()
        return int(item) if isinstance(item, bool) else item
    return None


class RunOutputFormat(KVWriter):
    """Passes each SB3 ``dump`` (numbers only) to ``sink(values, step)``.

    Args:
        sink: Called with the dumped numeric values and SB3's step (``model.num_timesteps``).
    """

    def __init__(
        self,
        sink: Callable[[dict[str, Any], int], None],
        hparams: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self._sink = sink
        self._hparams = hparams

    def write(self, key_values: dict[str, Any], key_excluded: dict[str, tuple[str, ...]], step: int = 0) -> None:
        """Forward the numbers and videos of one ``logger.dump(step)``; hyperparameters go to ``hparams``."""
        values: dict[str, Any] = {}
        for key, value in key_values.items():
            excluded = key_excluded.get(key)
            if excluded and FORMAT_NAME in excluded:
                continue
            number = to_number(value)
            if number is not None:
                values[key] = number
            elif isinstance(value, Video):
                # SB3 videos are (N, T, C, H, W) tensors, as TensorBoard wants; the first clip is kept.
                frames = th.as_tensor(value.frames)[0].permute(0, 2, 3, 1).cpu().numpy()
                values[key] = RunVideo(frames, fps=value.fps)
            elif isinstance(value, HParam) and self._hparams is not None:
                self._hparams(dict(value.hparam_dict))
        if values:
            self._sink(values, int(step))

    def close(self) -> None:
        """Nothing to close: the run outlives the logger."""
