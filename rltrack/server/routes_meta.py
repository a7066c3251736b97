"""The dashboard's favicon, drawn in code: browsers ask every page for ``/favicon.ico``; it must not be a 404."""

from __future__ import annotations

import struct
import zlib
from functools import cache

from fastapi import APIRouter
from starlette.responses import Response

__all__ = ["favicon_ico", "router"]

router = APIRouter(include_in_schema=False)

_SIZE = 16
_BLUE = (0x1F, 0x77, 0xB4)  # plotly's first trace colour, as the charts use
_WHITE = (0xFF, 0xFF, 0xFF)


def _png(pixels: list[list[tuple[int, int, int]]]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in pixels)
    header = struct.pack(">IIBBBBB", len(pixels[0]), len(pixels), 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


@cache
def favicon_ico() -> bytes:
    """Return a 16x16 ICO (one PNG image inside, as every current browser reads): a rising curve on blue."""
    pixels = [[_BLUE] * _SIZE for _ in range(_SIZE)]
    for x in range(2, _SIZE - 2):
        y = _SIZE - 3 - (x - 2) * (x - 2) // 14  # a learning curve
        for dy in (0, 1):
            pixels[max(0, min(_SIZE - 1, y - dy))][x] = _WHITE
    png = _png(pixels)
    header = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", _SIZE, _SIZE, 0, 0, 1, 32, len(png), 6 + 16)
    return header + entry + png


@router.get("/favicon.ico")
def favicon() -> Response:
    """The icon in the browser's tab."""
    return Response(favicon_ico(), media_type="image/x-icon", headers={"cache-control": "max-age=86400"})
