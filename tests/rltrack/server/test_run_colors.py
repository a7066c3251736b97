"""Run colours a user can tell apart: every pair of the palette's colours differs visibly, each reads on white."""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path

COMMON_JS = Path(__file__).resolve().parents[3] / "rltrack" / "server" / "static" / "common.js"


def _palette() -> list[str]:
    found = re.search(r"RT\.PALETTE = \[([^\]]*)\]", COMMON_JS.read_text())
    assert found, "RT.PALETTE not found in common.js"
    return re.findall(r'"(#[0-9a-fA-F]{6})"', found.group(1))


def _linear(c: float) -> float:
    return ((c + 0.055) / 1.055) ** 2.4 if c > 0.04045 else c / 12.92


def _lab(hex_colour: str) -> tuple[float, float, float, float]:
    """CIELAB (D65) of an sRGB colour, and its relative luminance."""
    r, g, b = (_linear(int(hex_colour[i:i + 2], 16) / 255) for i in (1, 3, 5))
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(v: float) -> float:
        return v ** (1 / 3) if v > 0.008856 else 7.787 * v + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z)), y


def test_every_two_run_colours_differ_visibly() -> None:
    palette = _palette()
    assert len(palette) == len(set(palette)) == 20
    labs = {c: _lab(c)[:3] for c in palette}
    # CIE76 distance: ~2.3 is just noticeable; the palette before held pairs 5 apart (two blues, two pinks)
    # and five greens, so four sweep trials were drawn in greens nobody could tell apart.
    closest = min(itertools.combinations(palette, 2), key=lambda p: math.dist(labs[p[0]], labs[p[1]]))
    assert math.dist(labs[closest[0]], labs[closest[1]]) >= 30, closest


def test_every_run_colour_reads_on_white_and_is_no_grey() -> None:
    for colour in _palette():
        lightness, a, b, luminance = _lab(colour)
        assert 1.05 / (luminance + 0.05) >= 2.5, f"{colour} is too light on the white page"
        assert math.hypot(a, b) >= 30, f"{colour} is a grey (reads as a disabled run)"
        assert lightness >= 30, f"{colour} is near black"
