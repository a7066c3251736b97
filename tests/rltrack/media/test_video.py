from __future__ import annotations

import hashlib
import importlib.util
import pathlib
import sys
from fractions import Fraction

import numpy as np
import pytest

from rltrack.errors import InvalidValueError, RltrackError
from rltrack.media import Video, VideoStream

pytest.importorskip("av")
real_find_spec = importlib.util.find_spec

RED, GREEN, BLUE, WHITE = (230, 20, 20), (20, 230, 20), (20, 20, 230), (250, 250, 250)
# H.264 at crf 23 is lossy; flat colours come back within a few levels.
TOLERANCE = 12


def mean_colour(frame: np.ndarray) -> np.ndarray:
    return frame.reshape(-1, frame.shape[-1]).mean(axis=0)


def test_rgb_frames_encode_to_faststart_h264_mp4(dest_dir, decode_video, solid_frames) -> None:
    frames = solid_frames([RED, GREEN, BLUE] * 4, 48, 64)

    name, meta = Video(frames, fps=30, caption="ep").write(dest_dir, "clip")

    assert name == "clip.mp4"
    assert sorted(p.name for p in dest_dir.iterdir()) == ["clip.mp4"]
    decoded = decode_video(dest_dir / name)
    assert "mp4" in decoded.format_names
    assert (decoded.codec, decoded.pix_fmt) == ("h264", "yuv420p")
    assert decoded.frames.shape == (12, 48, 64, 3)
    assert decoded.average_rate == 30
    boxes = decoded.top_level_boxes
    assert boxes.index("moov") < boxes.index("mdat")
    for got, want in zip(decoded.frames, frames, strict=True):
        assert np.abs(mean_colour(got) - want[0, 0]).max() < TOLERANCE
    assert meta == {
        "width": 64,
        "height": 48,
        "fps": 30.0,
        "frames": 12,
        "duration_s": pytest.approx(0.4),
        "codec": "h264",
        "pix_fmt": "yuv420p",
        "format": "mp4",
        "mime": meta["mime"],
    }
    assert str(meta["mime"]).startswith('video/mp4; codecs="avc1.')


@pytest.mark.parametrize(("height", "width"), [(17, 31), (16, 31), (17, 32), (1, 1)])
def test_odd_sizes_are_padded_to_even(dest_dir, decode_video, solid_frames, height, width) -> None:
    frames = solid_frames([WHITE, BLUE], height, width)

    _, meta = Video(frames).write(dest_dir, "odd")

    decoded = decode_video(dest_dir / "odd.mp4")
    padded = (height + height % 2, width + width % 2)
    assert decoded.frames.shape == (2, *padded, 3)
    assert (meta["height"], meta["width"]) == padded
    # Edge padding repeats the border colour instead of adding a black line.
    assert np.abs(mean_colour(decoded.frames[1]) - BLUE).max() < TOLERANCE


@pytest.mark.parametrize("channel_axis", [False, True])
def test_greyscale_frames(dest_dir, decode_video, channel_axis) -> None:
    levels = [30, 120, 220]
    frames = np.stack([np.full((32, 48), v, dtype=np.uint8) for v in levels])
    if channel_axis:
        frames = frames[..., None]

    _, meta = Video(frames, fps=10).write(dest_dir, "grey")

    decoded = decode_video(dest_dir / "grey.mp4")
    assert decoded.frames.shape == (3, 32, 48, 3)
    assert meta["frames"] == 3
    for got, level in zip(decoded.frames, levels, strict=True):
        assert np.abs(mean_colour(got) - level).max() < TOLERANCE


def test_list_of_frames(dest_dir, decode_video, solid_frames) -> None:
    frames = list(solid_frames([RED, GREEN, BLUE, WHITE, RED], 24, 40))

    Video(frames).write(dest_dir, "list")

    assert decode_video(dest_dir / "list.mp4").frames.shape == (5, 24, 40, 3)


def test_rgba_alpha_is_dropped(dest_dir, decode_video) -> None:
    frames = np.zeros((2, 16, 16, 4), dtype=np.uint8)
    frames[..., :3] = GREEN
    frames[..., 3] = 7

    Video(frames).write(dest_dir, "rgba")

    decoded = decode_video(dest_dir / "rgba.mp4")
    assert np.abs(mean_colour(decoded.frames[0]) - GREEN).max() < TOLERANCE


def test_strided_views_are_encoded(dest_dir, decode_video, solid_frames) -> None:
    frames = solid_frames([RED, GREEN, BLUE, WHITE], 32, 48)
    view = frames[::2, ::2, ::-1]  # every other frame and row, mirrored: not contiguous

    Video(view).write(dest_dir, "view")

    decoded = decode_video(dest_dir / "view.mp4")
    assert decoded.frames.shape == (2, 16, 48, 3)
    assert np.abs(mean_colour(decoded.frames[1]) - BLUE).max() < TOLERANCE


def test_list_frames_are_checked_without_stacking(dest_dir, decode_video, solid_frames) -> None:
    frames = [f[..., :1] for f in solid_frames([RED, GREEN], 16, 16)]  # (H, W, 1) greyscale

    Video(frames).write(dest_dir, "list")

    assert decode_video(dest_dir / "list.mp4").frames.shape == (2, 16, 16, 3)


def test_fractional_fps_is_kept_exactly(dest_dir, decode_video, solid_frames) -> None:
    _, meta = Video(solid_frames([RED] * 3, 16, 16), fps=29.97).write(dest_dir, "ntsc")

    assert decode_video(dest_dir / "ntsc.mp4").average_rate == Fraction(2997, 100)
    assert meta["fps"] == pytest.approx(29.97)


