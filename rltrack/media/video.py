"""Browser-playable rollout videos: the H.264 encoder and :class:`Video` (a whole clip; streams are in ``stream``).

Every video is stored as H.264 (libx264, yuv420p) in MP4 with the moov atom first
(``movflags=+faststart``), encoded with PyAV: the only format every mainstream browser plays
(see shared/reference/video-and-system-metrics.md). PyAV and numpy are imported only inside
functions, so ``import rltrack`` stays cheap; PyAV comes with the ``video`` extra.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import struct
from types import ModuleType
from typing import TYPE_CHECKING, Any

from rltrack._extras import install_hint
from rltrack.errors import InvalidValueError, RltrackError
from rltrack.media.image import check_caption, check_file, to_numpy

if TYPE_CHECKING:
    from collections.abc import Sequence
    from fractions import Fraction

    import numpy as np
    from numpy.typing import NDArray

    # A (T, H, W[, C]) array or a list of (H, W[, C]) arrays: both iterate frame by frame.
    Frames = NDArray[np.uint8] | Sequence[NDArray[np.uint8]]

# fractions, queue, shutil and tempfile are imported where used: `import rltrack` must stay cheap.

__all__ = ["Video"]

# x264 settings measured in the reference: crf 23 / veryfast costs ~1.3 ms per 600x400 frame on
# 2 cores; thread_type AUTO (frame threads) makes files ~25 % smaller than PyAV's default SLICE.
_CRF = "23"
_PRESET = "veryfast"
# PyAV's from_ndarray formats by channel count.
_PIX_FMT_BY_CHANNELS = {1: "gray", 3: "rgb24", 4: "rgba"}


def import_av() -> ModuleType:
    """Import PyAV, or raise an error that names the extra to install."""
    try:
        import av
    except ImportError as err:
        raise RltrackError(
            f"rltrack video needs PyAV, which is not installed; run `{install_hint('video')}`"
        ) from err
    return av


def require_av() -> None:
    """Raise the error of :func:`import_av` now, in the caller's thread, if PyAV is not installed."""
    import importlib.util

    # find_spec locates PyAV without importing it (importing costs ~100 ms).
    if importlib.util.find_spec("av") is None:
        import_av()


def check_fps(fps: object) -> Fraction:
    """Return ``fps`` as an exact Fraction (29.97 -> 2997/100) after checking it is positive."""
    from fractions import Fraction

    if isinstance(fps, bool) or not isinstance(fps, (int, float, Fraction)) or not 0 < fps <= 1000:
        raise InvalidValueError(f"fps={fps!r} is not a number in (0, 1000]; pass frames per second, e.g. 30")
    return Fraction(fps).limit_denominator(1001)


def check_frame_array(arr: Any, what: str, ndim: int) -> Any:
    """Check the dtype and shape of frames with ``ndim`` axes plus optional channels (1 is dropped)."""
    import numpy as np

    if arr.dtype != np.uint8:
        raise InvalidValueError(
            f"{what} has dtype {str(arr.dtype)!r}; pass uint8 pixels, e.g. "
            "(frames * 255).round().astype(np.uint8) for floats in [0, 1]"
        )
    if arr.ndim == ndim + 1 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if not (arr.ndim == ndim or (arr.ndim == ndim + 1 and arr.shape[-1] in (3, 4))):
        axes = "(T, H, W)" if ndim == 3 else "(H, W)"
        raise InvalidValueError(
            f"{what} has shape {arr.shape!r}; pass {axes} greyscale or {axes[:-1]}, 3) RGB, channels last"
        )
    if 0 in arr.shape:
        raise InvalidValueError(f"{what} has shape {arr.shape!r} with no pixels; pass at least one frame")
    return arr


