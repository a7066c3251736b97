"""Saved workspaces, share links and reports in chromium: saving and opening, read-only share pages,
hostile names and markdown drawn as text, a stale save's 409, and the exported report opened offline.

Every page records page errors, console errors (a CSP refusal is one) and dialogs: a test fails on any.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

pytest.importorskip("fastapi", reason="the server needs the ui extra: pip install 'rltrack[server]'")

import httpx

from rltrack.server import ServerSettings
from rltrack.server.serve import BackgroundServer

from .conftest import Filled, fill_store

pytestmark = pytest.mark.browser

READY_MS = 15_000
HOSTILE = '<img src=x id=pwned onerror="window.pwned=1">"\'&</script>'
MARKDOWN = ("# Findings <script>window.pwned=1</script>\n\nAlpha **learns** faster; see "
            "[the paper](https://example.org/p) or [this](javascript:window.pwned=1).\n\n"
            "- <img src=x id=pwned2 onerror=\"window.pwned=1\">\n- `<b>code</b>`")


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Filled:
    return fill_store(tmp_path_factory.mktemp("dash-browser") / "store")


@pytest.fixture(scope="module")
def server(filled: Filled) -> Iterator[BackgroundServer]:
    with BackgroundServer(ServerSettings(root=filled.root)) as s:
        yield s


@dataclass
class Watched:
    page: Any
    problems: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    expected: set[int] = field(default_factory=set)  # error statuses a test provokes on purpose

    def ready(self, url: str) -> None:
        self.page.goto(url)
        self.page.wait_for_selector("body[data-ready='1']", timeout=READY_MS)
        assert self.page.evaluate("window.pwned") is None
        assert self.page.locator("#pwned, #pwned2").count() == 0


def watch(page: Any) -> Watched:
    w = Watched(page)
    page.on("pageerror", lambda e: w.problems.append(f"page error: {e}"))
    # A failed load is judged by its status below (a test may provoke a 409 or a 404 on purpose).
    page.on("console", lambda m: w.problems.append(f"console: {m.text}")
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    page.on("response", lambda r: w.problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and r.status not in w.expected and not r.url.endswith("/favicon.ico") else None)
    page.on("dialog", lambda d: (w.problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.on("request", lambda r: w.requests.append(r.url))
    return w


@pytest.fixture
def tab(browser: Any) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    w = watch(context.new_page())
    yield w
    context.close()
    assert w.problems == []


def _api(server: BackgroundServer, path: str) -> str:
    return f"{server.url}/api/projects/cartpole{path}"


def test_save_as_open_and_a_stale_save_in_the_workspace(tab: Watched, server: BackgroundServer) -> None:
    page = tab.page
    tab.ready(f"{server.url}/projects/cartpole")
    page.select_option("#axis", "wall")
    page.fill("#dash-name", HOSTILE)
    page.click("#dash-save-as")
    page.wait_for_selector("#dash-status:has-text('saved as')")  # (no wait_for_function: the CSP forbids eval)
    saved_id = parse_qs(urlparse(page.url).query)["d"][0]
    # The list draws the hostile name as text.
    page.wait_for_selector(f"#dash-open option[value='{saved_id}']", state="attached")
    assert page.locator(f"#dash-open option[value='{saved_id}']").text_content() == HOSTILE
    assert page.locator("#pwned").count() == 0 and page.evaluate("window.pwned") is None
    stored = httpx.get(_api(server, f"/dashboards/{saved_id}")).json()
    assert (stored["name"], stored["layout"]["x_axis"], stored["version"]) == (HOSTILE, "wall", 1)

    # Opened from a clean page: the saved layout is applied.
    tab.ready(f"{server.url}/projects/cartpole")
    assert page.input_value("#axis") == "step"
    with page.expect_navigation():
        page.select_option("#dash-open", saved_id)
    page.wait_for_selector("body[data-ready='1']", timeout=READY_MS)
    assert page.input_value("#axis") == "wall" and page.input_value("#dash-name") == HOSTILE

    # A teammate saves first: this page's save is refused with their name, and nothing is overwritten.
    theirs = httpx.put(_api(server, f"/dashboards/{saved_id}"), json={"name": "theirs", "layout": {}, "version": 1})
    assert theirs.status_code == 200
    tab.expected.add(409)
    page.check("#log")
    page.click("#dash-save")
    page.wait_for_selector("#dash-status.err")
    assert "was saved by someone" in page.text_content("#dash-status")
    assert httpx.get(_api(server, f"/dashboards/{saved_id}")).json()["name"] == "theirs"


def test_a_share_link_is_read_only_and_shows_only_its_runs_and_keys(
    tab: Watched, server: BackgroundServer, filled: Filled, browser: Any
) -> None:
    ws = httpx.post(_api(server, "/dashboards"), json={"kind": "workspace", "name": HOSTILE,
                                                       "layout": {"runs": [filled.alpha], "key_filter": "loss"}}).json()
    made = httpx.post(_api(server, f"/dashboards/{ws['id']}/shares"), json={}).json()
    page = tab.page
    tab.ready(server.url + made["url"])
    assert page.evaluate("document.body.dataset.shared") == "1"
    assert page.locator("#dash, #dash-save, #dash-save-as, #table-link").count() == 0  # no save controls
    assert page.text_content("#title") == HOSTILE
    assert [r.get_attribute("data-run") for r in page.locator("#runs tbody tr").all()] == [filled.alpha]
    assert page.locator("#runs tbody a").count() == 0  # run pages need a login: names are text
    assert [c.get_attribute("data-key") for c in page.locator("#panels .chart").all()] == ["train/loss"]
    page.wait_for_selector(".chart[data-key='train/loss'][data-loaded='1']", timeout=READY_MS)
    assert page.evaluate("document.querySelector('.chart[data-key=\"train/loss\"]').data.length") == 1
    assert not [u for u in tab.requests if "/api/projects/" in u or "/api/runs" in u]  # only /api/shared/...
    # Revoked: the link is a 404 page.
    link = httpx.get(_api(server, f"/dashboards/{ws['id']}/shares")).json()["shares"][0]
    httpx.delete(_api(server, f"/dashboards/{ws['id']}/shares/{link['id']}"))
    tab.expected.add(404)
    assert page.goto(server.url + made["url"]).status == 404


def test_links_are_revoked_and_a_workspace_deleted_from_the_page(tab: Watched, server: BackgroundServer) -> None:
    ws = httpx.post(_api(server, "/dashboards"), json={"kind": "workspace", "name": "to revoke"}).json()
    page = tab.page
    tab.ready(f"{server.url}/projects/cartpole?d={ws['id']}")
    page.click("#dash-share")
    page.wait_for_selector("#dash-link:not([hidden])")
    link = page.input_value("#dash-link")
    assert httpx.get(link).status_code == 200
    page.click("#dash-links")
    page.wait_for_selector("#dash-shares .share-item")
    assert page.locator("#dash-shares .share-item").count() == 1
    page.click("#dash-shares .revoke")
    assert httpx.get(link).status_code == 200  # one click only arms the button
    page.click("#dash-shares .revoke")
    page.wait_for_selector("#dash-status:has-text('revoked')")
    assert httpx.get(link).status_code == 404
    # The status and the list are drawn one after the other: wait for the list, do not race it.
    page.wait_for_function("() => document.querySelector('#dash-shares').textContent === 'no working share link'",
                           timeout=READY_MS)
    page.click("#dash-delete")
    page.click("#dash-delete")
    page.wait_for_selector("#dash-status:has-text('deleted')")
    assert httpx.get(_api(server, f"/dashboards/{ws['id']}")).status_code == 404
    page.wait_for_function("() => !location.search.includes('d=') && document.querySelector('#dash-save').disabled",
                           timeout=READY_MS)
    # An old link to the deleted workspace still opens the project, and says why the saved view is gone.
    tab.expected.add(404)
    tab.ready(f"{server.url}/projects/cartpole?d={ws['id']}")
    assert "no dashboard" in page.text_content("#error")
    page.wait_for_selector(".chart[data-loaded='1']", timeout=READY_MS)


def test_new_report_starts_from_the_workspace_with_its_panel_options(tab: Watched, server: BackgroundServer) -> None:
    page = tab.page
    tab.ready(f"{server.url}/projects/robot")
    card = page.locator(".card", has=page.locator(".chart[data-key='episode/return']"))
    card.locator("select.source").select_option("real")
    page.fill("#dash-name", "robot week")
    with page.expect_navigation():
        page.click("#dash-report")
    page.wait_for_selector("body[data-ready='1']", timeout=READY_MS)
    assert "/projects/robot/reports/" in page.url and page.text_content("#r-title") == "robot week"
    panels = [json.loads(p.get_attribute("data-panel")) for p in page.locator(".block.panel").all()]
    assert {"type": "line", "key": "episode/return", "source": "real", "log_y": None} in panels
    real = page.locator(".block.panel", has=page.locator(".chart[data-key='episode/return']"))
    assert real.locator(".chart").get_attribute("data-loaded") == "1"
    ys = page.evaluate("Array.from(document.querySelector(\".chart[data-key='episode/return']\").data[0].y)")
    assert ys == [40.0, 41.0, 42.0, 43.0]  # the real episodes, not the sim ones


def _report(server: BackgroundServer, filled: Filled) -> dict[str, Any]:
    r = httpx.post(_api(server, "/dashboards"), json={
        "kind": "report", "name": HOSTILE, "layout": {"runs": [filled.alpha, filled.beta], "x_axis": "step"},
        "blocks": [{"markdown": MARKDOWN}, {"panel": {"key": "train/loss"}}, {"markdown": "## Reward"},
                   {"panel": {"key": "rollout/ep_rew_mean", "log_y": True}}]})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_a_report_draws_markdown_safely_and_saves_edits(tab: Watched, server: BackgroundServer, filled: Filled) -> None:
    report = _report(server, filled)
    page = tab.page
    tab.ready(server.url + report["url"])
    assert page.text_content("#r-title") == HOSTILE
    md = page.locator(".md").first
    assert md.locator("h1").text_content() == "Findings <script>window.pwned=1</script>"
    assert md.locator("strong").text_content() == "learns"
    assert [a.get_attribute("href") for a in md.locator("a").all()] == ["https://example.org/p"]
    assert "[this](javascript:window.pwned=1)" in md.text_content()
    assert md.locator("li code").text_content() == "<b>code</b>" and md.locator("script, img, b").count() == 0
    for key, traces in (("train/loss", 2), ("rollout/ep_rew_mean", 2)):
        chart = page.locator(f".chart[data-key='{key}']")
        assert chart.get_attribute("data-loaded") == "1" and chart.get_attribute("data-traces") == str(traces)
    # Edit: change the text, drop a panel, save.
    page.click("#r-edit")
    page.fill("#r-name", "Week 14 <b>")
    page.fill("textarea.md-edit >> nth=1", "## Reward, *smoothed*")
    page.select_option(".panel-log >> nth=0", "log")
    page.locator(".block").nth(3).locator("button", has_text="remove").click()  # redraws the editor
    assert page.input_value("#r-name") == "Week 14 <b>"
    page.click("#r-save")
    page.wait_for_selector("#r-status:has-text('version 2')")
    assert page.locator(".md").nth(1).inner_html() == "<h2>Reward, <em>smoothed</em></h2>"
    assert page.locator(".chart").count() == 1
    stored = httpx.get(_api(server, f"/dashboards/{report['id']}")).json()
    assert stored["version"] == 2 and [next(iter(b)) for b in stored["blocks"]] == ["markdown", "panel", "markdown"]
    assert stored["name"] == "Week 14 <b>" and page.text_content("#r-title") == "Week 14 <b>"
    assert stored["blocks"][1]["panel"] == {"type": "line", "key": "train/loss", "source": None, "log_y": True}
    page.wait_for_function("() => { const c = document.querySelector('.chart');"
                           " return c && c.layout && c.layout.yaxis.type === 'log'; }", timeout=READY_MS)


def test_a_grouped_report_draws_one_band_per_group_as_the_workspace_does(
    tab: Watched, server: BackgroundServer, filled: Filled
) -> None:
    r = httpx.post(_api(server, "/dashboards"), json={
        "kind": "report", "name": "grouped", "layout": {"runs": [filled.alpha, filled.beta], "group_by": "algo"},
        "blocks": [{"panel": {"key": "train/loss"}}]}).json()
    tab.ready(server.url + r["url"])
    chart = ".chart[data-key='train/loss']"
    assert tab.page.get_attribute(chart, "data-traces") == "3"  # max, min (the band) and the mean
    names = tab.page.evaluate("(sel) => document.querySelector(sel).data.map((t) => t.name)", chart)
    assert names[-1] == "algo=ppo (2 runs)"
    mean = tab.page.evaluate("(sel) => Array.from(document.querySelector(sel).data[2].y)", chart)
    assert mean[0] == pytest.approx(1.5) and mean[9] == pytest.approx(0.15)  # (1/(s+1) + 2/(s+1)) / 2


def test_the_exported_report_opens_offline_with_its_charts_drawn(
    browser: Any, server: BackgroundServer, filled: Filled, tmp_path: Path
) -> None:
    report = _report(server, filled)
    exported = httpx.get(_api(server, f"/dashboards/{report['id']}/export.html"))
    assert exported.status_code == 200
    path = tmp_path / "report.html"
    path.write_bytes(exported.content)
    server.stop()  # nothing to reach: the file has everything
    context = browser.new_context(offline=True)
    try:
        w = watch(context.new_page())
        context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                      else (w.problems.append(f"network: {route.request.url}"), route.abort()))
        w.ready(path.as_uri())
        page = w.page
        assert page.text_content("#r-title") == HOSTILE
        assert page.locator(".md h1").first.text_content() == "Findings <script>window.pwned=1</script>"
        for key in ("train/loss", "rollout/ep_rew_mean"):
            chart = page.locator(f".chart[data-key='{key}']")
            assert chart.get_attribute("data-loaded") == "1" and chart.get_attribute("data-traces") == "2"
            assert chart.locator(".scatterlayer .trace path.js-line").count() == 2  # the lines are drawn
        assert page.locator("#r-edit, #r-share").count() == 0  # a file cannot save
        assert w.requests == [path.as_uri()] and w.problems == []
    finally:
        context.close()


# ---- the proof: log in, see only your team's projects, save, open as a teammate, share logged out ----
@pytest.fixture(scope="module")
def team_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    pytest.importorskip("argon2", reason="accounts need argon2-cffi: pip install 'rltrack[server]'")
    from rltrack.server.accounts import open_accounts

    filled = fill_store(tmp_path_factory.mktemp("dash-team") / "store")
    accounts = open_accounts(filled.root)
    for user, team, role in (("alice", "lab", "member"), ("bob", "lab", "member"), ("eve", "rivals", "member")):
        accounts.create_user(user, f"{user}-password-14")
        if team not in accounts.teams():
            accounts.create_team(team)
        accounts.add_member(team, user, role)
    accounts.set_project("cartpole", team="lab", visibility="team")
    accounts.set_project("robot", owner_user="eve")
    with BackgroundServer(ServerSettings(root=filled.root)) as s:
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


def test_log_in_save_open_as_a_teammate_and_share_logged_out(browser: Any, team_server: BackgroundServer) -> None:
    server, contexts = team_server, []
    try:
        alice_ctx, alice = _login(browser, server, "alice")
        contexts.append(alice_ctx)
        cells = alice.page.locator("#projects tbody tr td:first-child a:first-child").all()
        projects = [a.text_content() for a in cells]
        assert projects == ["cartpole"]  # eve's private project is not listed
        alice.ready(f"{server.url}/projects/cartpole")
        alice.page.select_option("#axis", "wall")
        alice.page.fill("#dash-name", "lab view")
        alice.page.click("#dash-save-as")  # a cookie session's write: dashboards.js sends the CSRF token
        alice.page.wait_for_selector("#dash-status:has-text('saved as')")
        saved_id = parse_qs(urlparse(alice.page.url).query)["d"][0]
        alice.page.click("#dash-share")
        alice.page.wait_for_selector("#dash-link:not([hidden])")
        link = alice.page.input_value("#dash-link")
        assert link.startswith(f"{server.url}/share/")

        bob_ctx, bob = _login(browser, server, "bob")
        contexts.append(bob_ctx)
        bob.ready(f"{server.url}/projects/cartpole")
        assert bob.page.locator(f"#dash-open option[value='{saved_id}']").text_content() == "lab view · alice"
        with bob.page.expect_navigation():
            bob.page.select_option("#dash-open", saved_id)
        bob.page.wait_for_selector("body[data-ready='1']", timeout=READY_MS)
        assert bob.page.input_value("#axis") == "wall"
        bob.page.check("#log")
        bob.page.click("#dash-save")
        bob.page.wait_for_selector("#dash-status:has-text('version 2')")

        eve_ctx, eve = _login(browser, server, "eve")
        contexts.append(eve_ctx)
        assert eve.page.request.get(f"{server.url}/api/projects/cartpole/dashboards").status == 404

        anon_ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        contexts.append(anon_ctx)
        anon = watch(anon_ctx.new_page())
        anon.ready(link)
        assert anon.page.locator("#dash").count() == 0 and anon.page.text_content("#title") == "lab view"
        assert anon.page.is_checked("#log")  # bob's save is what the link shows
        anon.page.wait_for_selector(".chart[data-loaded='1']", timeout=READY_MS)
        assert anon.page.request.get(f"{server.url}/api/projects/cartpole/dashboards").status == 401
        for w in (alice, bob, eve, anon):
            assert w.problems == []
    finally:
        for c in contexts:
            c.close()
