"""Fuzz every route of a real ``rltrack server`` from its OpenAPI document (schemathesis), ingest bodies included.

Two servers: one without a token file (a loopback client may write, as ``rltrack server`` on a
laptop) and one with a token file (every call carries the token). Each generated request, valid
or not, must get an answer the document promises: no 5xx, a documented status code, the
documented content type and a body matching the documented schema. The default run keeps a few
examples per route (about a minute on 2 cores); ``-m slow`` runs many more.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from rltrack.remote import wire
from rltrack.server import ServerSettings, create_app
from rltrack.server.security import AccessControl
from rltrack.server.serve import BackgroundServer
from rltrack.store.chunks import pack
from rltrack.store.writer import NewRun, WriterInfo

TOKEN = "fuzz-token"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
#: Examples per route and generation mode: small in the default run, larger under -m slow.
QUICK_EXAMPLES = 6
SLOW_EXAMPLES = 100


def seed(url: str, headers: dict[str, str]) -> None:
    """Store one run with points and a media file, so that reads of run ``r1`` reach real data."""
    new = NewRun(id="r1", project="p", name="r1", group=None, job_type=None, notes=None, tags=("t",),
                 config={"lr": 0.1}, source="sim")
    who = WriterInfo(host=os.uname().nodename, pid=os.getpid(), pid_started_ns=0, now_ns=time.time_ns())
    steps = np.arange(50, dtype=np.int64)
    chunk = pack("sim", "loss", steps, steps * 1000, np.linspace(1, 0, 50))
    media = {"source": "sim", "key": "frame", "step": 1, "t_ns": 1, "kind": "image", "path": "media/f.png"}
    batches = [
        {"id": "s:1", "op": "create_run", "run": wire.new_run_to(new), "who": wire.who_to(who)},
        {"id": "s:2", "op": "write", "run_id": "r1", "source": "sim", "batches": [wire.batch_to(chunk)],
         "media": [media], "summary": {"loss": 0.0}},
    ]
    httpx.post(f"{url}/api/ingest/batches", json={"batches": batches}, headers=headers).raise_for_status()
    httpx.put(f"{url}/api/ingest/files/r1/media/f.png", content=b"\x89PNG\r\n\x1a\n", headers=headers)


@pytest.fixture(scope="module", params=["no-token", "token"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    tokens = frozenset({TOKEN}) if request.param == "token" else frozenset()
    headers = {"authorization": f"Bearer {TOKEN}"} if tokens else {}
    access = AccessControl(tokens=tokens, public_read=False, max_body_bytes=1024 * 1024)
    root = tmp_path_factory.mktemp("fuzz") / "srv"
    with BackgroundServer(ServerSettings(root=root, ingest=True, access=access)) as server:
        seed(server.url, headers)
        yield server.url, headers


def _openapi() -> dict[str, Any]:
    # The document is the same for every store, so it is read once at collection from a throwaway one
    # (schemathesis' fixture-based loader does not run under this pytest).
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(ServerSettings(root=Path(folder) / "srv", ingest=True))
        try:
            return app.openapi()
        finally:
            app.state.reader.db.close()


schema = schemathesis.openapi.from_dict(_openapi())


def _call(case: Any, served: tuple[str, Any]) -> None:
    url, headers = served
    case.call_and_validate(base_url=url, headers=headers, checks=CHECKS)


@schema.parametrize()
@settings(max_examples=QUICK_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_route_answers_as_documented(case: Any, served: tuple[str, Any]) -> None:
    _call(case, served)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=SLOW_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_route_answers_as_documented_long(case: Any, served: tuple[str, Any]) -> None:
    _call(case, served)


def test_the_fuzz_reaches_the_ingest_bodies() -> None:
    raw = schema.raw_schema
    body = raw["paths"]["/api/ingest/batches"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["batches"]
    operations = {f"{op.method.upper()} {op.path}" for op in (r.ok() for r in schema.get_all_operations())}
    ingest = {"POST /api/ingest/batches", "POST /api/ingest/attach", "PUT /api/ingest/files/{run_id}/{path}"}
    assert ingest <= operations
