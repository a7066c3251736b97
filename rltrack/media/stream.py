"""``VideoStream``: a video encoded while it is recorded, frames to an encoder thread, never all in memory.

Split from :mod:`rltrack.media.video` (the encoder and the one-shot :class:`~rltrack.media.Video`),
which this module builds on.
"""

from __future__ import annotations

import os
import pathlib
import threading
import weakref
from types import TracebackType
from typing import TYPE_CHECKING

from rltrack.errors import InvalidValueError, RltrackError
from rltrack.media.image import check_caption, to_numpy

if TYPE_CHECKING:
    import queue
    from collections.abc import Sequence
    from fractions import Fraction

    import numpy as np
    from numpy.typing import NDArray

    # A (T, H, W[, C]) array or a list of (H, W[, C]) arrays: both iterate frame by frame.
    Frames = NDArray[np.uint8] | Sequence[NDArray[np.uint8]]

# fractions, queue, shutil and tempfile are imported where used: `import rltrack` must stay cheap.

from rltrack.media.video import H264Writer, check_fps, check_frame_array, require_av

__all__ = ["VideoStream"]


_CLOSE = object()  # queue sentinel: the producer is done


class _StreamState:
    """What the encoder thread shares with its VideoStream; holds no reference to the stream itself."""

    def __init__(self, fps: Fraction, max_queue: int) -> None:
        import queue
        import tempfile

        self.queue: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        fd, tmp = tempfile.mkstemp(prefix="rltrack-stream-", suffix=".mp4")
        os.close(fd)
        self.writer = H264Writer(pathlib.Path(tmp), fps)
        self.error: BaseException | None = None
        self.discard = False

    def run(self) -> None:
        """Encode queued frames until the close sentinel; after an error, drain so producers never block."""
        while True:
            item = self.queue.get()
            if item is _CLOSE:
                break
            if self.error is None:
                try:
                    self.writer.write(item)  # type: ignore[arg-type]  # only add_frame puts arrays here
                except BaseException as err:  # reported by VideoStream.write() on the media thread
                    self.error = err
        if self.error is None and self.writer.frames:
            try:
                self.writer.close()
            except BaseException as err:
                self.error = err
        if self.discard or self.error is not None or not self.writer.frames:
            self.writer.abort()


def _abandon(state: _StreamState, thread: threading.Thread | None) -> None:
    """Finaliser of a VideoStream that was never written: stop the thread and delete the temp file."""
    state.discard = True
    if thread is not None and thread.is_alive():
        state.queue.put(_CLOSE)  # the thread finishes, sees `discard` and deletes the file
    else:
        state.writer.path.unlink(missing_ok=True)  # already moved if the stream was written


