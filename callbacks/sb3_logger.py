"""SB3's logger output-format seam: :class:`RunOutputFormat`, a ``KVWriter`` that writes into a run.

SB3 hands every ``logger.dump(step)`` to each of ``logger.output_formats``; appending this
writer there makes every ``train/*``, ``rollout/*``, ``time/*`` and ``eval/*`` value land at
SB3's own step, for every algorithm, with no TensorBoard files and no patching. SB3's own
``Video`` records become :class:`rltrack.Video`, ``Image`` and ``Figure`` records become
:class:`rltrack.Image` (a figure is drawn with matplotlib's Agg renderer, imported only when a
``Figure`` comes), and ``HParam`` records go to ``run.config``. A record that cannot be turned
into an image (a wrong ``dataformats``, a figure that fails to draw) is skipped with one
:class:`rltrack.errors.RltrackWarning` per key; training and the record's other values go on.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch as th
from rltrack.callbacks._warn import WarnOnce
from stable_baselines3.common.logger import Figure, HParam, Image, KVWriter, Video

from rltrack.errors import InvalidValueError
from rltrack.media import Image as RunImage
from rltrack.media import Video as RunVideo

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["FORMAT_NAME", "RunOutputFormat", "figure_pixels", "image_pixels", "to_number"]

#: The name ``logger.record(..., exclude=...)`` can use to keep a value out of rltrack.
FORMAT_NAME = "rltrack"

# TensorBoard's add_image tiles an N axis into a grid this many images wide (torchvision's make_grid).
_GRID_COLUMNS = 8


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


def image_pixels(image: object, dataformats: object) -> NDArray[np.uint8]:
    """Return the pixels of an SB3 ``Image`` as uint8, channels last: (H, W, C) with C in 1, 3, 4.

    ``dataformats`` names the axes of ``image`` as TensorBoard's ``add_image`` reads them: one
    letter per axis from H, W, C and N, in any order, case-insensitive ("HWC", "CHW", "HW",
    "NCHW", ...). An N axis is tiled into a grid, 8 images wide, as TensorBoard does. Floats
    (and bools) are taken as [0, 1] and scaled to 0..255 (NaN becomes 0); other integers must
    already be within 0..255.

    Args:
        image: A numpy array or torch tensor.
        dataformats: The axis letters, one per dimension of ``image``.

    Returns:
        A new uint8 array of shape (H, W, C).

    Raises:
        InvalidValueError: ``dataformats`` does not fit the array, the channel count is not 1, 3
            or 4, or the values are not pixels.
    """
    arr = _to_array(image)
    fmt = dataformats.upper() if isinstance(dataformats, str) else None
    if (
        fmt is None
        or not set(fmt) <= set("NCHW")
        or len(set(fmt)) != len(fmt)
        or not {"H", "W"} <= set(fmt)
        or len(fmt) != arr.ndim
    ):
        raise InvalidValueError(
            f"SB3 Image has dataformats={dataformats!r} for an array of shape {arr.shape!r}; pass one letter "
            "per axis from H, W, C (and N), e.g. 'HWC' for (H, W, 3), 'CHW' for (3, H, W) or 'HW' for (H, W)"
        )
    missing = [axis for axis in "NC" if axis not in fmt]
    arr = arr.reshape(arr.shape + (1,) * len(missing))
    axes = fmt + "".join(missing)
    nhwc = arr.transpose([axes.index(axis) for axis in "NHWC"])
    if nhwc.shape[3] not in (1, 3, 4):
        raise InvalidValueError(
            f"SB3 Image with dataformats={dataformats!r} has {nhwc.shape[3]} channels (shape {arr.shape!r}); "
            "pass 1 (grey), 3 (RGB) or 4 (RGBA) channels, or fix dataformats"
        )
    return _grid(_to_uint8(nhwc))


def figure_pixels(figure: Any) -> NDArray[np.uint8]:
    """Draw a matplotlib figure and return its pixels: (H, W, 3), or (H, W, 4) where it is transparent.

    The figure's own canvas draws it when it is Agg-based (Agg, TkAgg, QtAgg, inline); any other
    canvas (PDF, SVG, Cairo) is swapped for an Agg one while drawing, then put back.

    Args:
        figure: A ``matplotlib.figure.Figure``.

    Returns:
        A new uint8 array at the figure's size in pixels.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = figure.canvas
    # Any: matplotlib's stubs leave FigureCanvasAgg.draw and buffer_rgba untyped.
    agg: Any = canvas if isinstance(canvas, FigureCanvasAgg) else FigureCanvasAgg(figure)
    try:
        agg.draw()
        rgba = np.array(agg.buffer_rgba(), dtype=np.uint8)
    finally:
        if agg is not canvas:
            figure.set_canvas(canvas)  # FigureCanvasAgg(figure) took the figure over
    return rgba[:, :, :3].copy() if bool((rgba[:, :, 3] == 255).all()) else rgba