class H264Writer:
    """Encodes uint8 frames, one at a time, into an H.264 MP4 file; odd sizes are edge-padded to even."""

    def __init__(self, path: pathlib.Path, fps: Fraction, *, threads: int = 0, preset: str = _PRESET) -> None:
        self.path = path
        self.fps = fps
        self.threads = threads  # encoder threads; 0 lets FFmpeg pick (about one per core)
        self.preset = preset  # x264 speed/size trade-off
        self.frames = 0
        self.width = 0
        self.height = 0
        self.codecs: str | None = None
        self._av: ModuleType | None = None
        self._container: Any = None
        self._stream: Any = None
        self._shape: tuple[int, ...] = ()
        self._pad: Any = None

    def _open(self, shape: tuple[int, ...]) -> None:
        import numpy as np

        av = self._av = import_av()
        h, w = shape[:2]
        # libx264 with yuv420p refuses odd sizes (avcodec_open2 fails), so pad by one edge row/column.
        self.height, self.width = h + (h & 1), w + (w & 1)
        if (self.height, self.width) != (h, w):
            self._pad = np.empty((self.height, self.width, *shape[2:]), dtype=np.uint8)
        self._shape = shape
        self._container = av.open(str(self.path), mode="w", format="mp4", options={"movflags": "+faststart"})
        options = {"crf": _CRF, "preset": self.preset}
        stream = self._container.add_stream("libx264", rate=self.fps, options=options)
        stream.width, stream.height, stream.pix_fmt = self.width, self.height, "yuv420p"
        stream.thread_type = "AUTO"
        if self.threads:
            stream.codec_context.thread_count = self.threads
        self._stream = stream

    def write(self, frame: NDArray[np.uint8]) -> None:
        """Encode one frame of the shape of the first one: (H, W) or (H, W, C) with C in 3, 4."""
        import numpy as np

        if self._container is None:
            self._open(frame.shape)
        elif frame.shape != self._shape:
            raise InvalidValueError(
                f"frame {self.frames} has shape {frame.shape!r} but the video's first frame has "
                f"{self._shape!r}; pass frames of one size"
            )
        if self._pad is not None:
            h, w = self._shape[:2]
            self._pad[:h, :w] = frame
            self._pad[:h, w:] = frame[:, -1:]  # no-op when the width is even
            self._pad[h:] = self._pad[h - 1 : h]
            frame = self._pad
        else:
            frame = np.ascontiguousarray(frame)  # a no-op unless the caller passed a strided view
        channels = 1 if frame.ndim == 2 else frame.shape[2]
        assert self._av is not None
        vf = self._av.VideoFrame.from_ndarray(frame, format=_PIX_FMT_BY_CHANNELS[channels])
        vf.pts = self.frames
        self._container.mux(self._stream.encode(vf))
        self.frames += 1

    def close(self) -> None:
        """Flush the encoder and finish the file (moov goes to the front here)."""
        if self._container is None:
            raise RltrackError(f"video {str(self.path)!r} has no frames; add at least one frame and retry")
        self._container.mux(self._stream.encode())
        self.codecs = _avc1_codecs(self._stream.codec_context.extradata)
        self._container.close()
        self._container = None

    def abort(self) -> None:
        """Close without caring about the result and remove the partial file."""
        container, self._container = self._container, None
        if container is not None:
            # The partial file is deleted next, so an error while closing it is moot.
            with contextlib.suppress(Exception):
                container.close()
        self.path.unlink(missing_ok=True)

    def meta(self) -> dict[str, object]:
        """Describe the finished file for the store (and the dashboard's ``<source type>``)."""
        meta: dict[str, object] = {
            "width": self.width,
            "height": self.height,
            "fps": float(self.fps),
            "frames": self.frames,
            "duration_s": float(self.frames / self.fps),
            "codec": "h264",
            "pix_fmt": "yuv420p",
            "format": "mp4",
        }
        if self.codecs:
            meta["mime"] = f'video/mp4; codecs="{self.codecs}"'
        return meta


def _avc1_codecs(extradata: bytes | None) -> str | None:
    """Return the RFC 6381 codecs string (e.g. ``avc1.64001E``) from H.264 extradata, if present."""
    if not extradata:
        return None
    if extradata[0] == 1 and len(extradata) >= 4:  # avcC record: profile, constraints, level
        return "avc1." + extradata[1:4].hex().upper()
    start = extradata.find(b"\x00\x00\x01")
    while start != -1 and start + 6 < len(extradata):
        if extradata[start + 3] & 0x1F == 7:  # sequence parameter set NAL unit
            return "avc1." + extradata[start + 4 : start + 7].hex().upper()
        start = extradata.find(b"\x00\x00\x01", start + 3)
    return None


