"""Camera topics -> short videos: decode, decimate in time and space, cut into clips.

``sensor_msgs/Image`` is converted with numpy only; ``sensor_msgs/CompressedImage`` needs OpenCV
(``opencv-python-headless``, in ``rltrack[video]``). Frames are kept at most ``fps`` times per
second of message time and shrunk by an integer stride to at most ``max_width`` pixels wide, so a
30 Hz 640x480 camera costs the mirror a few small frames per second. A clip ends at an episode
boundary (:meth:`FrameSampler.cut`), after ``segment_s`` seconds, or when the size changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import DecodeError
from .topics import ImageConfig

__all__ = ["FrameSampler", "SampledFrame", "image_to_rgb"]

Frame = NDArray[np.uint8]

_CHANNELS = {
    "rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1, "8UC1": 1, "8UC3": 3, "8UC4": 4,
    "mono16": 1, "16UC1": 1, "32FC1": 1,
}  # fmt: skip


@dataclass(frozen=True)
class SampledFrame:
    """A frame kept by :class:`FrameSampler`, ``(H, W, 3)`` uint8 RGB."""

    frame: Frame
    t_ns: int
    starts_clip: bool  # the clip being recorded (if any) ends before this frame


def _to_uint8(plane: NDArray[Any]) -> Frame:
    if plane.dtype == np.uint8:
        return plane
    data = plane.astype(np.float64)
    finite = data[np.isfinite(data)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    scaled = (np.nan_to_num(data, nan=lo) - lo) * (255.0 / (hi - lo if hi > lo else 1.0))
    return np.clip(scaled, 0, 255).astype(np.uint8)


def _raw_image(msg: Any, stride: int) -> Frame:
    enc = str(msg.encoding)
    channels = _CHANNELS.get(enc)
    if channels is None:
        raise DecodeError(f"image encoding {enc!r} is not supported; use one of {sorted(_CHANNELS)}")
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    dtype: Any = {"mono16": ">u2", "16UC1": ">u2", "32FC1": ">f4"}.get(enc, np.uint8)
    if dtype != np.uint8 and not msg.is_bigendian:
        dtype = dtype.replace(">", "<")
    itemsize = np.dtype(dtype).itemsize
    data = np.asarray(msg.data, dtype=np.uint8)
    if step < width * channels * itemsize or data.size < step * height:
        raise DecodeError(
            f"image of {data.size} bytes is too small for {width}x{height} {enc!r} with step {step}"
        )
    rows = data[: step * height].reshape(height, step)[:, : width * channels * itemsize]
    pixels = np.ascontiguousarray(rows).view(dtype).reshape(height, width, channels)
    pixels = pixels[::stride, ::stride]
    if enc in ("bgr8", "bgra8"):
        pixels = pixels[:, :, 2::-1]
    elif channels == 4:
        pixels = pixels[:, :, :3]
    elif channels == 1:
        pixels = np.repeat(_to_uint8(pixels), 3, axis=2)
    return np.ascontiguousarray(pixels, dtype=np.uint8)


def _compressed_image(msg: Any, stride: int) -> Frame:
    try:
        import cv2
    except ImportError as err:  # optional: the robot install may not carry OpenCV
        raise DecodeError(
            "sensor_msgs/CompressedImage needs OpenCV; install opencv-python-headless (rltrack[video])"
        ) from err
    buf = np.asarray(msg.data, dtype=np.uint8)
    bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if bgr is None:
        raise DecodeError(f"cannot decode CompressedImage of format {msg.format!r} ({buf.size} bytes)")
    return np.ascontiguousarray(bgr[::stride, ::stride, ::-1])


def image_to_rgb(msg: Any, msgtype: str, max_width: int = 0) -> Frame:
    """Return an ``(H, W, 3)`` uint8 RGB frame, shrunk by an integer stride to ``max_width``.

    Raises:
        DecodeError: unsupported encoding, inconsistent sizes, or undecodable compressed data.
    """
    if msgtype == "sensor_msgs/msg/CompressedImage":
        # The size is only known after decoding; decode first, then stride.
        frame = _compressed_image(msg, 1)
        width = frame.shape[1]
        stride = -(-width // max_width) if max_width and width > max_width else 1
        return np.ascontiguousarray(frame[::stride, ::stride]) if stride > 1 else frame
    width = int(msg.width)
    stride = -(-width // max_width) if max_width and width > max_width else 1
    return _raw_image(msg, stride)


class FrameSampler:
    """Choose one topic's frames at a reduced rate and say where clips start.

    Frames are handed out one at a time so that the caller can stream them into an encoder:
    memory stays flat however long a clip is.
    """

    def __init__(self, config: ImageConfig) -> None:
        self.config = config
        self._period_ns = int(1e9 / config.fps)
        self._segment_ns = int(config.segment_s * 1e9)
        self._clip_start: int | None = None
        self._shape: tuple[int, ...] = ()
        self._next_due: int | None = None
        self.frames_seen = 0

    def wants(self, t_ns: int) -> bool:
        """Return whether a frame at ``t_ns`` would be kept (check before decoding pixels)."""
        return self._next_due is None or t_ns >= self._next_due

    def add(self, msg: Any, msgtype: str, t_ns: int) -> SampledFrame | None:
        """Offer one image message; return the frame to record, or None when it is skipped."""
        self.frames_seen += 1
        if not self.wants(t_ns):
            return None
        frame = image_to_rgb(msg, msgtype, self.config.max_width)
        # H.264 in yuv420p needs even sizes.
        frame = frame[: frame.shape[0] // 2 * 2, : frame.shape[1] // 2 * 2]
        starts = (
            self._clip_start is None or frame.shape != self._shape or t_ns - self._clip_start >= self._segment_ns
        )
        if starts:
            self._clip_start = t_ns
            self._shape = frame.shape
        # Due times advance by whole periods, so the kept rate averages ``fps`` even when the
        # camera's rate is not a multiple of it; after a gap the schedule restarts.
        due = self._next_due
        self._next_due = due + self._period_ns if due is not None and t_ns - due < self._period_ns else (
            t_ns + self._period_ns
        )
        return SampledFrame(frame, t_ns, starts)

    def cut(self) -> None:
        """End the current clip (an episode ended): the next frame starts a new one."""
        self._clip_start = None
