"""Where the dashboard's static files are, and which plotly.js the pages (and exported reports) load."""

from __future__ import annotations

from functools import cache
from pathlib import Path

__all__ = ["STATIC_DIR", "VENDORED_PLOTLY", "plotly_js"]

STATIC_DIR = Path(__file__).parent / "static"


#: plotly.js's "cartesian" bundle (scatter, bar, heatmap, ...; MIT; from the npm package
#: plotly.js-cartesian-dist-min, the same version as the plotly wheel's): histogram panels need heatmaps,
#: and a 1.5 MB bundle instead of the full 4.8 MB one halves the first page load (parse and compile time).
VENDORED_PLOTLY = STATIC_DIR / "vendor" / "plotly-cartesian.min.js"


@cache
def plotly_js() -> Path:
    """Return the plotly.js the pages load: the vendored basic bundle, else the ``plotly`` wheel's full one."""
    if VENDORED_PLOTLY.is_file():
        return VENDORED_PLOTLY
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