def _finish_into(writer: H264Writer, dest_dir: pathlib.Path, stem: str) -> tuple[str, dict[str, object]]:
    name = stem + ".mp4"
    os.replace(writer.path, dest_dir / name)
    return name, writer.meta()


class Video:
    """A video logged as a browser-playable H.264 MP4 file.

    Accepts uint8 frames as a numpy array of shape (T, H, W, 3) (RGB), (T, H, W) (greyscale),
    (T, H, W, 1) or (T, H, W, 4) (alpha dropped), a list of (H, W[, C]) frames, or the path of
    an existing video file. Frames are checked now and encoded later on rltrack's media thread;
    they are **not copied** (a 300-frame 600x400 clip is 216 MB, ~0.5 s to copy), so don't
    write into them until ``run.flush()`` returns, or pass ``frames.copy()`` if you reuse a
    buffer. Odd widths/heights are padded by one edge pixel. An ``.mp4`` holding yuv420p H.264
    is copied (remuxed to put moov first if needed, never re-encoded); any other file is
    transcoded at its average frame rate (or ``fps`` if it has none). For long episodes, use
    :class:`VideoStream` instead, which never holds the whole clip in memory.

    Example:
        >>> import numpy as np
        >>> Video(np.zeros((8, 64, 64, 3), dtype=np.uint8), fps=30, caption="episode 3").kind
        'video'
    """

    kind: str = "video"

    def __init__(self, frames_or_path: object, fps: float = 30, caption: str | None = None) -> None:
        """Validate the frames or file now; encoding happens in :meth:`write`.

        Args:
            frames_or_path: uint8 frames (see the class docstring) or a video file path.
            fps: Frames per second (for a file, used only if the file has no frame rate).
            caption: Optional text shown with the video.

        Raises:
            InvalidValueError: Wrong dtype or shape, unequal frame sizes, no frames, a bad
                ``fps``, or a missing file.
            RltrackError: PyAV (the ``video`` extra) is not installed.
        """
        require_av()
        self.caption: str | None = check_caption(caption)
        self.fps: Fraction = check_fps(fps)
        self._path: pathlib.Path | None = None
        self._frames: Frames | None = None
        if isinstance(frames_or_path, (str, os.PathLike)):
            self._path = check_file(frames_or_path, "Video")
        else:
            self._frames = _check_frames(frames_or_path)

    def write(self, dest_dir: pathlib.Path, stem: str) -> tuple[str, dict[str, object]]:
        """Encode (or copy) the video into ``dest_dir / (stem + ".mp4")`` and return (name, meta).

        Args:
            dest_dir: Existing folder to write into.
            stem: File name without extension.

        Returns:
            The file name and ``{"width", "height", "fps", "frames", "duration_s", "codec",
            "pix_fmt", "format"}`` plus ``"mime"`` (with the RFC 6381 codecs string) when known.
        """
        if self._path is not None:
            return _write_file(self._path, self.fps, dest_dir, stem)
        assert self._frames is not None  # one of the two is always set by __init__
        writer = H264Writer(dest_dir / (stem + ".mp4.part"), self.fps)
        try:
            for frame in self._frames:
                writer.write(frame)
            writer.close()
        except BaseException:
            writer.abort()
            raise
        return _finish_into(writer, dest_dir, stem)

    def __repr__(self) -> str:
        frames = self._frames
        source = str(self._path) if frames is None else f"{len(frames)} frames of {frames[0].shape!r}"
        return f"Video({source}, fps={float(self.fps):g}, caption={self.caption!r})"