def _to_array(image: object) -> NDArray[Any]:
    if isinstance(image, th.Tensor):
        tensor = image.detach().cpu()
        # numpy has no bfloat16; any float becomes [0, 1] floats below anyway.
        return (tensor.float() if tensor.is_floating_point() else tensor).numpy()
    return np.asarray(image)


def _to_uint8(arr: NDArray[Any]) -> NDArray[np.uint8]:
    kind = arr.dtype.kind
    if arr.dtype == np.uint8:
        return arr
    if kind in "fb":
        scaled = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=1.0, neginf=0.0)
        out: NDArray[np.uint8] = (np.clip(scaled, 0.0, 1.0) * 255.0).round().astype(np.uint8)
        return out
    if kind in "iu" and arr.size > 0 and arr.min() >= 0 and arr.max() <= 255:
        return arr.astype(np.uint8)
    raise InvalidValueError(
        f"SB3 Image has dtype {str(arr.dtype)!r} with values outside 0..255 or no pixels (shape {arr.shape!r}); "
        "pass uint8 pixels, or floats in [0, 1]"
    )


def _grid(nhwc: NDArray[np.uint8]) -> NDArray[np.uint8]:
    count, height, width, channels = nhwc.shape
    if count == 1:
        single: NDArray[np.uint8] = nhwc[0]
        return single
    columns = min(count, _GRID_COLUMNS)
    rows = math.ceil(count / columns)
    grid = np.zeros((rows * height, columns * width, channels), dtype=np.uint8)
    for i in range(count):
        row, column = divmod(i, columns)
        grid[row * height : (row + 1) * height, column * width : (column + 1) * width] = nhwc[i]
    return grid


class RunOutputFormat(KVWriter):
    """Passes each SB3 ``dump`` (numbers, videos and images) to ``sink(values, step)``.

    Args:
        sink: Called with the dumped values and SB3's step (``model.num_timesteps``).
        hparams: Called with the hyperparameters of an ``HParam`` record; None ignores them.
        warn: Called as ``warn(cause, message)`` for a record that is skipped; defaults to one
            :class:`rltrack.errors.RltrackWarning` per cause.
    """

    def __init__(
        self,
        sink: Callable[[dict[str, Any], int], None],
        hparams: Callable[[dict[str, Any]], None] | None = None,
        warn: Callable[[str, str], None] | None = None,
    ) -> None:
        self._sink = sink
        self._hparams = hparams
        self._warn: Callable[[str, str], None] = warn if warn is not None else WarnOnce()

    def write(self, key_values: dict[str, Any], key_excluded: dict[str, tuple[str, ...]], step: int = 0) -> None:
        """Forward the numbers, videos and images of one ``logger.dump(step)``; hyperparameters go to ``hparams``."""
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
            elif isinstance(value, (Image, Figure)):
                image = self._image(key, value)
                if image is not None:
                    values[key] = image
            elif isinstance(value, HParam) and self._hparams is not None:
                self._hparams(dict(value.hparam_dict))
        if values:
            self._sink(values, int(step))

    def _image(self, key: str, value: Image | Figure) -> RunImage | None:
        try:
            if isinstance(value, Figure):
                return RunImage(self._draw(value))
            if isinstance(value.image, (str, os.PathLike)):
                return RunImage(value.image)  # an existing PNG/JPEG file
            return RunImage(image_pixels(value.image, value.dataformats))
        except InvalidValueError as err:
            self._skip(key, str(err))
        return None

    def _draw(self, value: Figure) -> NDArray[np.uint8]:
        try:
            return figure_pixels(value.figure)
        # Any error: a plot that fails to draw (bad mathtext, LaTeX, not a figure) must not stop training.
        except Exception as err:
            raise InvalidValueError(
                f"SB3 Figure {value.figure!r} could not be drawn ({err!r}); pass a matplotlib Figure that "
                "fig.savefig() can render"
            ) from err
        finally:
            # The figure is closed as asked even when drawing failed. A figure pyplot never saw
            # needs no closing, so pyplot is not imported for it.
            if value.close and "matplotlib.pyplot" in sys.modules:
                sys.modules["matplotlib.pyplot"].close(value.figure)

    def _skip(self, key: str, reason: str) -> None:
        self._warn(f"sb3-logger-record:{key}", f"rltrack skips the SB3 logger record {key!r}: {reason}")

    def close(self) -> None:
        """Nothing to close: the run outlives the logger."""
