"""The one door of validation: what every writer (log, ingest, bag import, ROS node) refuses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rltrack.errors import InvalidKeyError, InvalidValueError, RltrackError
from rltrack.validate import (
    MAX_STEP,
    check_key,
    check_label,
    check_media_path,
    check_run_id,
    check_source,
    check_state,
    check_step,
    check_t_ns,
    check_text,
)


@pytest.mark.parametrize("bad", ["..", ".", "", "a/b", "a" * 65, "x\x00", "é", None, 5])
def test_run_ids_that_could_name_a_folder_outside_runs_are_refused(bad: object) -> None:
    with pytest.raises(InvalidValueError, match="must be 1-64 letters, digits"):
        check_run_id(bad)


def test_run_ids_and_sources_that_are_safe_pass() -> None:
    assert check_run_id("a1B2-c_3") == "a1B2-c_3"
    assert check_source("real") == "real"
    with pytest.raises(InvalidValueError, match=r"source '\.\./x'"):
        check_source("../x")


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("", "empty key"),
        ("a" * 257, "characters long"),
        ("a\nb", "control characters"),
        ("bad\udcff", "not valid Unicode"),
        ("/a", "empty '/'-separated part"),
        ("step", "reserved"),
        ("_rltrack/errors/x", "reserved"),
    ],
)
def test_keys_are_refused_with_the_reason(key: str, why: str) -> None:
    with pytest.raises(InvalidKeyError, match=why):
        check_key(key)


def test_reserved_prefix_is_allowed_for_rltrack_itself() -> None:
    assert check_key("_rltrack/errors/disk", allow_reserved=True) == "_rltrack/errors/disk"
    with pytest.raises(InvalidKeyError):
        check_key("step", allow_reserved=True)


@pytest.mark.parametrize("step", [0, 7, MAX_STEP, np.int64(3), np.uint32(9)])
def test_steps_in_range_pass_as_plain_ints(step: object) -> None:
    value = check_step(step)
    assert value.__class__ is int and value == int(step)  # type: ignore[call-overload]


@pytest.mark.parametrize("step", [-1, MAX_STEP + 1, 2**64, True, 1.0, "3", None])
def test_steps_out_of_range_or_not_integers_are_refused(step: object) -> None:
    with pytest.raises(InvalidValueError, match="log\\(\\) step must be"):
        check_step(step)


def test_times_may_be_negative_but_must_fit_int64() -> None:
    assert check_t_ns(-5) == -5
    with pytest.raises(InvalidValueError, match="signed 64-bit"):
        check_t_ns(2**63)
    with pytest.raises(InvalidValueError, match="nanoseconds"):
        check_t_ns(1.5)


def test_states_are_the_run_states() -> None:
    assert check_state("finished") == "finished"
    with pytest.raises(InvalidValueError, match="run state 'done' must be one of running, finished"):
        check_state("done")


@pytest.mark.parametrize(
    "path", ["media/video/step_1.mp4", "a.png", "media/hist/loss-3.json", "files/my model.zip", "media/损失.png"]
)
def test_media_paths_inside_the_run_folder_pass(path: str) -> None:
    assert check_media_path(path) == path


@pytest.mark.parametrize(
    "path", ["../rltrack.db", "media/../../x", "/etc/passwd", ".hidden", "a//b", "a\\b", " a", "", "x\x00", "c:x", "a/"]
)
def test_media_paths_that_leave_the_folder_or_hide_are_refused(path: str) -> None:
    with pytest.raises(RltrackError, match="media path"):
        check_media_path(path)


def test_text_that_is_not_utf8_is_refused() -> None:
    assert check_text("name", "ok") == "ok"
    with pytest.raises(InvalidValueError, match="name 'x\\\\udcff' is not valid Unicode"):
        check_text("name", "x\udcff")


def test_labels_with_a_nul_character_are_refused_as_postgresql_cannot_store_them() -> None:
    assert check_text("config value", "a\x00b") == "a\x00b"  # JSON documents keep it escaped
    assert check_label("notes", "ok") == "ok"
    with pytest.raises(InvalidValueError, match=r"notes 'a\\x00b' holds a NUL character"):
        check_label("notes", "a\x00b")


def test_media_captions_with_nul_are_refused_at_the_call() -> None:
    import rltrack

    with pytest.raises(InvalidValueError, match=r"caption 'c\\x00' holds a NUL"):
        rltrack.Image(np.zeros((4, 4, 3), dtype=np.uint8), caption="c\x00")


def test_init_refuses_nul_in_notes_group_and_tags_before_creating_the_run(tmp_path: Path) -> None:
    import rltrack

    for kwargs, what in (({"notes": "n\x00"}, "notes"), ({"group": "g\x00"}, "group"), ({"tags": ["t\x00"]}, "tag")):
        with pytest.raises(InvalidValueError, match=f"{what}.*holds a NUL"):
            rltrack.init(project="p", dir=tmp_path, system_metrics=False, quiet=True, **kwargs)  # type: ignore[arg-type]
    runs = tmp_path / "runs"
    assert not runs.exists() or not any(runs.iterdir())  # refused before any run was made
