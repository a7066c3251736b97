"""Still images logged as PNG files: :class:`Image`.

PNG is written with the standard library (``zlib`` + ``struct``) from numpy, so images need no
Pillow or OpenCV. numpy is imported only inside functions: ``import rltrack`` stays cheap.
"""

from __future__ import annotations

import os
import pathlib
import struct
import zlib
from typing import TYPE_CHECKING, Any

from rltrack.errors import InvalidValueError
from rltrack.validate import check_label

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["Image"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SIGNATURE = b"\xff\xd8\xff"
# PNG colour types by channel count: grey, RGB, RGBA.
_PNG_COLOUR_TYPE = {1: 0, 3: 2, 4: 6}
# zlib level 6 (the default) is within ~10 % of level 9's size at a fraction of its time.
_PNG_ZLIB_LEVEL = 6


def check_caption(caption: object) -> str | None:
    """Return ``caption`` if it is None or storable text (:func:`check_label`), else raise InvalidValueError."""
    if caption is None:
        return None
    if isinstance(caption, str):
        return check_label("caption", caption)  # checked here, not by the writer thread, so log() names the value
    raise InvalidValueError(f"caption={caption!r} is not a string; pass a str or None")


def check_file(path: str | os.PathLike[str], what: str) -> pathlib.Path:
    """Return ``path`` as an absolute Path after checking that it is an existing regular file."""
    p = pathlib.Path(os.fspath(path)).expanduser()
    if not p.is_file():
        raise InvalidValueError(
            f"{what} path {str(p)!r} is not an existing file; pass the path of a file that exists"
        )
    return p.resolve()


def to_numpy(value: object) -> Any:
    """Return ``value`` as a numpy array; torch tensors are detached and moved to the CPU first."""
    import numpy as np

    detach = getattr(value, "detach", None)
    if callable(detach):  # torch.Tensor, without importing torch
        value = detach().cpu().numpy()
    return np.asarray(value)


class Image:
    """An image logged as a PNG (or an existing PNG/JPEG file copied as is).

    Accepts a uint8 numpy array of shape (H, W) (greyscale), (H, W, 1), (H, W, 3) (RGB) or
    (H, W, 4) (RGBA), or the path of an existing ``.png``, ``.jpg`` or ``.jpeg`` file. The array
    is copied when the Image is made, so the caller may reuse its buffer; the PNG is written
    later on rltrack's media thread. Convert float images yourself, e.g.
    ``(img * 255).round().astype(np.uint8)``: rltrack does not guess a value range.

    Example:
        >>> import numpy as np
        >>> Image(np.zeros((4, 6, 3), dtype=np.uint8), caption="first frame").kind
        'image'
    """

    kind: str = "image"

    def __init__(self, array_or_path: object, caption: str | None = None) -> None:
        """Validate the image now; the file is written by :meth:`write`.

        Args:
            array_or_path: uint8 array (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), or a path.
            caption: Optional text shown with the image.

        Raises:
            InvalidValueError: The array's dtype or shape is wrong, or the file is missing or
                not a PNG/JPEG.
        """
        self.caption: str | None = check_caption(caption)
        self._path: pathlib.Path | None = None
        self._pixels: NDArray[np.uint8] | None = None
        if isinstance(array_or_path, (str, os.PathLike)):
            self._path = _check_image_file(array_or_path)
        else:
            self._pixels = _check_pixels(array_or_path)

    def write(self, dest_dir: pathlib.Path, stem: str) -> tuple[str, dict[str, object]]:
        """Write the image into ``dest_dir`` and return (file name, meta).

        Args:
            dest_dir: Existing folder to write into.
            stem: File name without extension.

        Returns:
            The file name relative to ``dest_dir`` and ``{"width", "height", "format"}``.
        """
        if self._path is not None:
            import shutil

            suffix = ".png" if _sniff(self._path) == "png" else ".jpg"
            name = stem + suffix
            tmp = dest_dir / (name + ".part")
            shutil.copyfile(self._path, tmp)
            os.replace(tmp, dest_dir / name)
            width, height = _file_size(self._path)
            return name, {"width": width, "height": height, "format": suffix[1:]}
        assert self._pixels is not None  # one of the two is always set by __init__
        name = stem + ".png"
        tmp = dest_dir / (name + ".part")
        tmp.write_bytes(encode_png(self._pixels))
        os.replace(tmp, dest_dir / name)
        height, width = self._pixels.shape[:2]
        return name, {"width": int(width), "height": int(height), "format": "png"}

    def __repr__(self) -> str:
        source = str(self._path) if self._pixels is None else f"array{self._pixels.shape}"
        return f"Image({source}, caption={self.caption!r})"


def _check_pixels(value: object) -> NDArray[np.uint8]:
    import numpy as np

    if isinstance(value, (list, tuple)):
        raise InvalidValueError(
            f"Image got a {type(value).__name__}; pass a uint8 numpy array of shape (H, W), (H, W, 3) or "
            "(H, W, 4), or the path of a .png/.jpg file"
        )
    arr = to_numpy(value)
    if arr.dtype != np.uint8:
        raise InvalidValueError(
            f"Image array has dtype {str(arr.dtype)!r}; pass uint8 pixels, e.g. "
            "(img * 255).round().astype(np.uint8) for floats in [0, 1]"
        )
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
        raise InvalidValueError(
            f"Image array has shape {arr.shape!r}; pass (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) "
            "(channels last: use arr.transpose(1, 2, 0) for (C, H, W))"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidValueError(f"Image array has shape {arr.shape!r} with no pixels; pass a non-empty image")
    # Own a contiguous copy: the caller may reuse its buffer before the media thread writes it.
    out: NDArray[np.uint8] = np.array(arr, dtype=np.uint8, order="C", copy=True)
    return out


def encode_png(pixels: NDArray[np.uint8]) -> bytes:
    """Encode uint8 pixels of shape (H, W), (H, W, 3) or (H, W, 4) as PNG bytes (8-bit, no filter)."""
    import numpy as np

    height, width = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else int(pixels.shape[2])
    rows = np.ascontiguousarray(pixels).reshape(height, width * channels)
    # Each scanline starts with its filter type byte: 0 = None.
    raw = np.zeros((height, width * channels + 1), dtype=np.uint8)
    raw[:, 1:] = rows
    ihdr = struct.pack(">IIBBBBB", width, height, 8, _PNG_COLOUR_TYPE[channels], 0, 0, 0)
    idat = zlib.compress(raw.tobytes(), _PNG_ZLIB_LEVEL)
    return b"".join((_PNG_SIGNATURE, _chunk(b"IHDR", ihdr), _chunk(b"IDAT", idat), _chunk(b"IEND", b"")))


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def _check_image_file(path: str | os.PathLike[str]) -> pathlib.Path:
    p = check_file(path, "Image")
    if p.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise InvalidValueError(
            f"Image path {str(p)!r} is not a .png, .jpg or .jpeg file; convert it to PNG or pass its pixels"
        )
    kind = _sniff(p)
    if kind is None or (kind == "png") != (p.suffix.lower() == ".png"):
        raise InvalidValueError(
            f"Image file {str(p)!r} does not hold the {p.suffix} data its name says; pass a valid image file"
        )
    return p


def _sniff(path: pathlib.Path) -> str | None:
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(_PNG_SIGNATURE):
        return "png"
    if head.startswith(_JPEG_SIGNATURE):
        return "jpeg"
    return None


def _file_size(path: pathlib.Path) -> tuple[int | None, int | None]:
    """Read (width, height) from a PNG's IHDR or a JPEG's SOF marker; (None, None) if not found."""
    data = path.read_bytes()
    if data.startswith(_PNG_SIGNATURE) and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 1 if marker == 0xFF else 2  # markers without a length field
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        # SOF0..SOF15 carry the frame size, except DHT (C4), JPG (C8) and DAC (CC).
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return int(width), int(height)
        i += 2 + length
    return None, None
