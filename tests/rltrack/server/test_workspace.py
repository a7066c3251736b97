"""The project workspace's API: its layout model, one key of many runs in one request, the bootstrap."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

import rltrack
from rltrack.errors import RltrackError
from rltrack.server import create_app
from rltrack.server.workspace import LAYOUT_SCHEMA, Layout, Panel, layout_json, parse_layout

from .conftest import Filled, TestClient

FULL = {
    "version": 1,
    "runs": ["abc123", "def456"],
    "recent": 20,
    "hidden": ["def456"],
    "search": "ppo",
    "group_by": "learning_rate",
    "key_filter": "train/",
    "x_axis": "relative",
    "smoothing": 0.6,
    "log_y": True,
    "collapsed": ["time"],
    "panels": [{"key": "odom/speed", "source": "real", "log_y": None}],
}
#: FULL as the server writes it back: the panel's type and the key_regex flag filled in.
FULL_OUT = {**FULL, "key_regex": False, "panels": [{"type": "line", "key": "odom/speed", "source": "real",
                                                     "log_y": None}]}


def test_layout_round_trips_through_json() -> None:
    layout = parse_layout(json.loads(json.dumps(FULL)))
    assert layout.panels == (Panel(key="odom/speed", source="real", log_y=None),)
    assert layout_json(layout) == FULL_OUT  # a layout saved before panel types reads, and gains its type
    assert parse_layout(layout_json(layout)) == layout


def test_empty_layout_is_the_default_workspace() -> None:
    layout = parse_layout({})
    assert layout == Layout()
    assert (layout.runs, layout.recent, layout.x_axis, layout.group_by) == (None, 50, "step", None)


def test_schema_names_every_field_of_the_model() -> None:
    assert set(LAYOUT_SCHEMA["properties"]) == {f.name for f in dataclasses.fields(Layout)}
    line = LAYOUT_SCHEMA["properties"]["panels"]["items"]["oneOf"][0]
    assert set(line["properties"]) == {"type"} | {f.name for f in dataclasses.fields(Panel)}
    assert line["required"] == ["key"]  # an entry without type is a line panel, as before types existed


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "a workspace layout is a JSON object, not list"),
        ({"colour": "red"}, "workspace layout has unknown field(s) ['colour']; known fields: version, runs,"),
        ({"x_axis": "epoch"}, "workspace layout field 'x_axis'='epoch' is invalid; write step or wall or relative"),
        ({"smoothing": 1.5}, "workspace layout field 'smoothing'=1.5 is invalid; write a number from 0 to 0.99"),
        ({"smoothing": True}, "field 'smoothing'=True is invalid"),
        ({"recent": 0}, "workspace layout field 'recent'=0 is invalid; write an integer from 1 to 1000"),
        ({"recent": 1001}, "field 'recent'=1001 is invalid"),
        ({"runs": "abc"}, "workspace layout field 'runs'='abc' is invalid; write a list of run ids or null"),
        ({"runs": ["../etc"]}, "'../etc'"),
        ({"log_y": "yes"}, "workspace layout field 'log_y'='yes' is invalid; write true or false"),
        ({"version": 2}, "workspace layout field 'version'=2 is invalid; write integer 1"),
        ({"panels": [{"key": "a", "colour": 1}]}, "workspace panel 0 (line) has unknown field(s) ['colour']"),
        ({"panels": [{"key": "a"}, {"key": "a"}]}, "lists line options for key(s) ['a'] twice"),
        ({"panels": [{"key": "a", "source": "sim real"}]}, "'sim real'"),
        ({"search": "x" * 501}, "workspace layout field 'search'="),
    ],
)
def test_bad_layout_is_refused_naming_the_field(data: Any, message: str) -> None:
    with pytest.raises(RltrackError) as err:
        parse_layout(data)
    assert message in str(err.value)


def test_series_returns_one_key_of_many_runs_in_the_given_order(client: TestClient, filled: Filled) -> None:
    body = client.get(
        "/api/projects/cartpole/series", params={"key": "train/loss", "runs": f"{filled.beta},{filled.alpha}"}
    ).json()
    assert body["key"] == "train/loss"
    assert [r["id"] for r in body["runs"]] == [filled.beta, filled.alpha]
    beta, alpha = body["runs"]
    assert (alpha["source"], alpha["count"]) == ("sim", filled.loss_steps)
    assert alpha["step"] == list(range(filled.loss_steps))
    assert alpha["value"] == [1.0 / (s + 1) for s in range(filled.loss_steps)]
    assert beta["value"][:3] == [2.0, 1.0, 2.0 / 3]


def test_series_downsamples_each_run_keeping_its_extremes(client: TestClient, filled: Filled) -> None:
    body = client.get(
        "/api/projects/cartpole/series",
        params={"key": "rollout/ep_rew_mean", "runs": f"{filled.alpha},{filled.beta}", "points": 30},
    ).json()
    for run, scale in zip(body["runs"], (1.0, 2.0), strict=True):
        assert run["count"] == filled.loss_steps
        assert 3 <= len(run["value"]) <= 30
        assert (run["value"][0], run["value"][-1]) == (0.0, scale * (filled.loss_steps - 1))
        assert run["step"] == sorted(run["step"])


def test_series_of_a_key_a_run_never_logged_is_empty(client: TestClient, filled: Filled) -> None:
    body = client.get(
        "/api/projects/robot/series", params={"key": "odom/speed", "runs": filled.robot, "source": "real"}
    ).json()
    assert body["runs"][0]["value"] == [0.4] * 4
    body = client.get("/api/projects/cartpole/series", params={"key": "odom/speed", "runs": filled.alpha}).json()
    assert body["runs"] == [{"id": filled.alpha, "source": "sim", "count": 0, "step": [], "value": []}]


def test_series_on_the_time_axis_carries_times(client: TestClient, filled: Filled) -> None:
    on_steps = client.get("/api/projects/cartpole/series", params={"key": "train/loss", "runs": filled.alpha}).json()
    assert "t_ns" not in on_steps["runs"][0]  # the step axis needs no times
    body = client.get(
        "/api/projects/cartpole/series", params={"key": "train/loss", "runs": filled.alpha, "x": "t_ns"}
    ).json()
    (run,) = body["runs"]
    assert len(run["t_ns"]) == filled.loss_steps
    assert run["t_ns"] == sorted(run["t_ns"]) and run["t_ns"][0] > 1_600_000_000 * 10**9


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"key": "train/loss", "runs": "nosuchrun"}, 404, "run(s) ['nosuchrun'] are not in project 'cartpole'"),
        ({"key": "train/loss", "runs": " , "}, 400, "runs= is empty; pass comma-separated run ids of the project"),
        ({"key": "train/loss", "runs": ",".join(["a"] * 1001)}, 400, "1001 runs requested at once; ask for at most"),
        ({"key": "train/loss", "runs": "x", "points": 2}, 422, "points"),
    ],
)
def test_series_refuses_bad_requests(client: TestClient, params: dict[str, Any], status: int, message: str) -> None:
    r = client.get("/api/projects/cartpole/series", params=params)
    assert r.status_code == status
    assert message in r.json()["detail"]


def test_series_refuses_a_run_of_another_project(client: TestClient, filled: Filled) -> None:
    r = client.get("/api/projects/cartpole/series", params={"key": "odom/speed", "runs": filled.robot})
    assert r.status_code == 404
    assert f"run(s) [{filled.robot!r}] are not in project 'cartpole'" in r.json()["detail"]


def test_workspace_bootstrap_lists_runs_keys_and_sources(client: TestClient, filled: Filled) -> None:
    body = client.get("/api/projects/robot/workspace").json()
    assert body["layout"] == body["defaults"] == layout_json(Layout())
    assert [r["id"] for r in body["runs"]] == [filled.robot]
    assert body["runs"][0]["sources"] == ["sim", "real"]
    keys = {k["key"]: k for k in body["keys"]}
    assert keys["odom/speed"] == {"key": "odom/speed", "sources": ["sim", "real"], "runs": 2}
    cartpole = client.get("/api/projects/cartpole/workspace").json()
    assert [r["name"] for r in cartpole["runs"]] == ["beta", "alpha"]  # newest first
    assert {k["key"] for k in cartpole["keys"]} >= {"train/loss", "rollout/ep_rew_mean"}


def test_workspace_bootstrap_validates_the_layout_in_the_url(client: TestClient) -> None:
    w = json.dumps({"group_by": "lr", "x_axis": "wall"})
    layout = client.get("/api/projects/cartpole/workspace", params={"w": w}).json()["layout"]
    assert (layout["group_by"], layout["x_axis"], layout["recent"]) == ("lr", "wall", 50)
    r = client.get("/api/projects/cartpole/workspace", params={"w": '{"x_axis": 3}'})
    assert r.status_code == 400
    assert r.json()["detail"] == "workspace layout field 'x_axis'=3 is invalid; write step or wall or relative"
    r = client.get("/api/projects/cartpole/workspace", params={"w": "{nope"})
    assert r.status_code == 400 and r.json()["detail"].startswith("w= is not JSON")
    r = client.get("/api/projects/nosuchproject/workspace")
    assert r.status_code == 404 and "project 'nosuchproject' has no runs" in r.json()["detail"]


def test_layout_endpoint_fills_defaults_and_serves_the_schema(client: TestClient) -> None:
    assert client.get("/api/workspace/layout", params={"w": json.dumps(FULL)}).json() == FULL_OUT
    assert client.get("/api/workspace/layout", params={"w": "{}"}).json() == layout_json(Layout())
    assert client.get("/api/workspace/schema").json() == LAYOUT_SCHEMA


def test_define_metric_goal_is_a_project_metric(tmp_path: Path) -> None:
    run = rltrack.init(project="m", dir=tmp_path, system_metrics=False)
    run.define_metric("eval/return", goal="maximize")
    run.define_metric("train/*", summary="min")  # no goal: not a metric column
    run.log({"eval/return": 1.0, "train/loss": 2.0}, step=1)
    run.finish()
    with TestClient(create_app(tmp_path), base_url="http://127.0.0.1") as c:
        body = c.get("/api/projects/m/metrics").json()
    assert body == {"metrics": [{"key": "eval/return", "goal": "maximize", "from": "define_metric"}], "swept": []}


def test_a_calibrations_trials_count_as_a_sweep_over_the_simulators_parameters(tmp_path: Path) -> None:
    # What sim2real.calibrate stores per trial: the parameters, then its own bookkeeping under 'calibration'.
    for trial, mass in enumerate((1.0, 2.5)):
        config = {"pole_mass_factor": mass, "delay": trial, "calibration": {"real_run": "r1", "kind": "search",
                                                                            "trial": trial}}
        with rltrack.init(project="cal", dir=tmp_path, group="calibration-abc", job_type="calibration",
                          config=config, system_metrics=False, quiet=True) as run:
            run.log({"calibration/objective": 1.0 / (trial + 1)})
    with rltrack.init(project="cal", dir=tmp_path, config={"lr": 3e-4}, system_metrics=False, quiet=True) as run:
        run.log({"eval/return": 1.0})
    with TestClient(create_app(tmp_path), base_url="http://127.0.0.1") as c:
        body = c.get("/api/projects/cal/metrics").json()
    assert body == {"metrics": [{"key": "calibration/objective", "goal": "minimize", "from": "calibration"}],
                    "swept": ["pole_mass_factor", "delay"]}


def test_compare_names_keys_that_hold_commas_as_a_json_list(tmp_path: Path) -> None:
    with rltrack.init(project="commas", dir=tmp_path, config={"lr": 0.1}, system_metrics=False, quiet=True) as run:
        run.log({"reward,shaped": 2.0, "plain": 1.0})
    with TestClient(create_app(tmp_path), base_url="http://127.0.0.1") as c:
        body = c.get("/api/projects/commas/compare",
                     params={"runs": run.id, "keys": json.dumps(["reward,shaped", "plain"])}).json()
        assert body["keys"] == ["reward,shaped", "plain"]
        assert body["runs"][0]["summary"]["reward,shaped"]["last"] == 2.0
        bad = c.get("/api/projects/commas/compare", params={"runs": run.id, "keys": '["unclosed'})
    assert bad.status_code == 400
    assert "is not a JSON list of texts" in bad.json()["detail"]
