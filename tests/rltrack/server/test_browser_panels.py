"""Every panel type of issue 14's workspaces and reports in chromium, on a real store: a line chart of a regex's keys,
a compare table, sim vs real with its gap numbers, media (images, a video, a histogram) and an rltrack.Table.

Added from the page's own controls, saved, reloaded, opened by a teammate, opened logged out through a share link,
drawn in a report and in its exported file with every network request refused. Hostile titles, run names, captions
and cells show as text; no console error, no dialog; panels never overlap at 1280 and 1920 px.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlparse

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the server needs the ui extra: pip install 'rltrack[server]'")

import httpx

import rltrack
from rltrack.server import ServerSettings
from rltrack.server.serve import BackgroundServer

from .conftest import moving_frames
from .test_browser_dashboards import READY_MS, Watched, watch

pytestmark = pytest.mark.browser

HOSTILE = '<img src=x id=pwned onerror="window.pwned=1">"\'&</script>'
#: Keys a writer chose: a clip and a summary metric whose names are markup.
CLIP = "media/<script>window.pwned=1</script>"
SCORE = 'eval/<img src=x id=pwned onerror="window.pwned=1">'
PROJECT = "lab"
A, B, ROBOT = "panela01", "panelb02", "panelr03"


@dataclass
class Lab:
    root: Path


def fill_lab(root: Path) -> Lab:
    frame = moving_frames(1, 16)[0]
    a = rltrack.init(id=A, project=PROJECT, name="alpha", config={"lr": 0.001, "algo": "ppo"}, dir=root,
                     system_metrics=False, quiet=True)
    for step in range(50):
        a.log({"train/loss": 1.0 / (step + 1), "train/lr": 3e-4, "rollout/ep_rew_mean": float(step)}, step=step)
    a.log({"media/frame": rltrack.Image(frame, caption="early frame")}, step=10)
    table = rltrack.Table(columns=["score", "note", "frame"])
    table.add_data(2.5, HOSTILE, rltrack.Image(frame, caption=HOSTILE))
    table.add_data(-1.0, "plain", None)
    a.log({"media/frame": rltrack.Image(frame, caption=HOSTILE),
           CLIP: rltrack.Video(moving_frames(8, 16), fps=4), "eval/samples": table, SCORE: 0.75,
           "weights/w": rltrack.Histogram(np.linspace(0.0, 1.0, 100), num_bins=8)}, step=20)
    a.finish()
    b = rltrack.init(id=B, project=PROJECT, name=HOSTILE, config={"lr": 0.01, "algo": "ppo"}, dir=root,
                     system_metrics=False, quiet=True)
    for step in range(50):
        b.log({"train/loss": 2.0 / (step + 1), "train/lr": 3e-4, "rollout/ep_rew_mean": 2.0 * step}, step=step)
    b.log({"media/frame": rltrack.Image(frame, caption="beta frame"), SCORE: 0.5}, step=20)
    b.finish()
    sim = rltrack.init(id=ROBOT, project=PROJECT, name="sim-real", config={"deployed_step": 5000}, dir=root,
                       system_metrics=False, quiet=True)
    for step in range(0, 6000, 250):
        sim.log({"episode/return": step / 100.0 + (step % 7), "odom/speed": 0.5}, step=step)
    sim.flush()
    real = rltrack.init(id=ROBOT, resume="must", source="real", dir=root, system_metrics=False, quiet=True)
    for episode in range(6):
        real.log({"episode/return": 40.0 + episode, "odom/speed": 0.4}, step=episode)
    real.finish()
    sim.finish()
    return Lab(root)


#: One panel of every type (the hostile title on the regex chart).
PANELS: list[dict[str, Any]] = [
    {"type": "line", "regex": "^train/", "source": None, "log_y": None, "title": HOSTILE},
    {"type": "compare", "keys": [SCORE, "rollout/ep_rew_mean"], "config": None, "title": "compare " + HOSTILE},
    {"type": "simreal", "run": ROBOT, "keys": None, "title": "robot " + HOSTILE},
    {"type": "media", "key": "media/frame", "step": None, "title": "frames " + HOSTILE},
    {"type": "media", "key": CLIP, "step": None, "title": None},
    {"type": "media", "key": "weights/w", "step": None, "title": "histogram " + HOSTILE},
    {"type": "table", "run": A, "key": "eval/samples", "step": None, "title": "samples " + HOSTILE},
]
LAYOUT = {"runs": [A, B, ROBOT], "panels": PANELS}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    return fill_lab(tmp_path_factory.mktemp("panels") / "store")


@pytest.fixture(scope="module")
def server(lab: Lab) -> Iterator[BackgroundServer]:
    with BackgroundServer(ServerSettings(root=lab.root)) as s:
        yield s


@pytest.fixture
def tab(browser: Any) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    w = watch(context.new_page())
    yield w
    context.close()
    assert w.problems == []


def _api(server: BackgroundServer, path: str) -> str:
    return f"{server.url}/api/projects/{PROJECT}{path}"


def _cards(page: Any, root: str) -> list[Any]:
    page.wait_for_function(f"() => [...document.querySelectorAll('{root} .pcard')]"
                           ".every((c) => c.dataset.loaded === '1')"
                           f" && document.querySelectorAll('{root} .pcard').length > 0", timeout=READY_MS)
    return list(page.locator(f"{root} .pcard").all())


def check_panels(page: Any, root: str, gap: dict[str, Any]) -> None:
    """Assert what each panel of PANELS shows, in order (the same on every page that draws them)."""
    cards = _cards(page, root)
    assert [c.get_attribute("data-ptype") for c in cards] == ["regex", "compare", "simreal", "media", "media", "media",
                                                              "table"]
    regex, compare, simreal, frames, clip, hist, table = cards
    titles = [c.locator(".ptitle").text_content() for c in cards]  # titles and keys a writer chose are text
    assert titles == [HOSTILE, "compare " + HOSTILE, "robot " + HOSTILE, "frames " + HOSTILE, CLIP,
                      "histogram " + HOSTILE, "samples " + HOSTILE]
    chart = regex.locator(".chart")
    assert json.loads(chart.get_attribute("data-keys")) == ["train/loss", "train/lr"]
    assert chart.get_attribute("data-traces") == "4"  # 2 keys x 2 runs that logged them
    assert chart.locator(".scatterlayer .trace").count() == 4
    names = page.evaluate("(el) => el.data.map((t) => t.name)", chart.element_handle())
    assert any(n.startswith("&lt;img src=x id=pwned") for n in names)  # plotly's text escape of a hostile run name
    # compare: one row per visible run, the summaries' last values
    rows = compare.locator("tbody tr").all()
    assert sorted(r.get_attribute("data-run") for r in rows) == sorted([A, B, ROBOT])
    alpha = compare.locator(f"tbody tr[data-run='{A}']")
    assert alpha.locator("td[data-col='rollout/ep_rew_mean'][data-stat='last']").text_content() == "49"
    assert compare.locator(f"tbody tr[data-run='{B}'] td").first.text_content() == HOSTILE
    assert compare.locator("th.num").all_text_contents()[0] == SCORE
    assert compare.locator(f"tbody tr[data-run='{A}'] td.num").first.text_content() == "0.75"
    # the config keys whose values vary across the runs (the robot has no algo or lr, the others no deployed_step)
    assert compare.locator("th.cfg").all_text_contents() == ["algo", "deployed_step", "lr"]
    # sim vs real: both sides per key, and the gap numbers of GET /api/runs/{id}/simreal/gap
    assert simreal.locator(".chart[data-key='episode/return']").get_attribute("data-traces") == "2"
    assert simreal.locator(".chart[data-key='odom/speed'] .scatterlayer .trace").count() == 2
    if gap["available"]:
        trs = simreal.locator(".gap-table tbody tr").all()
        shown = [[td.text_content() for td in tr.locator("td").all()] for tr in trs]
        assert shown == [row for s in gap["sections"] for row in s["rows"]]
    else:
        assert simreal.locator(".sr-gap").text_content() == gap["reason"]
    # media: each run's latest frame with its caption as text, images that loaded
    items = frames.locator("figure.media-item")
    assert sorted(i.get_attribute("data-run") for i in items.all()) == [A, B]
    assert frames.locator(f"figure[data-run='{A}'] .caption").text_content() == HOSTILE
    assert frames.locator(f"figure[data-run='{A}']").get_attribute("data-step") == "20"
    for img in frames.locator("img").all():
        assert page.evaluate("(i) => i.complete && i.naturalWidth === 16", img.element_handle())
    video = clip.locator("video")
    assert video.count() == 1
    page.wait_for_function("(v) => v.readyState >= 1", arg=video.element_handle(), timeout=READY_MS)
    assert hist.locator(".hist-bars[data-loaded='1']").count() == 1
    # table: the logged rows, a hostile cell as text, an image cell that loaded
    assert table.locator("thead th").all_text_contents() == ["score", "note", "frame"]
    cells = [[td.text_content() for td in tr.locator("td").all()] for tr in table.locator("tbody tr").all()]
    assert cells == [["2.5", HOSTILE, ""], ["-1", "plain", ""]]
    assert page.evaluate("(i) => i.complete && i.naturalWidth === 16", table.locator("tbody img").element_handle())
    assert page.evaluate("window.pwned") is None and page.locator("#pwned").count() == 0


def no_overlap(page: Any, selector: str) -> None:
    boxes = [b for b in (e.bounding_box() for e in page.locator(selector).all()) if b]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            apart = (a["x"] + a["width"] <= b["x"] + 1 or b["x"] + b["width"] <= a["x"] + 1
                     or a["y"] + a["height"] <= b["y"] + 1 or b["y"] + b["height"] <= a["y"] + 1)
            assert apart, (selector, a, b)


def inside(page: Any, outer: str, inner: str) -> None:
    """Every `inner` element of each `outer` lies within it horizontally (a wide table scrolls inside its card)."""
    for o in page.locator(outer).all():
        ob = o.bounding_box()
        for i in o.locator(inner).all():
            ib = i.bounding_box()
            if ib and ob:
                assert ob["x"] - 1 <= ib["x"] and ib["x"] + ib["width"] <= ob["x"] + ob["width"] + 1, (inner, ob, ib)


def _gap(server: BackgroundServer) -> dict[str, Any]:
    return httpx.get(f"{server.url}/api/runs/{ROBOT}/simreal/gap").json()  # type: ignore[no-any-return]


def test_every_panel_type_is_added_from_the_page_saved_and_reloaded(tab: Watched, server: BackgroundServer) -> None:
    page = tab.page
    tab.ready(f"{server.url}/projects/{PROJECT}?w=" + quote(json.dumps({"runs": [A, B, ROBOT]})))

    def add(kind: str, fill: Any) -> None:
        page.click("#add-panel")
        page.select_option(".panel-form .pf-type", kind)
        fill()
        page.click(".panel-form .pf-save")
        page.wait_for_selector("#pinned-status:has-text('panel added')")
        page.wait_for_function("() => !document.querySelector('.panel-form')")

    def regex() -> None:
        page.fill(".pf-regex", "^train/")
        page.fill(".pf-title", HOSTILE)

    def compare() -> None:
        page.select_option(".pf-keys", [SCORE, "rollout/ep_rew_mean"])
        page.fill(".pf-title", "compare " + HOSTILE)

    def simreal() -> None:
        page.select_option(".pf-run", ROBOT)
        page.fill(".pf-title", "robot " + HOSTILE)

    def media(key: str, title: str) -> Any:
        def fill() -> None:
            page.fill(".pf-key", key)
            if title:
                page.fill(".pf-title", title)
        return fill

    def table() -> None:
        page.select_option(".pf-run", A)
        page.wait_for_function("() => document.querySelector('.pf-key').value === 'eval/samples'")
        page.fill(".pf-title", "samples " + HOSTILE)

    for kind, fill in (("regex", regex), ("compare", compare), ("simreal", simreal),
                       ("media", media("media/frame", "frames " + HOSTILE)), ("media", media(CLIP, "")),
                       ("media", media("weights/w", "histogram " + HOSTILE)), ("table", table)):
        add(kind, fill)
    # A refused panel (a regex that does not compile) says why and changes nothing.
    tab.expected.update({400, 422})
    page.click("#add-panel")
    page.fill(".pf-regex", "train/(")
    page.click(".panel-form .pf-save")
    page.wait_for_selector("#pinned-status.err")
    assert "train/(" in page.text_content("#pinned-status")
    page.click(".panel-form .pf-cancel")
    check_panels(page, "#pinned", _gap(server))
    layout = json.loads(parse_qs(urlparse(page.url).query)["w"][0])
    typed = [{k: v for k, v in p.items() if v is not None} for p in layout["panels"]]
    assert typed == [{k: v for k, v in p.items() if v is not None} for p in PANELS]

    # Saved, then opened from a clean page: the same panels.
    page.fill("#dash-name", "every panel")
    page.click("#dash-save-as")
    page.wait_for_selector("#dash-status:has-text('saved as')")
    saved = parse_qs(urlparse(page.url).query)["d"][0]
    stored = httpx.get(_api(server, f"/dashboards/{saved}")).json()
    assert [p["type"] for p in stored["layout"]["panels"]] == [p["type"] for p in PANELS]
    tab.ready(f"{server.url}/projects/{PROJECT}?d={saved}")
    check_panels(page, "#pinned", _gap(server))

    # The media panel's step selector: step 10 holds only alpha's early frame.
    frames = page.locator("#pinned .pcard").nth(3)
    assert frames.locator("select.media-step option").all_text_contents() == ["latest", "step 10", "step 20"]
    frames.locator("select.media-step").select_option("10")
    page.wait_for_selector("#pinned .pcard >> nth=3 >> figure[data-step='10']")
    assert [f.get_attribute("data-run") for f in frames.locator("figure").all()] == [A]
    assert frames.locator("figure .caption").text_content() == "early frame"
    # The table panel sorts on the server: score descending puts the hostile row first again.
    table = page.locator("#pinned .pcard[data-ptype='table']")
    table.locator("th[data-col='score']").click()
    page.wait_for_selector("#pinned .pcard[data-ptype='table'] .pbody[data-loaded='latest|score|asc|0'], "
                           "#pinned .pcard[data-ptype='table'] .pbody[data-loaded$='|score|asc|0']")
    assert [td.text_content() for td in table.locator("tbody tr td:first-child").all()] == ["-1", "2.5"]

    # "New report" starts from the workspace: its pinned panels become the report's panel blocks.
    with page.expect_navigation():
        page.click("#dash-report")
    page.wait_for_selector("body[data-ready='1']", timeout=READY_MS)
    check_panels(page, "#r-blocks", _gap(server))
    tab.ready(f"{server.url}/projects/{PROJECT}?d={saved}")

    # Move, edit, remove: the layout follows.
    page.locator("#pinned .pcard").nth(1).locator(".p-up").click()
    page.wait_for_selector("#pinned-status:has-text('moved')")
    assert [c.get_attribute("data-ptype") for c in page.locator("#pinned .pcard").all()][:2] == ["compare", "regex"]
    page.locator("#pinned .pcard").nth(1).locator(".p-edit").click()
    page.fill(".pf-regex", "^train/loss$")
    page.click(".panel-form .pf-save")
    page.wait_for_selector("#pinned-status:has-text('panel changed')")
    page.wait_for_selector("#pinned .pcard[data-ptype='regex'][data-loaded='1']")
    assert json.loads(page.get_attribute("#pinned .pcard[data-ptype='regex'] .chart", "data-keys")) == ["train/loss"]
    page.locator("#pinned .pcard").nth(0).locator(".p-remove").click()
    page.wait_for_selector("#pinned-status:has-text('removed')")
    layout = json.loads(parse_qs(urlparse(page.url).query)["w"][0])
    assert [p["type"] for p in layout["panels"]][:1] == ["line"] and len(layout["panels"]) == len(PANELS) - 1


def test_pin_a_chart_and_a_regex_key_filter(tab: Watched, server: BackgroundServer) -> None:
    page = tab.page
    tab.ready(f"{server.url}/projects/{PROJECT}")
    page.locator(".card", has=page.locator(".chart[data-key='train/lr']")).locator("button.pin").click()
    page.wait_for_selector("#pinned .pcard[data-loaded='1']")
    assert page.text_content("#pinned .ptitle") == "train/lr"
    assert json.loads(page.get_attribute("#pinned .chart", "data-keys")) == ["train/lr"]
    # Grouped by a config value, the pinned chart draws one mean and band per group, as the key's own chart does.
    page.select_option("#groupby", "lr")
    page.wait_for_function("() => { const c = document.querySelector('#pinned .chart');"
                           " return c.data && c.data.some((t) => t.name === 'lr=0.01 (1 run)'); }", timeout=READY_MS)
    names = page.evaluate("() => document.querySelector('#pinned .chart').data"
                          ".filter((t) => !t.hoverinfo).map((t) => t.name)")
    assert sorted(names) == ["lr=0.001 (1 run)", "lr=0.01 (1 run)"]
    page.select_option("#groupby", "")
    # The key filter as a regex: the server says which keys match.
    page.check("#key-regex")
    page.fill("#keyfilter", "^(rollout|odom)/")
    page.wait_for_function("() => [...document.querySelectorAll('#panels .chart')].map((c) => c.dataset.key).join() "
                           "=== 'rollout/ep_rew_mean,odom/speed'", timeout=READY_MS)
    layout = json.loads(parse_qs(urlparse(page.url).query)["w"][0])
    assert (layout["key_regex"], layout["key_filter"]) == (True, "^(rollout|odom)/")
    tab.expected.update({400, 422})
    page.fill("#keyfilter", "(a")
    page.wait_for_selector("#keyfilter.bad")
    assert "(a" in page.text_content("#error")
    # Opened from a URL: the same keys, the pinned chart kept.
    layout["key_filter"] = "^(rollout|odom)/"
    tab.ready(f"{server.url}/projects/{PROJECT}?w=" + quote(json.dumps(layout)))
    assert [c.get_attribute("data-key") for c in page.locator("#panels .chart").all()] == ["rollout/ep_rew_mean",
                                                                                          "odom/speed"]
    assert page.input_value("#keyfilter") == "^(rollout|odom)/" and page.is_checked("#key-regex")
    assert page.locator("#pinned .pcard[data-loaded='1']").count() == 1
    # The key search jumps to a panel the filter hides: the filter is cleared, the panel drawn and flashed.
    page.fill("#jump", "train/loss")
    page.dispatch_event("#jump", "change")
    page.wait_for_selector("#panels .card.flash .chart[data-key='train/loss'][data-loaded='1']", timeout=READY_MS)
    assert page.input_value("#keyfilter") == ""
    assert page.locator("#panels .chart").count() == 6  # every key again


def test_share_link_shows_every_panel_logged_out(tab: Watched, server: BackgroundServer) -> None:
    ws = httpx.post(_api(server, "/dashboards"), json={"kind": "workspace", "name": HOSTILE, "layout": LAYOUT})
    assert ws.status_code == 201, ws.text
    made = httpx.post(_api(server, f"/dashboards/{ws.json()['id']}/shares"), json={}).json()
    page = tab.page
    tab.ready(server.url + made["url"])
    check_panels(page, "#pinned", _gap(server))
    assert page.locator("#add-panel, .p-edit, .p-remove, button.pin").count() == 0  # read-only
    assert not [u for u in tab.requests if "/api/projects/" in u or "/api/runs/" in u]  # only /api/shared/...


def _report(server: BackgroundServer) -> dict[str, Any]:
    blocks = [{"markdown": "# Every panel"}, *({"panel": p} for p in PANELS), {"panel": {"key": "train/loss"}}]
    r = httpx.post(_api(server, "/dashboards"),
                   json={"kind": "report", "name": HOSTILE, "layout": {"runs": [A, B, ROBOT]}, "blocks": blocks})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_a_report_draws_every_panel_type_and_its_share_link_too(tab: Watched, server: BackgroundServer) -> None:
    report = _report(server)
    page = tab.page
    tab.ready(server.url + report["url"])
    check_panels(page, "#r-blocks", _gap(server))
    assert page.get_attribute(".chart[data-key='train/loss']", "data-loaded") == "1"
    made = httpx.post(_api(server, f"/dashboards/{report['id']}/shares"), json={}).json()
    tab.ready(server.url + made["url"])
    check_panels(page, "#r-blocks", _gap(server))
    # The editor adds a panel of any type.
    tab.ready(server.url + report["url"])
    page.click("#r-edit")
    page.click("#r-add-panel")
    page.select_option(".panel-form .pf-type", "compare")
    page.select_option(".panel-form .pf-keys", ["train/lr"])
    page.click(".panel-form .pf-save")
    # ... and edits one: the table panel's title.
    page.locator("#r-blocks .block[data-block='7'] button", has_text="edit").click()
    page.fill(".panel-form .pf-title", "edited <b>")
    page.click(".panel-form .pf-save")
    page.click("#r-save")
    page.wait_for_selector("#r-status:has-text('version 2')")
    stored = httpx.get(_api(server, f"/dashboards/{report['id']}")).json()
    assert stored["blocks"][-1]["panel"]["type"] == "compare" and stored["blocks"][-1]["panel"]["keys"] == ["train/lr"]
    assert stored["blocks"][7]["panel"]["type"] == "table" and stored["blocks"][7]["panel"]["title"] == "edited <b>"
    page.wait_for_selector("#r-blocks .pcard[data-ptype='table'][data-loaded='1']")
    assert page.text_content("#r-blocks .pcard[data-ptype='table'] .ptitle") == "edited <b>"
    page.wait_for_selector("#r-blocks .pcard[data-ptype='compare'] >> nth=1")


def test_the_exported_report_draws_every_panel_offline(browser: Any, server: BackgroundServer, tmp_path: Path) -> None:
    report = _report(server)
    gap = _gap(server)
    exported = httpx.get(_api(server, f"/dashboards/{report['id']}/export.html"))
    assert exported.status_code == 200
    path = tmp_path / "report.html"
    path.write_bytes(exported.content)
    context = browser.new_context(offline=True, viewport={"width": 1400, "height": 1000})
    try:
        w = watch(context.new_page())
        context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(("file:", "data:"))
                      else (w.problems.append(f"network: {route.request.url}"), route.abort()))
        w.ready(path.as_uri())
        check_panels(w.page, "#r-blocks", gap)
        assert [u for u in w.requests if not u.startswith("data:")] == [path.as_uri()] and w.problems == []
    finally:
        context.close()


@pytest.mark.parametrize("width", [1280, 1920])
def test_panels_never_overlap(browser: Any, server: BackgroundServer, width: int) -> None:
    ws = httpx.post(_api(server, "/dashboards"), json={"kind": "workspace", "name": "wide", "layout": LAYOUT}).json()
    context = browser.new_context(viewport={"width": width, "height": 1000})
    try:
        w = watch(context.new_page())
        w.ready(f"{server.url}/projects/{PROJECT}?d={ws['id']}")
        _cards(w.page, "#pinned")
        no_overlap(w.page, "#pinned .pcard")
        no_overlap(w.page, ".sr-gap .gap-table")
        no_overlap(w.page, ".media-item")
        inside(w.page, "#pinned .pcard", ".table-wrap, .gap-table, .chart")
        inside(w.page, ".ws-main", "#pinned .pcard")
        # The same panels in a report.
        w.ready(server.url + _report(server)["url"])
        _cards(w.page, "#r-blocks")
        no_overlap(w.page, "#r-blocks .block")
        no_overlap(w.page, ".sr-gap .gap-table")
        inside(w.page, "#r-blocks .pcard", ".table-wrap, .gap-table, .chart, .media-item")
        assert w.problems == []
    finally:
        context.close()


# ---- a teammate opens the saved workspace (accounts) ------------------------------------------------------------
@pytest.fixture(scope="module")
def team_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    pytest.importorskip("argon2", reason="accounts need argon2-cffi: pip install 'rltrack[server]'")
    from rltrack.server.accounts import open_accounts

    lab = fill_lab(tmp_path_factory.mktemp("panels-team") / "store")
    accounts = open_accounts(lab.root)
    accounts.create_team("lab")
    for user in ("alice", "bob"):
        accounts.create_user(user, f"{user}-password-14")
        accounts.add_member("lab", user, "member")
    accounts.set_project(PROJECT, team="lab", visibility="team")
    with BackgroundServer(ServerSettings(root=lab.root)) as s:
        yield s


def _login(browser: Any, server: BackgroundServer, user: str) -> tuple[Any, Watched]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    w = watch(context.new_page())
    w.page.goto(f"{server.url}/login")
    w.page.fill("#user", user)
    w.page.fill("#password", f"{user}-password-14")
    with w.page.expect_navigation():
        w.page.click("#login")
    w.page.wait_for_selector("body[data-ready='1']", timeout=READY_MS)
    return context, w


def test_a_teammate_and_a_logged_out_viewer_see_every_panel(browser: Any, team_server: BackgroundServer) -> None:
    server, contexts = team_server, []
    try:
        alice_ctx, alice = _login(browser, server, "alice")
        contexts.append(alice_ctx)
        alice.ready(f"{server.url}/projects/{PROJECT}?w=" + quote(json.dumps(LAYOUT)))
        gap = alice.page.evaluate(f"fetch('/api/runs/{ROBOT}/simreal/gap').then((r) => r.json())")
        check_panels(alice.page, "#pinned", gap)
        alice.page.fill("#dash-name", "lab panels")
        alice.page.click("#dash-save-as")
        alice.page.wait_for_selector("#dash-status:has-text('saved as')")
        saved = parse_qs(urlparse(alice.page.url).query)["d"][0]
        alice.page.click("#dash-share")
        alice.page.wait_for_selector("#dash-link:not([hidden])")
        link = alice.page.input_value("#dash-link")

        bob_ctx, bob = _login(browser, server, "bob")
        contexts.append(bob_ctx)
        bob.ready(f"{server.url}/projects/{PROJECT}")
        with bob.page.expect_navigation():
            bob.page.select_option("#dash-open", saved)
        bob.page.wait_for_selector("body[data-ready='1']", timeout=READY_MS)
        check_panels(bob.page, "#pinned", gap)

        anon_ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        contexts.append(anon_ctx)
        anon = watch(anon_ctx.new_page())
        anon.ready(link)
        check_panels(anon.page, "#pinned", gap)
        assert anon.page.request.get(f"{server.url}/api/runs/{A}/media").status == 401
        for w in (alice, bob, anon):
            assert w.problems == []
    finally:
        for c in contexts:
            c.close()


def test_a_regex_panel_follows_the_runs_shown(tab: Watched, server: BackgroundServer) -> None:
    layout = {"runs": [ROBOT], "panels": [PANELS[0]]}
    page = tab.page
    tab.ready(f"{server.url}/projects/{PROJECT}?w=" + quote(json.dumps(layout)))
    card = page.locator("#pinned .pcard[data-ptype='regex']")
    _cards(page, "#pinned")
    assert card.locator(".pnote").text_content() == "no logged key matches"  # the robot logged no train/ key
    page.check(f"#runs tbody tr[data-run='{A}'] input.vis")
    page.wait_for_selector("#pinned .pcard[data-ptype='regex'][data-loaded='1'] .chart[data-traces='2']",
                           timeout=READY_MS)
    assert json.loads(card.locator(".chart").get_attribute("data-keys")) == ["train/loss", "train/lr"]


def test_a_long_pinned_list_draws_as_it_comes_into_view(tab: Watched, server: BackgroundServer) -> None:
    panels = [{"type": "line", "regex": f"^train/loss$|^x{i}$", "title": f"loss {i}"} for i in range(30)]
    page = tab.page
    tab.ready(f"{server.url}/projects/{PROJECT}?w=" + quote(json.dumps({"runs": [A, B], "panels": panels})))
    cards = page.locator("#pinned .pcard")
    assert cards.count() == 30
    loaded = [c.get_attribute("data-loaded") for c in cards.all()]
    assert loaded[:12] == ["1"] * 12 and loaded[-1] is None  # the first screenful drawn, the last not fetched
    cards.nth(29).scroll_into_view_if_needed()
    page.wait_for_selector("#pinned .pcard:nth-child(30)[data-loaded='1'] .chart[data-traces='2']", timeout=READY_MS)
