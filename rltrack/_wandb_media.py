"""wandb's ``Image`` and ``Video`` signatures on rltrack's media classes (for the wandb shim).

wandb takes video frames channels-first, ``(T, C, H, W)`` or a batch ``(N, T, C, H, W)``, with 4 fps
by default; rltrack's Video takes ``(T, H, W, C)``. wandb's Image takes torch tensors (``C, H, W``),
float pixels in [0, 1] (or 0-255), PIL images; rltrack's takes uint8 ``(H, W[, C])`` arrays. These
convert and pass on; ``format``, ``mode``, ``boxes``, ``masks`` and friends are accepted, unused.
"""

from __future__ import annotations

from typing import Any

from rltrack.media import Image as _Image
from rltrack.media import Video as _Video

__all__ = ["Image", "Video"]


class Image(_Image):
    """An image in wandb's form: ``Image(data_or_path, mode=None, caption=None, ...)``."""

    def __init__(self, data_or_path: Any, mode: str | None = None, caption: str | None = None,
                 **unused: Any) -> None:
        super().__init__(_pixels(data_or_path), caption=caption)


def _pixels(data: Any) -> Any:
    """Return ``data`` as uint8 ``(H, W[, C])`` pixels, as wandb converts them; paths pass through."""
    import os

    if isinstance(data, (str, os.PathLike)):
        return data
    import numpy as np

    if hasattr(data, "detach"):  # a torch tensor, channels first as torchvision makes them
        data = data.detach().cpu().numpy()
        if data.ndim == 3 and data.shape[0] in (1, 3, 4):
            data = data.transpose(1, 2, 0)
    array = np.asarray(data)  # PIL images too
    if array.dtype != np.uint8 and array.dtype.kind in "fiub" and array.size:
        scale = 255.0 if array.dtype.kind == "f" and float(np.nanmax(array)) <= 1.0 else 1.0
        array = np.clip(np.nan_to_num(array.astype(np.float64) * scale), 0, 255).astype(np.uint8)
    return array


class Video(_Video):
    """A video in wandb's form: ``Video(frames_TCHW, caption=None, fps=4, format=None)`` or a file path."""

    def __init__(self, data_or_path: Any, caption: str | None = None, fps: float | None = None,
                 format: str | None = None) -> None:
        shape = getattr(data_or_path, "shape", None)
        if shape is not None and len(shape) == 5:
            # A batch of clips side by side in one row, as wandb tiles them: (N, T, C, H, W) -> (T, C, H, N*W).
            data_or_path = data_or_path.transpose(1, 2, 3, 0, 4).reshape(shape[1], shape[2], shape[3], -1)
            shape = data_or_path.shape
        if shape is not None and len(shape) == 4 and shape[1] in (1, 3, 4):
            data_or_path = data_or_path.transpose(0, 2, 3, 1)  # channels last, as rltrack's Video takes
        super().__init__(data_or_path, fps=4 if fps is None else fps, caption=caption)
