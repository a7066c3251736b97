from __future__ import annotations

import gc

import numpy as np
import pytest

from rltrack.errors import InvalidValueError, RltrackError
from rltrack.media import VideoStream

pytest.importorskip("av")

RED, BLUE = (230, 20, 20), (20, 20, 230)
TOLERANCE = 12


def frame(colour: tuple[int, int, int], height: int = 24, width: int = 32) -> np.ndarray:
    return np.full((height, width, 3), colour, dtype=np.uint8)


def test_stream_round_trip_with_backpressure(dest_dir, decode_video) -> None:
    n = 37
    stream = VideoStream(fps=20, caption="rollout", max_queue=2)  # a tiny queue makes add_frame wait
    for i in range(n):
        stream.add_frame(np.full((24, 33, 3), i * 6, dtype=np.uint8))
    stream.close()

    name, meta = stream.write(dest_dir, "stream")

    assert name == "stream.mp4"
    assert sorted(p.name for p in dest_dir.iterdir()) == ["stream.mp4"]
    decoded = decode_video(dest_dir / name)
    assert (decoded.codec, decoded.pix_fmt) == ("h264", "yuv420p")
    assert decoded.frames.shape == (n, 24, 34, 3)
    assert decoded.average_rate == 20
    assert decoded.top_level_boxes.index("moov") < decoded.top_level_boxes.index("mdat")
    assert (meta["frames"], meta["width"], meta["height"], meta["fps"]) == (n, 34, 24, 20.0)
    assert stream.frames == n and stream.kind == "video" and stream.caption == "rollout"


def test_write_closes_an_open_stream_and_removes_its_temp_file(dest_dir, decode_video) -> None:
    stream = VideoStream()
    for _ in range(3):
        stream.add_frame(frame(RED))
    temp_file = stream._state.writer.path  # type: ignore[union-attr]
    assert temp_file.exists()

    stream.write(dest_dir, "open")

    assert stream.closed
    assert not temp_file.exists()
    assert decode_video(dest_dir / "open.mp4").frames.shape[0] == 3


def test_context_manager_closes(dest_dir, decode_video) -> None:
    with VideoStream(fps=10) as stream:
        stream.add_frame(frame(RED)[:, :, 0])  # greyscale frames stream too
        stream.add_frame(frame(BLUE)[:, :, 0])
    assert stream.closed

    stream.write(dest_dir, "grey")

    assert decode_video(dest_dir / "grey.mp4").frames.shape == (2, 24, 32, 3)


def test_frames_are_copied_by_default(dest_dir, decode_video) -> None:
    buffer = frame(RED)
    with VideoStream() as stream:
        stream.add_frame(buffer)
        buffer[:] = BLUE  # reused render buffer: must not change the frame already added
        stream.add_frame(buffer)

    stream.write(dest_dir, "copy")

    decoded = decode_video(dest_dir / "copy.mp4").frames
    assert np.abs(decoded[0].reshape(-1, 3).mean(axis=0) - RED).max() < TOLERANCE
    assert np.abs(decoded[1].reshape(-1, 3).mean(axis=0) - BLUE).max() < TOLERANCE


def test_add_frame_after_close_raises() -> None:
    stream = VideoStream()
    stream.add_frame(frame(RED))
    stream.close()
    stream.close()  # closing twice is a no-op

    with pytest.raises(RltrackError, match=r"VideoStream\(.*frames=1\) is closed; start a new VideoStream"):
        stream.add_frame(frame(RED))


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (frame(RED, width=30), r"shape \(24, 30, 3\) but the first frame had \(24, 32, 3\)"),
        (frame(RED).astype(np.float64), r"dtype 'float64'; pass uint8"),
        (np.zeros((3, 24, 32), dtype=np.uint8), r"shape \(3, 24, 32\); pass \(H, W\)"),
    ],
)
def test_bad_frames_raise(bad, match) -> None:
    with VideoStream() as stream:
        stream.add_frame(frame(RED))
        with pytest.raises(InvalidValueError, match=match):
            stream.add_frame(bad)
        assert stream.frames == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"fps": -1}, r"fps=-1 is not a number"), ({"max_queue": 0}, r"max_queue=0 is not a positive int")],
)
def test_bad_settings_raise(kwargs, match) -> None:
    with pytest.raises(InvalidValueError, match=match):
        VideoStream(**kwargs)


def test_writing_an_empty_stream_raises(dest_dir) -> None:
    with pytest.raises(RltrackError, match=r"has no frames; add frames before logging it"):
        VideoStream().write(dest_dir, "empty")
    assert list(dest_dir.iterdir()) == []


def test_writing_twice_raises(dest_dir) -> None:
    with VideoStream() as stream:
        stream.add_frame(frame(RED))
    stream.write(dest_dir, "once")

    with pytest.raises(RltrackError, match=r"was already logged"):
        stream.write(dest_dir, "twice")


def test_encoder_error_reaches_write_not_add_frame(dest_dir) -> None:
    # libx264 refuses a 20000-pixel-wide frame when it opens: a real encoder failure.
    stream = VideoStream(max_queue=1)
    too_wide = np.zeros((2, 20000, 3), dtype=np.uint8)
    for _ in range(5):
        stream.add_frame(too_wide, copy=False)  # neither raises nor blocks once the encoder has failed
    temp_file = stream._state.writer.path  # type: ignore[union-attr]

    with pytest.raises(RltrackError, match=r"failed to encode") as info:
        stream.write(dest_dir, "broken")

    assert info.value.__cause__ is not None
    assert not temp_file.exists()
    assert list(dest_dir.iterdir()) == []


@pytest.mark.parametrize("close_first", [False, True])
def test_a_stream_dropped_without_logging_deletes_its_temp_file(close_first) -> None:
    stream = VideoStream()
    stream.add_frame(frame(RED))
    if close_first:
        stream.close()
    thread, temp_file = stream._thread, stream._state.writer.path  # type: ignore[union-attr]
    if close_first:
        # Without close() the encoder thread may not have created the file yet (a race the
        # assertion below does not depend on).
        assert temp_file.exists()

    del stream
    gc.collect()
    thread.join(10)  # type: ignore[union-attr]

    assert not thread.is_alive()  # type: ignore[union-attr]
    assert not temp_file.exists()
