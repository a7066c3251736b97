"""The layout model of typed panels and the key regex, without a server: round trips, schema, refusals, timing."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the server needs the ui extra: pip install 'rltrack[server]'")

from rltrack.errors import RltrackError
from rltrack.server import key_regex
from rltrack.server.dashboards import parse_dashboard, report_panels
from rltrack.server.key_regex import check_pattern, match_keys
from rltrack.server.workspace import LAYOUT_SCHEMA, layout_json, parse_layout
from rltrack.server.workspace_panels import (
    ComparePanel,
    MediaPanel,
    Panel,
    RegexPanel,
    SimRealPanel,
    TablePanel,
    parse_panel,
)

EVERY = [
    {"type": "line", "key": "train/loss", "source": "real", "log_y": True},
    {"type": "line", "regex": "^eval/(return|length)$", "source": None, "log_y": None, "title": "eval"},
    {"type": "compare", "keys": ["eval/return"], "config": ["lr", "net.width"], "title": None},
    {"type": "simreal", "run": "robot001", "keys": ["odom/speed"], "title": "gap"},
    {"type": "media", "key": "video/eval", "step": 100, "title": None},
    {"type": "table", "run": "alpha001", "key": "eval/episodes", "step": None, "title": "episodes"},
]


def test_every_panel_type_round_trips_and_follows_the_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    layout = parse_layout({"panels": EVERY, "key_regex": True, "key_filter": "^train/"})
    assert [type(p) for p in layout.panels] == [Panel, RegexPanel, ComparePanel, SimRealPanel, MediaPanel,
                                                TablePanel]
    data = layout_json(layout)
    assert data["panels"] == EVERY and data["key_regex"] is True
    assert parse_layout(json.loads(json.dumps(data))) == layout
    jsonschema.validate(data, LAYOUT_SCHEMA)
    jsonschema.validate({"panels": [{"key": "a"}]}, LAYOUT_SCHEMA)  # a layout saved before types
    for bad in ({"panels": [{"type": "media"}]}, {"panels": [{"type": "pie", "key": "a"}]},
                {"panels": [{"type": "table", "run": "a", "key": "b", "colour": 1}]}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, LAYOUT_SCHEMA)
        with pytest.raises(RltrackError):
            parse_layout(bad)


def test_left_out_fields_take_their_defaults() -> None:
    assert parse_panel({"type": "media", "key": "cam"}) == MediaPanel("cam", None, None)
    assert parse_panel({"type": "compare", "keys": []}) == ComparePanel((), None, None)
    assert parse_panel({"type": "simreal", "run": "r1"}) == SimRealPanel("r1", None, None)
    assert parse_panel({"key": "a"}) == Panel("a")


@pytest.mark.parametrize(("panel", "message"), [
    ({"type": "media"}, "workspace panel 0 (media): field 'key'=None is invalid; write a logged key as text"),
    ({"type": "table", "run": "a/b", "key": "k"}, "workspace panel 0 (table): field 'run'='a/b' is invalid"),
    ({"type": "media", "key": "k", "step": True}, "field 'step'=True is invalid; write a step"),
    ({"type": "media", "key": "k", "step": 2**63}, "field 'step'"),
    ({"type": "compare", "keys": "loss"}, "field 'keys'='loss' is invalid; write a list of at most 20 keys"),
    ({"type": "compare", "keys": ["a"], "config": [1]}, "field 'config'=1 is invalid"),
    ({"type": "simreal", "run": "r", "keys": ["k"] * 13}, "at most 12 keys"),
    ({"type": "line", "regex": ""}, "field 'regex'='' is invalid"),
    ({"type": "line", "regex": "(a", "key": "x"}, "unknown field(s) ['key']"),
    ({"type": "line", "regex": "a", "title": "\x1b[31m"}, "without control characters"),
    ({"type": "line", "regex": "a", "title": "t" * 201}, "text of at most 200 characters"),
    ({"type": "media", "key": "k", "title": 5}, "field 'title'=5"),
    ("media", "workspace panel 0 'media' is invalid; write an object"),
])
def test_bad_panels_are_refused_naming_the_field_and_what_to_write(panel: Any, message: str) -> None:
    with pytest.raises(RltrackError) as err:
        parse_layout({"panels": [panel]})
    assert message in str(err.value)


def test_two_line_panels_of_one_key_are_refused_but_typed_panels_may_repeat() -> None:
    with pytest.raises(RltrackError, match=r"line options for key\(s\) \['a'\] twice"):
        parse_layout({"panels": [{"key": "a"}, {"type": "line", "key": "a"}]})
    layout = parse_layout({"panels": [{"type": "media", "key": "a"}, {"type": "media", "key": "a", "step": 1},
                                      {"key": "a"}]})
    assert len(layout.panels) == 3


def test_a_report_keeps_old_panel_blocks_valid_and_takes_every_type() -> None:
    old = parse_dashboard({"kind": "report", "name": "r", "blocks": [{"panel": {"key": "loss", "source": None,
                                                                                 "log_y": None}}]})
    assert old.blocks == [{"panel": {"type": "line", "key": "loss", "source": None, "log_y": None}}]
    spec = parse_dashboard({"kind": "report", "name": "r", "blocks": [{"panel": p} for p in EVERY]})
    assert report_panels(spec) == EVERY
    with pytest.raises(RltrackError, match="report has 101 panel blocks; use at most 100"):
        parse_dashboard({"kind": "report", "name": "r", "blocks": [{"panel": {"key": f"k{i}"}} for i in range(101)]})
    assert len(parse_dashboard({"kind": "report", "name": "r", "blocks": [{"markdown": "x"}] * 100 + [
        {"panel": {"key": f"k{i}"}} for i in range(100)]}).blocks) == 200
    with pytest.raises(RltrackError, match=r"report block 1: workspace panel \(media\): field 'key'"):
        parse_dashboard({"kind": "report", "name": "r", "blocks": [{"markdown": "x"}, {"panel": {"type": "media"}}]})


def test_a_key_regex_searches_case_sensitively_and_skips_bookkeeping_keys() -> None:
    keys = ["eval/return", "Eval/Return", "train/eval_loss", "_rltrack/eval", "eval"]
    assert match_keys("eval", keys) == (["eval", "eval/return", "train/eval_loss"], 3)
    assert match_keys("^eval/", keys) == (["eval/return"], 1)
    assert match_keys("[Ee]val/", keys)[0] == ["Eval/Return", "eval/return"]


@pytest.mark.parametrize(("pattern", "words"), [
    ("(?P<name>x)", "'(?P'"), (r"\Aeval", "write ^"), (r"eval\Z", "write $"), ("(?i)x", "inline flags"),
    ("a*+", "possessive"), ("(?>a)", "atomic"), ("(?#c)a", "comment"), ("[", "not a valid regular expression"),
    ("a\x00", "NUL"), ("x" * 201, "write at most 200"),
])
def test_python_only_or_broken_patterns_are_refused(pattern: str, words: str) -> None:
    with pytest.raises(RltrackError) as err:
        check_pattern(pattern)
    assert words in str(err.value) and "key regex" in str(err.value)


@pytest.mark.parametrize("pattern", ["(a+)+$", "(a*)*b", r"(\w+/)+loss", "((ab)+)+", r"(a)\1+", "(x+x+)+y"])
def test_without_a_timeout_nested_quantifiers_are_refused(pattern: str) -> None:
    with pytest.raises(RltrackError, match="repeats a group that itself repeats"):
        check_pattern(pattern, bounded=False)


@pytest.mark.parametrize("pattern", ["^eval/", "(ab)+c", "a+b*", "(train|eval)/loss", "x{2,5}(y|z)?"])
def test_without_a_timeout_plain_patterns_still_pass(pattern: str) -> None:
    assert check_pattern(pattern, bounded=False) == pattern


def test_a_catastrophic_pattern_is_stopped_by_the_time_bound() -> None:
    if key_regex._regex is None:
        pytest.skip("the regex package (server extra) is not installed: such patterns are refused when parsed")
    keys = ["x" * 250] + [f"group{i % 50}/metric_{i}" for i in range(5000)]
    start = time.perf_counter()
    with pytest.raises(RltrackError, match=r"needs more than 0\.2 s over the project's keys"):
        match_keys("(x|xx)+y", keys, budget_s=0.2)
    assert time.perf_counter() - start < 5  # the engine checks its clock coarsely; the bound still holds


def test_5000_keys_match_well_within_the_budget() -> None:
    keys = [f"group{i % 50}/metric_{i}/value" for i in range(5000)]
    start = time.perf_counter()
    found, total = match_keys(r"^group1/metric_\d+", keys)
    took = time.perf_counter() - start
    assert total == 100 and found[0] == "group1/metric_1/value"  # over budget, match_keys would have raised
    print(f"\nregex over 5,000 keys: {took * 1000:.1f} ms")
