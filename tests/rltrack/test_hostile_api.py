"""Hostile reads through ``rltrack.Api`` and a hostile media caption (issue 19 follow-up, found by probing).

A lone surrogate (``os.listdir``'s form of a non-UTF-8 name) given to an ``Api`` read — a run id,
project, tag, source or key — reached the SQLite driver and raised a bare ``UnicodeEncodeError``;
it is now an ``InvalidValueError`` naming the argument. Reads with ordinary values are unchanged.
A media row the store refuses is warned about and counted in the stored summary.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rltrack
from rltrack.api import Api
from rltrack.errors import InvalidValueError

BAD = "bad\udcffname"


@pytest.fixture
def api(store_dir: Path) -> Api:
    run = rltrack.init(project="p", dir=store_dir, system_metrics=False, quiet=True, tags=["ppo"])
    for step in range(3):
        run.log({"x": float(step)}, step=step)
    run.finish()
    return Api(store_dir)


@pytest.mark.parametrize(
    ("read", "what"),
    [
        (lambda api: api.run(BAD), "run id"),
        (lambda api: api.runs(BAD), "project"),
        (lambda api: api.runs("p", group=BAD), "group"),
        (lambda api: api.runs("p", tags=[BAD]), "tag"),
        (lambda api: api.runs("p", state=BAD), "state"),
        (lambda api: api.runs("p")[0].history([BAD]), "key"),
        (lambda api: api.runs("p")[0].history(BAD), "key"),
        (lambda api: api.runs("p")[0].series(BAD), "key"),
        (lambda api: api.runs("p")[0].series("x", source=BAD), "source"),
        (lambda api: api.runs("p")[0].media(BAD), "key"),
        (lambda api: api.runs("p")[0].keys(BAD), "source"),
        (lambda api: api.runs("p")[0].summary_of(BAD), "source"),
    ],
)
def test_a_lone_surrogate_in_a_read_is_an_error_naming_it(api: Api, read: Callable[[Api], Any], what: str) -> None:
    with pytest.raises(InvalidValueError, match=rf"^{what} 'bad\\udcffname' is not valid Unicode"):
        read(api)


def test_ordinary_reads_are_unchanged(api: Api) -> None:
    (run,) = api.runs("p", tags=["ppo"])
    assert api.runs("p", tags="ppo")[0].id == run.id  # one tag as a string, not its letters
    assert run.history(["x"])["x"].tolist() == [0.0, 1.0, 2.0]
    assert run.series("x", source="sim")[2].tolist() == [0.0, 1.0, 2.0]
    assert run.keys("sim") == ["x"]
    assert api.run(run.id).summary["x"] == 2.0
    assert run.media("x") == []


def test_a_refused_media_row_is_counted_in_the_stored_summary(store_dir: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = rltrack.init(project="p", dir=store_dir, system_metrics=False, quiet=True)
        with pytest.raises(InvalidValueError, match="caption"):
            rltrack.Image(np.zeros((4, 4, 3), np.uint8), caption=BAD)  # refused at the call since it is checked
        image = rltrack.Image(np.zeros((4, 4, 3), np.uint8))
        image.caption = BAD  # set after the check: the writer thread must isolate the row it cannot store
        run.log({"img": image, "x": 1.0}, step=0)
        run.finish()
    assert any("media-row failed" in str(w.message) for w in caught)
    stored = Api(store_dir).run(run.id)
    assert stored.summary["x"] == 1.0
    assert stored.summary.get("_rltrack/errors/media-row") == 1
