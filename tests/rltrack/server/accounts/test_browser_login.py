"""A team's day in a real browser (Debian's chromium through Playwright) against a real server with accounts.

Ada logs in and sees only her team's project, saves a workspace and makes a share link; Max, her
teammate, opens the saved workspace; a logged-out browser opens the share link (read-only) and is sent
to the login page everywhere else. No page shows a console error (the login page runs under the CSP).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the server needs the ui extra: pip install 'rltrack[server]'")
pytest.importorskip("playwright", reason="the browser tests need playwright")

import rltrack
from rltrack.server import ServerSettings
from rltrack.server.accounts import open_accounts
from rltrack.server.serve import BackgroundServer

PASSWORD = "correct horse battery"
TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    """Two projects: 'lab-proj' of team lab (ada, max), 'sam-proj' of sam alone."""
    root = tmp_path_factory.mktemp("browser-login") / "store"
    for project, seed in (("lab-proj", 0), ("lab-proj", 1), ("sam-proj", 2)):
        run = rltrack.init(project=project, name=f"{project}-{seed}", dir=root, config={"seed": seed},
                           system_metrics=False)
        for step in range(30):
            run.log({"train/loss": 1.0 / (step + 1 + seed)}, step=step)
        run.finish()
    accounts = open_accounts(root)
    for user in ("ada", "max", "sam"):
        accounts.create_user(user, PASSWORD)
    accounts.create_team("lab")
    accounts.add_member("lab", "ada", "member")
    accounts.add_member("lab", "max", "member")
    accounts.set_project("lab-proj", team="lab")
    accounts.set_project("sam-proj", owner_user="sam")
    running = BackgroundServer(ServerSettings(root=root, ingest=True))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[[], Any]]:
    """Return a factory of pages, each in its own browser context (its own cookies); none may log an error."""
    contexts: list[Any] = []
    problems: list[str] = []

    def make() -> Any:
        context = browser.new_context(viewport={"width": 1300, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("console", lambda m: problems.append(f"console: {m.text}")
                if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
        return page

    yield make
    for context in contexts:
        context.close()
    assert problems == []


def log_in(page: Any, server: BackgroundServer, user: str, start: str = "/") -> None:
    page.goto(server.url + start)
    page.wait_for_url("**/login?next=*", timeout=TIMEOUT_MS)  # sent to the login page first
    page.fill("#user", user)
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_url(server.url + start, timeout=TIMEOUT_MS)  # and back where they were going


def projects_shown(page: Any) -> list[str]:
    page.wait_for_selector("body[data-ready='1']", timeout=TIMEOUT_MS)
    return [str(t) for t in page.locator("#projects tbody tr td:first-child a:first-child").all_inner_texts()]


def test_log_in_see_your_team_save_share_and_open_as_teammate_and_logged_out(
    server: BackgroundServer, new_page: Callable[[], Any]
) -> None:
    ada = new_page()
    page_wrong = new_page()
    log_in(page_wrong, server, "ada")
    page_wrong.context.clear_cookies()
    page_wrong.goto(server.url + "/login")
    page_wrong.fill("#user", "ada")
    page_wrong.fill("#password", "not her password")
    page_wrong.click("#login")
    page_wrong.wait_for_selector("#login-error:not([hidden])", timeout=TIMEOUT_MS)
    assert page_wrong.inner_text("#login-error") == "wrong user name or password"

    log_in(ada, server, "ada")
    assert projects_shown(ada) == ["lab-proj"]  # not sam's project
    cookies = {c["name"]: c for c in ada.context.cookies()}
    assert cookies["rltrack_session"]["httpOnly"] and cookies["rltrack_session"]["sameSite"] == "Lax"
    assert ada.evaluate("document.cookie").count("rltrack_session") == 0  # no script can read the session

    ada.goto(server.url + "/projects/lab-proj")
    ada.wait_for_selector("#dash-save-as", timeout=TIMEOUT_MS)
    ada.fill("#dash-name", "team view")
    ada.click("#dash-save-as")  # a cookie-authenticated POST: carries the CSRF token
    ada.wait_for_function("() => document.querySelector('#dash-status').textContent.includes('saved as a new')",
                          timeout=TIMEOUT_MS)
    ada.click("#dash-share")
    ada.wait_for_selector("#dash-link:not([hidden])", timeout=TIMEOUT_MS)
    share_url = ada.input_value("#dash-link")
    assert share_url.startswith(server.url + "/share/")

    max_page = new_page()
    log_in(max_page, server, "max", start="/projects/lab-proj")
    max_page.wait_for_selector("#dash-open option:has-text('team view')", state="attached", timeout=TIMEOUT_MS)
    max_page.select_option("#dash-open", label=max_page.locator("#dash-open option:has-text('team view')").inner_text())
    max_page.wait_for_url("**/projects/lab-proj?d=*", timeout=TIMEOUT_MS)
    max_page.wait_for_selector("body[data-ready='1']", timeout=TIMEOUT_MS)

    sam = new_page()
    log_in(sam, server, "sam")
    assert projects_shown(sam) == ["sam-proj"]

    stranger = new_page()
    stranger.goto(share_url)
    stranger.wait_for_selector("body[data-shared='1']", timeout=TIMEOUT_MS)
    stranger.wait_for_selector("body[data-ready='1']", timeout=TIMEOUT_MS)
    assert stranger.locator("#dash-save-as").count() == 0  # read-only: nothing to save or share
    assert "lab-proj" in stranger.inner_text("header")
    stranger.goto(server.url + "/projects/lab-proj")
    stranger.wait_for_url("**/login?next=%2Fprojects%2Flab-proj", timeout=TIMEOUT_MS)
    answer = stranger.request.get(server.url + "/api/projects")
    assert answer.status == 401


def test_logging_out_ends_the_session(server: BackgroundServer, new_page: Callable[[], Any], tmp_path: Path) -> None:
    page = new_page()
    log_in(page, server, "max")
    page.goto(server.url + "/login")
    page.wait_for_selector("#logged-in:not([hidden])", timeout=TIMEOUT_MS)
    assert page.inner_text("#who") == "max" and "lab (member)" in page.inner_text("#teams")
    page.click("#logout")
    page.wait_for_selector("#login-form:not([hidden])", timeout=TIMEOUT_MS)
    page.goto(server.url + "/")
    page.wait_for_url("**/login?next=%2F", timeout=TIMEOUT_MS)


def test_after_login_the_page_never_leaves_the_server(server: BackgroundServer, new_page: Callable[[], Any]) -> None:
    page = new_page()
    for hostile in ("//evil.example/x", "/%09/evil.example/x", "https://evil.example/x", "/\\evil.example/x"):
        page.context.clear_cookies()
        page.goto(f"{server.url}/login?next={hostile}")
        page.fill("#user", "sam")
        page.fill("#password", PASSWORD)
        page.click("#login")
        page.wait_for_selector("body[data-ready='1']", timeout=TIMEOUT_MS)  # a page of this server
        assert page.url.startswith(server.url + "/"), (hostile, page.url)


def test_every_page_names_who_is_logged_in_and_logs_out(server: BackgroundServer, new_page: Callable[[], Any]) -> None:
    page = new_page()
    log_in(page, server, "ada")
    page.wait_for_selector("header.top .account .who", timeout=TIMEOUT_MS)
    assert page.inner_text("header.top .account .who") == "ada"
    page.goto(server.url + "/projects/lab-proj")
    page.wait_for_selector("header.top .account .who", timeout=TIMEOUT_MS)
    page.click("header.top .account button")
    page.wait_for_url("**/login", timeout=TIMEOUT_MS)
    page.goto(server.url + "/")
    page.wait_for_url("**/login?next=%2F", timeout=TIMEOUT_MS)  # the session ended on the server
