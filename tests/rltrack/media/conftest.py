"""Helpers for the media tests: read back what rltrack wrote, with PyAV and by hand."""

from __future__ import annotations

import pathlib
import struct
from dataclasses import dataclass

import numpy as np
import pytest


@dataclass(frozen=True)
class DecodedVideo:
    format_names: tuple[str, ...]
    codec: str
    pix_fmt: str
    width: int
    height: int
    average_rate: object
    frames: np.ndarray  # (T, H, W, 3) rgb24
    top_level_boxes: tuple[str, ...]


def top_level_boxes(path: pathlib.Path) -> tuple[str, ...]:
    """The MP4 top-level box types in file order (ftyp, moov, free, mdat, ...)."""
    data = path.read_bytes()
    boxes, i = [], 0
    while i + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[i : i + 8])
        if size == 1:
            (size,) = struct.unpack(">Q", data[i + 8 : i + 16])
        boxes.append(kind.decode("latin-1"))
        if size == 0:
            break
        i += size
    return tuple(boxes)


def decode_video(path: pathlib.Path) -> DecodedVideo:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
        return DecodedVideo(
            format_names=tuple(container.format.name.split(",")),
            codec=ctx.name,
            pix_fmt=ctx.pix_fmt,
            width=ctx.width,
            height=ctx.height,
            average_rate=stream.average_rate,
            frames=frames,
            top_level_boxes=top_level_boxes(path),
        )


def write_test_video(path: pathlib.Path, codec: str, frames: np.ndarray, fps: int = 25) -> None:
    """Write a video with PyAV directly (not through rltrack), e.g. MPEG-4 Part 2 as OpenCV makes."""
    import av

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        for i, frame in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts = i
            container.mux(stream.encode(vf))
        container.mux(stream.encode())


def solid_frames(colours: list[tuple[int, int, int]], height: int, width: int) -> np.ndarray:
    """One flat-coloured RGB frame per colour: easy to recognise after lossy coding."""
    return np.stack([np.full((height, width, 3), c, dtype=np.uint8) for c in colours])


@pytest.fixture
def dest_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    out = tmp_path / "media"
    out.mkdir()
    return out


@pytest.fixture(name="decode_video")
def decode_video_fixture() -> object:
    pytest.importorskip("av")
    return decode_video


@pytest.fixture(name="write_test_video")
def write_test_video_fixture() -> object:
    pytest.importorskip("av")
    return write_test_video


@pytest.fixture(name="solid_frames")
def solid_frames_fixture() -> object:
    return solid_frames
