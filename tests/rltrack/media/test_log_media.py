"""Media logged through a real run land as files in the run's folder, read back through the Api."""

from __future__ import annotations

import json

import numpy as np
import pytest

import rltrack
from rltrack.media import VideoStream

pytest.importorskip("av")


def test_each_media_kind_is_stored_and_read_back(tmp_path) -> None:
    frames = np.zeros((4, 17, 31, 3), dtype=np.uint8)
    stream = VideoStream(fps=10, caption="streamed")
    for f in frames:
        stream.add_frame(f)  # left open: logging closes it
    run = rltrack.init(project="media", dir=tmp_path, system_metrics=False)
    run.log(
        {
            "eval/video": rltrack.Video(frames, fps=15, caption="ep 1"),
            "eval/stream": stream,
            "obs/image": rltrack.Image(frames[0], caption="first"),
            "policy/actions": rltrack.Histogram(np.arange(10), num_bins=5),
        },
        step=7,
    )
    run.finish()

    media = {m.key: m for m in rltrack.Api(dir=tmp_path).run(run.id).media()}

    assert set(media) == {"eval/video", "eval/stream", "obs/image", "policy/actions"}
    assert all(m.step == 7 and m.path.is_file() for m in media.values())
    assert [media[k].kind for k in sorted(media)] == ["video", "video", "image", "histogram"]
    assert (media["eval/video"].caption, media["eval/stream"].caption) == ("ep 1", "streamed")
    assert media["eval/video"].meta["frames"] == 4 and media["eval/video"].meta["fps"] == 15.0
    assert (media["eval/stream"].meta["width"], media["eval/stream"].meta["height"]) == (32, 18)
    assert media["obs/image"].path.read_bytes().startswith(b"\x89PNG")
    assert json.loads(media["policy/actions"].path.read_text())["counts"] == [2, 2, 2, 2, 2]
    assert stream.closed
