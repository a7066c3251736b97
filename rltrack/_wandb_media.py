"""wandb's ``Video`` signature on rltrack's :class:`rltrack.Video` (for the wandb shim).

wandb takes frames channels-first, ``(T, C, H, W)`` or a batch ``(N, T, C, H, W)``, with 4 fps by
default; rltrack's Video takes ``(T, H, W, C)``. This converts and passes on; ``format`` is
accepted (rltrack always stores browser-playable MP4).
"""

from __future__ import annotations

from typing import Any

from rltrack.media import Video as _Video

__all__ = ["Video"]


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
