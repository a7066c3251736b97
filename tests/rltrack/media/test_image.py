from __future__ import annotations

import hashlib
import pathlib
import struct
import zlib

import numpy as np
import pytest

from rltrack.errors import InvalidValueError
from rltrack.media import Image


def read_png(path: pathlib.Path) -> np.ndarray:
    """Decode an 8-bit, non-interlaced PNG by hand (all five scanline filters)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    i, idat, header = 8, b"", None
    while i < len(data):
        (length,) = struct.unpack(">I", data[i : i + 4])
        tag, body = data[i + 4 : i + 8], data[i + 8 : i + 8 + length]
        (crc,) = struct.unpack(">I", data[i + 8 + length : i + 12 + length])
        assert crc == zlib.crc32(tag + body), tag
        if tag == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif tag == b"IDAT":
            idat += body
        i += 12 + length
    assert header is not None
    width, height, depth, colour_type, _, _, interlace = header
    assert (depth, interlace) == (8, 0)
    channels = {0: 1, 2: 3, 6: 4}[colour_type]
    stride = width * channels
    raw = zlib.decompress(idat)
    rows, prev = [], bytearray(stride)
    for y in range(height):
        line = raw[y * (stride + 1) : (y + 1) * (stride + 1)]
        kind, row = line[0], bytearray(line[1:])
        for x in range(stride):
            a = row[x - channels] if x >= channels else 0
            b, c = prev[x], prev[x - channels] if x >= channels else 0
            if kind == 1:
                row[x] = (row[x] + a) & 0xFF
            elif kind == 2:
                row[x] = (row[x] + b) & 0xFF
            elif kind == 3:
                row[x] = (row[x] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[x] = (row[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(row))
        prev = row
    pixels = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(height, width, channels)
    return pixels[:, :, 0] if channels == 1 else pixels


def random_pixels(shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(7).integers(0, 256, size=shape, dtype=np.uint8)


@pytest.mark.parametrize("shape", [(5, 7), (5, 7, 3), (6, 4, 4), (1, 1, 3), (9, 3, 1)])
def test_png_round_trip_is_byte_exact(dest_dir, shape) -> None:
    pixels = random_pixels(shape)

    name, meta = Image(pixels, caption="obs").write(dest_dir, "img")

    assert name == "img.png"
    assert sorted(p.name for p in dest_dir.iterdir()) == ["img.png"]
    expected = pixels[:, :, 0] if shape[-1] == 1 and len(shape) == 3 else pixels
    np.testing.assert_array_equal(read_png(dest_dir / name), expected)
    assert meta == {"width": shape[1], "height": shape[0], "format": "png"}


@pytest.mark.parametrize("shape", [(5, 7), (5, 7, 3), (6, 4, 4)])
def test_png_decodes_with_opencv(dest_dir, shape) -> None:
    cv2 = pytest.importorskip("cv2")
    pixels = random_pixels(shape)

    Image(pixels).write(dest_dir, "img")

    decoded = cv2.imread(str(dest_dir / "img.png"), cv2.IMREAD_UNCHANGED)
    if len(shape) == 3:  # OpenCV orders channels BGR(A)
        decoded = decoded[:, :, [2, 1, 0, 3][: shape[2]]]
    np.testing.assert_array_equal(decoded, pixels)


def test_pixels_are_copied_when_the_image_is_made(dest_dir) -> None:
    pixels = np.zeros((4, 4, 3), dtype=np.uint8)
    image = Image(pixels)
    pixels[:] = 255

    image.write(dest_dir, "img")

    assert read_png(dest_dir / "img.png").max() == 0


def test_non_contiguous_view_is_written_correctly(dest_dir) -> None:
    pixels = random_pixels((8, 10, 3))
    view = pixels[::2, ::-1]

    Image(view).write(dest_dir, "view")

    np.testing.assert_array_equal(read_png(dest_dir / "view.png"), view)


def test_png_file_is_copied_as_is(tmp_path, dest_dir) -> None:
    Image(random_pixels((6, 9, 3))).write(tmp_path, "source")
    source = tmp_path / "source.png"

    name, meta = Image(str(source)).write(dest_dir, "copied")

    assert name == "copied.png"
    assert hashlib.sha256((dest_dir / name).read_bytes()).digest() == hashlib.sha256(source.read_bytes()).digest()
    assert meta == {"width": 9, "height": 6, "format": "png"}


@pytest.mark.parametrize("suffix", [".jpg", ".JPEG"])
def test_jpeg_file_is_copied_as_is(tmp_path, dest_dir, suffix) -> None:
    cv2 = pytest.importorskip("cv2")
    ok, encoded = cv2.imencode(".jpg", random_pixels((21, 34, 3)))
    assert ok
    source = tmp_path / f"photo{suffix}"
    source.write_bytes(encoded.tobytes())

    name, meta = Image(source).write(dest_dir, "photo")

    assert name == "photo.jpg"
    assert (dest_dir / name).read_bytes() == source.read_bytes()
    assert meta == {"width": 34, "height": 21, "format": "jpg"}


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (np.zeros((4, 4, 3), dtype=np.float32), r"dtype 'float32'; pass uint8 pixels"),
        (np.zeros((4, 4), dtype=bool), r"dtype 'bool'; pass uint8 pixels"),
        (np.zeros((3, 5, 6), dtype=np.uint8), r"shape \(3, 5, 6\); pass .*arr.transpose\(1, 2, 0\)"),
        (np.zeros((4,), dtype=np.uint8), r"shape \(4,\); pass \(H, W\)"),
        (np.zeros((0, 4, 3), dtype=np.uint8), r"no pixels"),
        ([[0, 1], [2, 3]], r"Image got a list; pass a uint8 numpy array"),
    ],
)
def test_bad_arrays_raise(value, match) -> None:
    with pytest.raises(InvalidValueError, match=match):
        Image(value)


def test_bad_caption_raises() -> None:
    with pytest.raises(InvalidValueError, match=r"caption=b'x' is not a string"):
        Image(np.zeros((2, 2), dtype=np.uint8), caption=b"x")  # type: ignore[arg-type]


def test_missing_file_raises(tmp_path) -> None:
    with pytest.raises(InvalidValueError, match=r"Image path .*nope.png' is not an existing file"):
        Image(tmp_path / "nope.png")


def test_unsupported_suffix_raises(tmp_path) -> None:
    bitmap = tmp_path / "frame.bmp"
    bitmap.write_bytes(b"BM")
    with pytest.raises(InvalidValueError, match=r"frame.bmp' is not a .png, .jpg or .jpeg file"):
        Image(bitmap)


def test_file_whose_content_does_not_match_its_name_raises(tmp_path) -> None:
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"\xff\xd8\xff\xe0 jpeg data")
    with pytest.raises(InvalidValueError, match=r"fake.png' does not hold the .png data"):
        Image(fake)
