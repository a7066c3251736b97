"""The run page names where a branched run came from (fork, rewind, archive) as links, in Debian's chromium.

The links come from the run's metadata, which a writer controls: a crafted ``fork`` record is drawn as text,
its link stays on the dashboard, and no script runs.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

import rltrack
from rltrack.errors import RltrackWarning
from rltrack.server import ServerSettings
from rltrack.server.serve import BackgroundServer
from rltrack.store.open import open_database
from rltrack.store.writer import NewRun, StoreWriter, WriterInfo

pytestmark = pytest.mark.browser
PAYLOAD = "<img src=x onerror=\"window.__xss=1\">"


def _store(root: Path) -> None:
    parent = rltrack.init(id="parent", project="p", dir=root, system_metrics=False, quiet=True)
    for step in range(10):
        parent.log({"loss": float(step)})
    parent.finish()
    rltrack.init(id="child", dir=root, system_metrics=False, quiet=True, fork_from="parent?_step=4").finish()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RltrackWarning)
        for step in (8, 6):
            rltrack.init(dir=root, system_metrics=False, quiet=True, resume_from=f"parent?_step={step}").finish()
    writer = StoreWriter(open_database(root, None, create=False))
    who = WriterInfo(host=os.uname().nodename, pid=os.getpid(), pid_started_ns=0, now_ns=time.time_ns())
    writer.create_run(NewRun(id="crafted", project="p", name="crafted", group=None, job_type=None, notes=None,
                             tags=(), config={}, source="sim"), who)
    writer.write("crafted", "sim", metadata={"fork": {"run": PAYLOAD, "step": "1<b>"},
                                             "rewinds": [{"archive": "javascript:alert(1)", "step": 2}, 7, None]})
    writer.end("crafted", "sim", state="finished", reason=None, exit_code=0, ended_ns=time.time_ns(), owner=True)


def _lineage(page: Any, url: str) -> tuple[str, list[list[str]]]:
    page.goto(url)
    page.wait_for_selector("#info a.lineage", timeout=15_000)
    links = page.eval_on_selector_all("#info a.lineage", "as => as.map(a => [a.textContent, a.getAttribute('href')])")
    return page.text_content("#info"), links


def test_forks_rewinds_and_archives_link_to_each_other_and_crafted_records_stay_text(
    tmp_path: Path, browser: Any,
) -> None:
    root = tmp_path / "store"
    _store(root)
    errors: list[str] = []
    with BackgroundServer(ServerSettings(root=root)) as server:
        page = browser.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: (errors.append(d.message), d.dismiss()))
        child_text, child = _lineage(page, f"{server.url}/runs/child")
        parent_text, parent = _lineage(page, f"{server.url}/runs/parent")
        archive_text, archive = _lineage(page, f"{server.url}/runs/parent-rewound-2")
        crafted_text, crafted = _lineage(page, f"{server.url}/runs/crafted")
        xss = page.evaluate("() => window.__xss")
        page.close()
    assert child == [["parent", "/runs/parent"]] and "forked from parent at step 4" in child_text
    assert parent == [["parent-rewound-1", "/runs/parent-rewound-1"], ["parent-rewound-2", "/runs/parent-rewound-2"]]
    assert "rewound at step 8 (before: parent-rewound-1), at step 6 (before: parent-rewound-2)" in parent_text
    # The second archive holds the first rewind's record too (it is a copy of the run's metadata).
    assert archive == [["parent", "/runs/parent"], ["parent-rewound-1", "/runs/parent-rewound-1"]]
    assert "history of parent before its rewind at step 6" in archive_text
    assert crafted == [[PAYLOAD, "/runs/%3Cimg%20src%3Dx%20onerror%3D%22window.__xss%3D1%22%3E"],
                       ["javascript:alert(1)", "/runs/javascript%3Aalert(1)"]]
    assert f"forked from {PAYLOAD}" in crafted_text and "1<b>" not in crafted_text
    assert xss is None and errors == []
