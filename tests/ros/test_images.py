from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from bagdata import compressed, image, image_pixels
from rltrack_ros.errors import DecodeError
from rltrack_ros.images import FrameSampler, image_to_rgb
from rltrack_ros.topics import ImageConfig
from rosbags.typesys import Stores, get_typestore

TS = get_typestore(Stores.ROS2_JAZZY)
IMAGE = "sensor_msgs/msg/Image"


def raw_image(pixels: np.ndarray, encoding: str, *, step: int | None = None, bigendian: int = 0) -> Any:
    h, w = pixels.shape[:2]
    rows = pixels.reshape(h, -1).view(np.uint8)
    row_bytes = rows.shape[1]
    step = step or row_bytes
    data = np.zeros((h, step), dtype=np.uint8)
    data[:, :row_bytes] = rows
    return TS.types[IMAGE](header=image(TS, 0, 1).header, height=h, width=w, encoding=encoding,
                           is_bigendian=bigendian, step=step, data=data.reshape(-1))


def test_rgb8_passes_through_and_bgr8_is_swapped() -> None:
    px = image_pixels(3)
    np.testing.assert_array_equal(image_to_rgb(raw_image(px, "rgb8"), IMAGE), px)
    np.testing.assert_array_equal(image_to_rgb(raw_image(px[:, :, ::-1].copy(), "bgr8"), IMAGE), px)


def test_row_padding_is_dropped_and_width_is_strided() -> None:
    px = image_pixels(1)
    padded = raw_image(px, "rgb8", step=px.shape[1] * 3 + 8)
    np.testing.assert_array_equal(image_to_rgb(padded, IMAGE), px)
    np.testing.assert_array_equal(image_to_rgb(padded, IMAGE, max_width=32), px[::2, ::2])


def test_mono16_big_endian_is_scaled_to_grey() -> None:
    px = np.array([[0, 1000], [2000, 4000]], dtype=">u2")
    out = image_to_rgb(raw_image(px, "mono16", bigendian=1), IMAGE)
    assert out.shape == (2, 2, 3)
    assert out[:, :, 0].tolist() == [[0, 63], [127, 255]]


def test_compressed_png_decodes_to_the_same_pixels() -> None:
    pytest.importorskip("cv2", reason="CompressedImage needs opencv-python-headless (rltrack[video])")
    out = image_to_rgb(compressed(TS, 4, 1), "sensor_msgs/msg/CompressedImage")
    np.testing.assert_array_equal(out, image_pixels(4))


def test_unsupported_encoding_and_short_data_raise() -> None:
    with pytest.raises(DecodeError, match="encoding 'yuv422' is not supported"):
        image_to_rgb(raw_image(image_pixels(0), "yuv422"), IMAGE)
    bad = raw_image(image_pixels(0), "rgb8")
    bad.data = bad.data[:100]
    with pytest.raises(DecodeError, match="image of 100 bytes is too small for 64x48 'rgb8'"):
        image_to_rgb(bad, IMAGE)


def test_sampler_keeps_fps_and_starts_clips_per_segment() -> None:
    sampler = FrameSampler(ImageConfig(fps=5, max_width=32, segment_s=1.0))
    kept = [f for i in range(30) if (f := sampler.add(image(TS, i, 0), IMAGE, i * 33_333_333)) is not None]
    assert [f.t_ns for f in kept] == [0, 233_333_331, 433_333_329, 633_333_327, 833_333_325]  # 30 Hz -> 5 fps
    assert [f.starts_clip for f in kept] == [True, False, False, False, False]
    assert kept[0].frame.shape == (24, 32, 3)
    sampler = FrameSampler(ImageConfig(fps=10, segment_s=0.5))
    starts = [f.starts_clip for i in range(20) if (f := sampler.add(image(TS, i, 0), IMAGE, i * 100_000_000))]
    assert starts == [True, False, False, False, False] * 4


def test_cut_makes_the_next_frame_start_a_clip() -> None:
    sampler = FrameSampler(ImageConfig(fps=10))
    first = sampler.add(image(TS, 0, 0), IMAGE, 0)
    sampler.cut()
    second = sampler.add(image(TS, 1, 0), IMAGE, 100_000_000)
    third = sampler.add(image(TS, 2, 0), IMAGE, 200_000_000)
    assert first and second and third
    assert (first.starts_clip, second.starts_clip, third.starts_clip) == (True, True, False)