def _check_frames(value: object) -> Frames:
    """Validate frames without copying them: an array (T, H, W[, C]) or a list of (H, W[, C]) arrays."""
    if isinstance(value, (list, tuple)):
        if not value:
            raise InvalidValueError("Video got an empty list of frames; pass at least one frame")
        frames = [to_numpy(f) for f in value]
        first = frames[0]
        for i, f in enumerate(frames):
            if f.shape != first.shape or f.dtype != first.dtype:
                raise InvalidValueError(
                    f"Video frame {i} is {f.dtype}{f.shape!r} but frame 0 is {first.dtype}{first.shape!r}; "
                    "pass uint8 frames of one size"
                )
        check_frame_array(first, "Video frame 0", 2)
        if first.ndim == 3 and first.shape[2] == 1:
            frames = [f[:, :, 0] for f in frames]
        return frames
    arr = to_numpy(value)
    if arr.ndim < 3:
        raise InvalidValueError(
            f"Video array has shape {arr.shape!r}; pass (T, H, W, 3) RGB or (T, H, W) greyscale frames"
        )
    out: NDArray[np.uint8] = check_frame_array(arr, "Video array", 3)
    return out


def _write_file(
    src: pathlib.Path, fps: Fraction, dest_dir: pathlib.Path, stem: str
) -> tuple[str, dict[str, object]]:
    """Copy an H.264/yuv420p MP4 as is; transcode anything else to one."""
    import shutil
    from fractions import Fraction

    av = import_av()
    try:
        container = av.open(str(src))
    except av.FFmpegError as err:
        raise InvalidValueError(
            f"Video file {str(src)!r} cannot be read as a video ({err}); pass a video file"
        ) from err
    with container:
        if not container.streams.video:
            raise InvalidValueError(f"Video file {str(src)!r} has no video stream; pass a video file")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        is_mp4 = "mp4" in container.format.name.split(",") and src.suffix.lower() in (".mp4", ".m4v")
        if is_mp4 and ctx.name == "h264" and ctx.pix_fmt == "yuv420p":
            rate = stream.average_rate or fps
            frames = int(stream.frames) or sum(1 for packet in container.demux(stream) if packet.size)
            name = stem + ".mp4"
            tmp = dest_dir / (name + ".part")
            if _moov_first(src):
                shutil.copyfile(src, tmp)
            else:
                _remux_faststart(av, src, tmp)
            os.replace(tmp, dest_dir / name)
            meta: dict[str, object] = {
                "width": int(ctx.width),
                "height": int(ctx.height),
                "fps": float(rate),
                "frames": frames,
                "duration_s": float(frames / Fraction(rate)),
                "codec": "h264",
                "pix_fmt": "yuv420p",
                "format": "mp4",
            }
            codecs = _avc1_codecs(ctx.extradata)
            if codecs:
                meta["mime"] = f'video/mp4; codecs="{codecs}"'
            return name, meta
        rate = stream.average_rate
        writer = H264Writer(dest_dir / (stem + ".mp4.part"), Fraction(rate) if rate else fps)
        try:
            for frame in container.decode(stream):
                writer.write(frame.to_ndarray(format="rgb24"))
            writer.close()
        except BaseException:
            writer.abort()
            raise
    return _finish_into(writer, dest_dir, stem)


def _moov_first(path: pathlib.Path) -> bool:
    """Whether an MP4's ``moov`` box comes before ``mdat`` (reads only the top-level box headers)."""
    with open(path, "rb") as f:
        while True:
            head = f.read(8)
            if len(head) < 8:
                return False
            size, kind = struct.unpack(">I4s", head)
            if kind in (b"moov", b"mdat"):
                return bool(kind == b"moov")
            if size == 1:  # 64-bit size follows the type
                (size,) = struct.unpack(">Q", f.read(8))
                f.seek(size - 16, os.SEEK_CUR)
            elif size >= 8:
                f.seek(size - 8, os.SEEK_CUR)
            else:  # 0 = box runs to the end of the file
                return False


def _remux_faststart(av: ModuleType, src: pathlib.Path, dest: pathlib.Path) -> None:
    """Copy the H.264 video packets (no re-encode) into a new MP4 with moov first; other streams are dropped."""
    # moviepy / Gymnasium RecordVideo and PyAV without +faststart leave moov at the end, which
    # makes browsers fetch the whole file before playback starts.
    with av.open(str(src)) as source, av.open(
        str(dest), mode="w", format="mp4", options={"movflags": "+faststart"}
    ) as out:
        stream = source.streams.video[0]
        out_stream = out.add_stream_from_template(stream)
        for packet in source.demux(stream):
            if packet.dts is None:  # the demuxer's end-of-stream marker
                continue
            packet.stream = out_stream
            out.mux(packet)
