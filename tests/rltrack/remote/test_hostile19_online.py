"""Issue 19 audit, finding 3 and faults, from the user's side of an online run.

* An online run whose one batch the server answered 500 for kept every other value (the batch became
  a dead letter, as it should), but ``finish()`` printed "finished: 2,001 values of 2 keys stored in
  http://...", counting the dead letter's value as stored. It now says 2,000, beside the warning that
  names the dead letter; ``rltrack sync --retry`` then stores it.
* A server away (its disk full: 503, or restarting) that is back by the time ``finish()`` is called:
  ``finish()`` gave up at once on the strength of the try before, warned "has not stored run yet" and
  left the whole run in the spool (nothing of it on the server). It now tries again first.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import rltrack
from rltrack.cli import main
from rltrack.errors import RltrackWarning
from rltrack.server import ServerSettings
from rltrack.server.serve import BackgroundServer

POISON = "poison"


class PoisonProxy:
    """A real HTTP proxy that answers 500 to a batch post carrying a value chunk of key ``poison``."""

    def __init__(self, upstream: BackgroundServer) -> None:
        self.away = False  # answer 503 to everything, as a server whose disk is full
        self.answered_away = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if proxy.away:
                    proxy.answered_away += 1
                    self._answer(503, b'{"detail": "the store is out of space"}', "application/json")
                    return
                if self.path == "/api/ingest/batches" and any(
                    c["key"] == POISON for b in json.loads(body)["batches"] for c in b.get("batches") or ()
                ):
                    self._answer(500, b"Internal Server Error")
                    return
                conn = http.client.HTTPConnection(upstream.host, upstream.port, timeout=30)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                    conn.request(self.command, self.path, body=body, headers=headers)
                    answer = conn.getresponse()
                    self._answer(answer.status, answer.read(), answer.getheader("content-type") or "text/plain")
                finally:
                    conn.close()

            def _answer(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _forward

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}"
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[BackgroundServer, PoisonProxy]]:
    with BackgroundServer(ServerSettings(root=tmp_path / "server", ingest=True)) as server:
        proxy = PoisonProxy(server)
        try:
            yield server, proxy
        finally:
            proxy.stop()


def test_the_finish_line_counts_only_what_reached_the_server(
    served: tuple[BackgroundServer, PoisonProxy], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server, proxy = served
    monkeypatch.setenv("RLTRACK_REMOTE_TRIES", "2")
    spool = tmp_path / "spool"
    run = rltrack.init(project="p", name="online", mode="online", url=proxy.url, dir=spool, system_metrics=False)
    for i in range(1000):
        run.log({"loss": float(i)}, step=i)
    run.flush()
    run.log({POISON: 1.0}, step=1000)
    run.flush()
    for i in range(1001, 2001):
        run.log({"loss": float(i)}, step=i)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run.finish()
    end_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert end_line == f"rltrack: run 'online' ({run.id}) finished: 2,000 values of 2 keys stored in {proxy.url}"
    assert any(isinstance(w.message, RltrackWarning) and "1 batch (1 values) did not reach" in str(w.message)
               for w in caught), [str(w.message) for w in caught]
    view = rltrack.Api(tmp_path / "server").run(run.id)
    assert view.series("loss")[0].size == 2000 and view.state == "finished"
    assert view.summary["_rltrack/dead_letters/values"] == 1
    retried = CliRunner().invoke(main, ["sync", "--dir", str(spool), "--retry", "--to", server.url])
    assert retried.exit_code == 0, retried.output
    assert rltrack.Api(tmp_path / "server").run(run.id).series(POISON)[2].tolist() == [1.0]
    assert not [p for p in spool.rglob("*") if p.is_file()]  # acknowledged spool and the retried letter are gone


def test_a_server_back_when_finish_is_called_gets_the_whole_run(
    served: tuple[BackgroundServer, PoisonProxy], tmp_path: Path,
) -> None:
    _, proxy = served
    spool = tmp_path / "spool"
    run = rltrack.init(project="p", name="away", mode="online", url=proxy.url, dir=spool, system_metrics=False,
                       quiet=True)
    proxy.away = True
    for i in range(50_000):
        run.log({"x": float(i)}, step=i)
    run.flush()
    deadline = time.monotonic() + 60
    while proxy.answered_away < 4 and time.monotonic() < deadline:  # backoff grown: the next try is ~2 s off
        time.sleep(0.05)
    assert proxy.answered_away >= 4
    proxy.away = False  # space freed, server restarted: back before finish()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run.finish()
    assert not [str(w.message) for w in caught if "has not stored run" in str(w.message)]
    view = rltrack.Api(tmp_path / "server").run(run.id)
    assert view.series("x")[0].tolist() == list(range(50_000))
    assert view.state == "finished"
    assert not [p for p in spool.rglob("*") if p.is_file()]


def test_a_non_ascii_token_works_and_a_pasted_newline_is_refused_at_init(tmp_path: Path) -> None:
    from rltrack.server.security import AccessControl

    token = "tøken-α-🔑"  # the server reads its --token-file as UTF-8 and compares bytes
    access = AccessControl(tokens=frozenset({token}), public_read=False)
    with BackgroundServer(ServerSettings(root=tmp_path / "server", ingest=True, access=access)) as server:
        run = rltrack.init(project="p", mode="online", url=server.url, api_key=token, dir=tmp_path / "spool",
                           system_metrics=False, quiet=True)  # was: a bare UnicodeEncodeError from httpx
        run.log({"x": 1.0}, step=0)
        run.finish()
        assert rltrack.Api(tmp_path / "server").run(run.id).series("x")[2].tolist() == [1.0]
        for bad in (token + "\n", "ab\rc"):
            with pytest.raises(rltrack.RltrackError, match="api_key holds a control character") as refused:
                rltrack.init(project="p", mode="online", url=server.url, api_key=bad, dir=tmp_path / "spool2",
                             system_metrics=False, quiet=True)
            assert token not in str(refused.value)  # a token is never echoed