class VideoStream:
    """A video encoded while it is recorded: frames go to an encoder thread, never all into memory.

    :meth:`add_frame` puts each frame on a bounded queue (``max_queue`` frames) that an encoder
    thread drains into a temporary H.264 MP4 file. When the encoder falls behind, ``add_frame``
    blocks until there is room (backpressure: no frame is ever dropped). Call :meth:`close` (or
    leave a ``with`` block) when the episode ends, then log the stream like a :class:`Video`;
    logging an open stream closes it. Frames come from one thread; all must have the shape of
    the first, uint8 (H, W) or (H, W, C) with C in 1, 3, 4. An encoder error does not reach the
    training loop: later frames are discarded and the error is raised when the stream is written
    (where the run reports it as a warning).

    Example:
        >>> import numpy as np
        >>> with VideoStream(fps=30, caption="episode 1") as stream:
        ...     for _ in range(4):
        ...         stream.add_frame(np.zeros((48, 64, 3), dtype=np.uint8))
        >>> stream.frames
        4
    """

    kind: str = "video"

    def __init__(self, fps: float = 30, caption: str | None = None, max_queue: int = 64) -> None:
        """Validate the settings; the encoder thread starts with the first frame.

        Args:
            fps: Frames per second.
            caption: Optional text shown with the video.
            max_queue: Frames that may wait for the encoder before ``add_frame`` blocks.

        Raises:
            InvalidValueError: A bad ``fps``, ``caption`` or ``max_queue``.
            RltrackError: PyAV (the ``video`` extra) is not installed.
        """
        require_av()
        self.caption: str | None = check_caption(caption)
        self.fps: Fraction = check_fps(fps)
        if isinstance(max_queue, bool) or not isinstance(max_queue, int) or max_queue < 1:
            raise InvalidValueError(f"max_queue={max_queue!r} is not a positive int; pass e.g. 64")
        self._max_queue = max_queue
        self._state: _StreamState | None = None
        self._thread: threading.Thread | None = None
        self._shape: tuple[int, ...] | None = None
        self._closed = False
        self._written = False
        self._frames = 0
        # Held while a frame is put, so close() never slips its sentinel in front of a frame.
        self._lock = threading.Lock()

    @property
    def frames(self) -> int:
        """Number of frames added so far."""
        return self._frames

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._closed

    def add_frame(self, frame: object, *, copy: bool = True) -> None:
        """Queue one uint8 frame for encoding; blocks while ``max_queue`` frames are waiting.

        Args:
            frame: uint8 array (H, W) or (H, W, C), C in 1, 3, 4, of the first frame's shape.
            copy: Copy the frame before queueing it (the default, ~30 µs for 600x400 RGB). Pass
                False only for a fresh array you will not modify again, e.g. ``env.render()``'s.

        Raises:
            InvalidValueError: Wrong dtype or shape, or a shape other than the first frame's.
            RltrackError: The stream is already closed.
        """
        import numpy as np

        arr = check_frame_array(to_numpy(frame), "VideoStream frame", 2)
        if self._shape is None:
            self._shape = arr.shape
        elif arr.shape != self._shape:
            raise InvalidValueError(
                f"VideoStream frame has shape {arr.shape!r} but the first frame had {self._shape!r}; "
                "pass frames of one size"
            )
        arr = np.array(arr, order="C", copy=True) if copy else np.ascontiguousarray(arr)
        with self._lock:
            if self._closed:
                raise RltrackError(f"{self!r} is closed; start a new VideoStream for more frames")
            state = self._ensure_started()
            if state.error is None:
                state.queue.put(arr)
            self._frames += 1

    def _ensure_started(self) -> _StreamState:
        if self._state is None:
            self._state = _StreamState(self.fps, self._max_queue)
            self._thread = threading.Thread(target=self._state.run, name="rltrack-video-stream", daemon=True)
            self._thread.start()
            weakref.finalize(self, _abandon, self._state, self._thread)
        return self._state

    def close(self) -> None:
        """Finish encoding and wait for it; closing twice is a no-op."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._state is not None and self._thread is not None:
            self._state.queue.put(_CLOSE)
            self._thread.join()

    def write(self, dest_dir: pathlib.Path, stem: str) -> tuple[str, dict[str, object]]:
        """Close the stream if needed and move its MP4 to ``dest_dir / (stem + ".mp4")``.

        Args:
            dest_dir: Existing folder to move the file into.
            stem: File name without extension.

        Returns:
            The file name and the same meta as :meth:`Video.write`.

        Raises:
            RltrackError: The stream had no frames, was already written, or its encoder failed.
        """
        self.close()
        state = self._state
        if state is None or (not state.writer.frames and state.error is None):
            raise RltrackError(f"{self!r} has no frames; add frames before logging it")
        if state.error is not None:
            raise RltrackError(f"{self!r} failed to encode: {state.error!r}") from state.error
        if self._written:
            raise RltrackError(f"{self!r} was already logged; log a VideoStream once")
        import shutil

        name = stem + ".mp4"
        # The temp file may sit on another file system: copy to a part file, then rename.
        tmp = dest_dir / (name + ".part")
        shutil.move(str(state.writer.path), tmp)
        os.replace(tmp, dest_dir / name)
        self._written = True
        return name, state.writer.meta()

    def __enter__(self) -> VideoStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"VideoStream(fps={float(self.fps):g}, caption={self.caption!r}, frames={self._frames})"
