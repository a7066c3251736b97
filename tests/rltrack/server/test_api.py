"""The JSON API over a store filled by the real run API."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

import rltrack
from rltrack.server import create_app

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

Filled = Any  # conftest.Filled
LOSS_STEPS = 100  # conftest.LOSS_STEPS
MakeClient = Callable[..., "TestClient"]


def test_projects_count_runs(client: TestClient) -> None:
    body = client.get("/api/projects").json()
    assert [(p["name"], p["runs"], p["running"]) for p in body] == [("cartpole", 2, 0), ("robot", 1, 0)]


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"project": "cartpole"}, ["beta", "alpha"]),
        ({"project": "cartpole", "sort": "created"}, ["alpha", "beta"]),
        ({"project": "cartpole", "sort": "-config.lr"}, ["beta", "alpha"]),
        ({"project": "cartpole", "sort": "summary.train/loss"}, ["alpha", "beta"]),
        ({"project": "cartpole", "tag": "baseline"}, ["alpha"]),
        ({"project": "cartpole", "group": "ppo", "state": "finished"}, ["beta", "alpha"]),
        ({"project": "cartpole", "state": "running"}, []),
        ({"project": "cartpole", "filter": "config.lr>=0.005"}, ["beta"]),
        ({"project": "cartpole", "filter": ["config.algo=ppo", "summary.rollout/ep_rew_mean<100"]}, ["alpha"]),
        ({"project": "cartpole", "filter": "config.algo~PP"}, ["beta", "alpha"]),
        ({"project": "cartpole", "q": "alp"}, ["alpha"]),
        ({"project": "cartpole", "limit": 1, "offset": 1}, ["alpha"]),
    ],
)
def test_runs_list_filters_and_sorts(client: TestClient, params: dict[str, object], names: list[str]) -> None:
    response = client.get("/api/runs", params=params)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    assert [r["name"] for r in response.json()["runs"]] == names


@pytest.mark.parametrize(
    ("params", "phrase"),
    [
        ({"filter": "lr>1"}, "filter 'lr>1' is not understood"),
        ({"sort": "colour"}, "sort='colour' is unknown"),
        ({"state": "sleeping"}, "state='sleeping' is unknown"),
        ({"limit": 0}, "limit"),
    ],
)
def test_runs_list_bad_input_is_4xx_with_message(client: TestClient, params: dict[str, object], phrase: str) -> None:
    response = client.get("/api/runs", params=params)  # type: ignore[arg-type]
    assert 400 <= response.status_code < 500
    assert phrase in response.json()["detail"]


def test_run_detail_has_sources_keys_and_summaries(client: TestClient, filled: Filled) -> None:
    body = client.get(f"/api/runs/{filled.robot}").json()
    assert body["sources"] == ["sim", "real"]
    assert body["keys"] == {"sim": ["episode/return", "odom/speed"], "real": ["episode/return", "odom/speed"]}
    assert body["summaries"]["real"]["episode/return"] == 43.0
    assert body["config"] == {"deployed_step": 5000}
    assert "host" in body["metadata"] or body["metadata"] != {}


@pytest.mark.parametrize("path", ["/api/runs/nope", "/api/runs/nope/series?key=a", "/api/runs/nope/media",
                                  "/api/runs/nope/files/media/x.mp4", "/api/runs/nope/simreal"])
def test_unknown_run_is_404(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "'nope'" in response.json()["detail"]


def test_series_round_trips_logged_values(client: TestClient, filled: Filled) -> None:
    body = client.get(f"/api/runs/{filled.alpha}/series", params={"key": ["train/loss", "missing"]}).json()
    loss = body["series"]["train/loss"]
    assert loss["count"] == LOSS_STEPS
    assert loss["step"] == list(range(LOSS_STEPS))
    assert loss["value"] == [1.0 / (s + 1) for s in range(LOSS_STEPS)]
    assert body["series"]["missing"] == {"count": 0, "step": [], "t_ns": [], "value": []}


def test_series_downsamples_and_zooms(client: TestClient, filled: Filled) -> None:
    body = client.get(
        f"/api/runs/{filled.alpha}/series", params={"key": "train/loss", "max_points": 12, "x_min": 10, "x_max": 50}
    ).json()
    loss = body["series"]["train/loss"]
    assert len(loss["step"]) <= 12
    assert loss["step"][0] == 9 and loss["step"][-1] == 51  # one point beyond each edge
    assert 1.0 / 10 in loss["value"]  # the window's maximum survives


def test_series_needs_a_key(client: TestClient, filled: Filled) -> None:
    response = client.get(f"/api/runs/{filled.alpha}/series")
    assert response.status_code == 422
    assert "key" in response.json()["detail"]


def test_nan_values_come_back_as_null(tmp_path: Path, make_client: MakeClient) -> None:
    run = rltrack.init(project="p", dir=tmp_path, system_metrics=False)
    run.log({"x": float("nan")}, step=0)
    run.log({"x": 1.0}, step=1)
    run.summary["odd"] = math.inf
    run.finish()
    with make_client(create_app(tmp_path)) as c:
        series = c.get(f"/api/runs/{run.id}/series", params={"key": "x"}).json()["series"]["x"]
        runs = c.get("/api/runs").json()["runs"]
    assert series["value"] == [None, 1.0]
    assert runs[0]["summary"]["odd"] is None


def test_media_list_and_file(client: TestClient, filled: Filled) -> None:
    items = client.get(f"/api/runs/{filled.alpha}/media").json()
    assert sorted((m["key"], m["kind"]) for m in items) == [("media/frame", "image"), ("media/rollout", "video")]
    video = next(m for m in items if m["kind"] == "video")
    whole = client.get(video["url"])
    assert whole.status_code == 200
    assert whole.headers["content-type"] == "video/mp4"
    assert whole.headers["accept-ranges"] == "bytes"
    part = client.get(video["url"], headers={"Range": "bytes=10-99"})
    assert part.status_code == 206
    assert part.content == whole.content[10:100]
    assert part.headers["content-range"] == f"bytes 10-99/{len(whole.content)}"


@pytest.mark.parametrize(
    "tail",
    [
        "../../rltrack.db",
        "media/../../../rltrack.db",
        "%2e%2e/%2e%2e/rltrack.db",
        "..%2f..%2frltrack.db",
        "%2Fetc%2Fpasswd",
        "/etc/passwd",
        "..\\..\\rltrack.db",
        "media/%00x",
    ],
)
def test_files_cannot_escape_the_run_folder(client: TestClient, filled: Filled, tail: str) -> None:
    response = client.get(f"/api/runs/{filled.alpha}/files/{tail}")
    assert response.status_code in (400, 404)
    assert b"SQLite" not in response.content and b"root:" not in response.content


def test_files_refuse_a_symlink_out(client: TestClient, filled: Filled) -> None:
    (filled.root / "runs" / filled.alpha / "media" / "escape.db").symlink_to(filled.root / "rltrack.db")
    response = client.get(f"/api/runs/{filled.alpha}/files/media/escape.db")
    assert response.status_code == 400


def test_simreal_shares_keys_and_places_real_at_checkpoint(client: TestClient, filled: Filled) -> None:
    body = client.get(f"/api/runs/{filled.robot}/simreal").json()
    assert body["available"] is True
    assert (body["sim"], body["real"]) == ("sim", "real")
    assert body["shared"] == ["episode/return", "odom/speed"]
    assert body["checkpoint_step"] == 5000


def test_simreal_unavailable_for_a_one_source_run(client: TestClient, filled: Filled) -> None:
    assert client.get(f"/api/runs/{filled.alpha}/simreal").json()["available"] is False


def test_simreal_gap_comes_from_sim2real(client: TestClient, filled: Filled) -> None:
    body = client.get(f"/api/runs/{filled.robot}/simreal/gap", params={"n_boot": 50}).json()
    assert body["available"] is True
    episodes = body["report"]["episodes"]["return"]
    assert (episodes["sim_mean"], episodes["real_mean"], episodes["n_sim"], episodes["n_real"]) == (25.0, 41.5, 6, 4)


def test_compare_groups_runs_with_mean_and_band(client: TestClient, filled: Filled) -> None:
    body = client.get(
        "/api/compare", params={"run": [filled.alpha, filled.beta], "key": "train/loss", "group_by": "algo"}
    ).json()
    assert [r["name"] for r in body["runs"]] == ["alpha", "beta"]
    (group,) = body["groups"]
    assert group["value"] == "ppo" and group["runs"] == [filled.alpha, filled.beta]
    assert group["step"][0] == 0 and group["step"][-1] == LOSS_STEPS - 1
    assert group["mean"][0] == pytest.approx(1.5) and group["min"][0] == 1.0 and group["max"][0] == 2.0


def test_compare_by_seed_makes_one_group_per_value(client: TestClient, filled: Filled) -> None:
    body = client.get(
        "/api/compare", params={"run": [filled.alpha, filled.beta], "key": "train/loss", "group_by": "seed"}
    ).json()
    assert sorted(g["value"] for g in body["groups"]) == [0, 1]


def test_counts_per_key(client: TestClient, filled: Filled) -> None:
    assert client.get(f"/api/runs/{filled.alpha}/counts").json() == {
        "rollout/ep_rew_mean": LOSS_STEPS, "train/loss": LOSS_STEPS
    }


def test_artifacts_of_a_run(client: TestClient, filled: Filled) -> None:
    body = client.get(f"/api/runs/{filled.alpha}/artifacts").json()
    assert body["available"] is True
    assert (body["logged"], body["used"]) == ([], [])


def test_openapi_documents_the_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/projects", "/api/runs", "/api/runs/{run_id}", "/api/runs/{run_id}/series",
            "/api/runs/{run_id}/files/{path}", "/api/compare", "/api/runs/{run_id}/simreal"} <= set(paths)


@pytest.mark.parametrize("path", ["/", "/projects/cartpole", "/runs/x", "/compare?run=x"])
def test_pages_are_html(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


def test_plotly_is_served_from_the_wheel(client: TestClient) -> None:
    response = client.get("/static/plotly.min.js")
    assert response.status_code == 200
    assert b"plotly.js" in response.content[:2000]
    assert client.get("/static/../app.py").status_code == 404


def test_missing_store_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(rltrack.RltrackError, match="no rltrack store"):
        create_app(tmp_path / "nothing")


def test_bulk_series_of_many_points_is_cut_to_max(tmp_path: Path, make_client: MakeClient) -> None:
    run = rltrack.init(project="p", dir=tmp_path, system_metrics=False)
    values = np.sin(np.arange(50_000) / 100.0)
    values[12_345] = 9.0
    for i, v in enumerate(values):
        run.log({"x": float(v)}, step=i)
    run.finish()
    with make_client(create_app(tmp_path)) as c:
        s = c.get(f"/api/runs/{run.id}/series", params={"key": "x"}).json()["series"]["x"]
    assert s["count"] == 50_000 and len(s["value"]) <= 2000
    assert 9.0 in s["value"] and s["step"][-1] == 49_999


def test_artifacts_show_versions_aliases_and_lineage(tmp_path: Path, make_client: MakeClient) -> None:
    checkpoint = tmp_path / "policy.zip"
    checkpoint.write_bytes(b"weights")
    trainer = rltrack.init(project="p", dir=tmp_path / "s", system_metrics=False)
    trainer.log_artifact(checkpoint, name="policy", type="model", aliases=["best"])
    trainer.finish()
    robot = rltrack.init(project="p", dir=tmp_path / "s", system_metrics=False)
    robot.use_artifact("policy:best")
    robot.finish()
    with make_client(create_app(tmp_path / "s")) as c:
        logged = c.get(f"/api/runs/{trainer.id}/artifacts").json()
        used = c.get(f"/api/runs/{robot.id}/artifacts").json()
    (version,) = logged["logged"]
    assert (version["ref"], version["type"], version["size"]) == ("policy:v0", "model", 7)
    assert version["run_id"] == trainer.id
    assert set(version["aliases"]) == {"best", "latest"}
    assert [v["ref"] for v in used["used"]] == ["policy:v0"] and used["logged"] == []


def test_simreal_of_a_linked_pair(tmp_path: Path, make_client: MakeClient) -> None:
    sim = rltrack.init(project="p", dir=tmp_path, system_metrics=False)
    for step in range(5):
        sim.log({"episode/return": float(step), "odom/speed": 1.0}, step=step)
    sim.finish()
    real = rltrack.init(project="p", source="real", config={"sim_run": sim.id, "policy_step": 4}, dir=tmp_path,
                        system_metrics=False)
    real.log({"episode/return": 3.5, "odom/speed": 0.9, "real_only": 1.0}, step=0)
    real.finish()
    with make_client(create_app(tmp_path)) as c:
        linked = c.get(f"/api/runs/{real.id}/simreal").json()
        explicit = c.get(f"/api/runs/{sim.id}/simreal", params={"other": real.id}).json()
        reverse = c.get(f"/api/runs/{sim.id}/simreal").json()
        gap = c.get(f"/api/runs/{sim.id}/simreal/gap", params={"other": real.id, "n_boot": 50}).json()
        missing = c.get(f"/api/runs/{sim.id}/simreal", params={"other": "ghost"})
    for body in (linked, explicit, reverse):
        assert body["available"] is True
        assert (body["sim_run"], body["sim"], body["real_run"], body["real"]) == (sim.id, "sim", real.id, "real")
        assert body["shared"] == ["episode/return", "odom/speed"] and body["real_only"] == ["real_only"]
        assert body["checkpoint_step"] == 4
    assert gap["available"] is True
    assert gap["report"]["episodes"]["return"]["real_mean"] == 3.5
    assert missing.status_code == 404


def test_a_bad_query_parameter_is_named_with_the_value_given(client: TestClient) -> None:
    answer = client.get("/api/runs", params={"limit": "-5"})
    assert answer.status_code == 422
    assert answer.json()["detail"] == "query.limit: Input should be greater than or equal to 1 (got '-5')"
