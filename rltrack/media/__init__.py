"""Media that runs log next to numbers: videos, images, histograms and tables, stored as files.

Each media object checks its input when it is made (cheaply, in the caller's thread) and
writes its file later, on the run's media thread, through ``write(dest_dir, stem)``. This
package imports neither numpy nor PyAV until a media object is made.
"""

from __future__ import annotations

from rltrack.media.histogram import Histogram
from rltrack.media.image import Image
from rltrack.media.stream import VideoStream
from rltrack.media.table import Table
from rltrack.media.video import Video

__all__ = ["Histogram", "Image", "Table", "Video", "VideoStream"]