def test_h264_mp4_file_is_copied_as_is(tmp_path, dest_dir, solid_frames) -> None:
    source = tmp_path / "rollout.mp4"
    Video(solid_frames([RED, GREEN, BLUE], 32, 32), fps=15).write(tmp_path, "rollout")

    name, meta = Video(source, caption="from disk").write(dest_dir, "copied")

    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    assert hashlib.sha256((dest_dir / name).read_bytes()).hexdigest() == digest
    assert (meta["width"], meta["height"], meta["frames"], meta["fps"]) == (32, 32, 3, 15.0)
    assert meta["codec"] == "h264"


@pytest.mark.parametrize(("suffix", "codec"), [(".mp4", "mpeg4"), (".webm", "libvpx-vp9"), (".mkv", "libx264")])
def test_other_files_are_transcoded_to_h264(
    tmp_path, dest_dir, decode_video, write_test_video, solid_frames, suffix, codec
) -> None:
    source = tmp_path / f"opencv{suffix}"
    frames = solid_frames([RED, GREEN, BLUE, WHITE], 32, 48)
    write_test_video(source, codec, frames, fps=25)

    name, meta = Video(source).write(dest_dir, "transcoded")

    assert name == "transcoded.mp4"
    decoded = decode_video(dest_dir / name)
    assert (decoded.codec, decoded.pix_fmt) == ("h264", "yuv420p")
    assert decoded.frames.shape == (4, 32, 48, 3)
    assert decoded.average_rate == 25
    assert meta["frames"] == 4
    assert decoded.top_level_boxes.index("moov") < decoded.top_level_boxes.index("mdat")
    assert np.abs(mean_colour(decoded.frames[3]) - WHITE).max() < TOLERANCE


def test_reading_a_file_that_is_not_a_video_raises_on_write(tmp_path, dest_dir) -> None:
    bogus = tmp_path / "notes.mp4"
    bogus.write_text("not a video")
    video = Video(bogus)  # only existence is checked in the caller's thread

    with pytest.raises(InvalidValueError, match=r"notes.mp4' cannot be read as a video"):
        video.write(dest_dir, "bogus")
    assert list(dest_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("value", "kwargs", "match"),
    [
        (np.zeros((2, 8, 8, 3), dtype=np.float32), {}, r"dtype 'float32'; pass uint8"),
        (np.zeros((2, 3, 8, 8), dtype=np.uint8), {}, r"shape \(2, 3, 8, 8\).*channels last"),
        (np.zeros((8, 8), dtype=np.uint8), {}, r"Video array has shape \(8, 8\); pass \(T, H, W, 3\)"),
        (np.zeros((0, 8, 8, 3), dtype=np.uint8), {}, r"no pixels"),
        ([], {}, r"empty list of frames"),
        (
            [np.zeros((8, 8, 3), np.uint8), np.zeros((8, 6, 3), np.uint8)],
            {},
            r"Video frame 1 is uint8\(8, 6, 3\) but frame 0 is uint8\(8, 8, 3\); pass uint8 frames of one size",
        ),
        ([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.int64)], {}, r"frame 1 is int64\(8, 8, 3\)"),
        ([np.zeros((8, 8, 3), np.float32)], {}, r"Video frame 0 has dtype 'float32'"),
        ([np.zeros((8, 8, 2), np.uint8)], {}, r"Video frame 0 has shape \(8, 8, 2\)"),
        (np.zeros((2, 8, 8, 3), dtype=np.uint8), {"fps": 0}, r"fps=0 is not a number"),
        (np.zeros((2, 8, 8, 3), dtype=np.uint8), {"fps": "30"}, r"fps='30' is not a number"),
        (np.zeros((2, 8, 8, 3), dtype=np.uint8), {"caption": 3}, r"caption=3 is not a string"),
    ],
)
def test_bad_frames_raise(value, kwargs, match) -> None:
    with pytest.raises(InvalidValueError, match=match):
        Video(value, **kwargs)


@pytest.mark.parametrize("name", ["missing.mp4", "."])
def test_missing_file_raises(tmp_path: pathlib.Path, name: str) -> None:
    with pytest.raises(InvalidValueError, match=r"Video path .* is not an existing file"):
        Video(tmp_path / name)


def test_h264_mp4_with_moov_at_the_end_is_remuxed_with_faststart(
    tmp_path, dest_dir, decode_video, write_test_video, solid_frames
) -> None:
    source = tmp_path / "record_video.mp4"  # as moviepy / Gymnasium RecordVideo write it
    write_test_video(source, "libx264", solid_frames([RED, GREEN, BLUE, WHITE, RED], 32, 32), fps=50)
    before = decode_video(source)
    assert before.top_level_boxes.index("mdat") < before.top_level_boxes.index("moov")

    name, meta = Video(source).write(dest_dir, "remuxed")

    after = decode_video(dest_dir / name)
    assert after.top_level_boxes.index("moov") < after.top_level_boxes.index("mdat")
    # Packets are copied, not re-encoded: the decoded pixels are identical.
    np.testing.assert_array_equal(after.frames, before.frames)
    assert after.average_rate == 50
    assert (meta["frames"], meta["fps"]) == (5, 50.0)


@pytest.mark.parametrize("make", [lambda: Video(np.zeros((1, 2, 2), np.uint8)), lambda: VideoStream()])
def test_missing_pyav_is_reported_when_the_video_is_made(monkeypatch, make) -> None:
    monkeypatch.setitem(sys.modules, "av", None)  # what `import av` sees when PyAV is not installed
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "av" else real_find_spec(name, *a)
    )

    with pytest.raises(RltrackError, match=r"needs PyAV, which is not installed; run `pip install 'av>=14'"):
        make()
