"""Issue 19 audit: the run file routes documented their 200 as JSON but serve the file's bytes.

schemathesis' content-type check failed on every real file (the fuzz rarely names a stored one). The
routes now document 200/206 as any media type (the type follows the file name) and 416 as JSON.
Checked with schemathesis' own checks against a real server serving real files.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from rltrack.remote import wire
from rltrack.server import ServerSettings, create_app
from rltrack.server.routes_media import FILE_RESPONSES
from rltrack.server.serve import BackgroundServer
from rltrack.store.writer import NewRun, WriterInfo

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FILES = {"media/f.png": (b"\x89PNG\r\n\x1a\n", "image/png"), "media/notes.txt": (b"hello", "text/plain"),
         "media/page.html": (b"<script>x</script>", "application/octet-stream"),
         "media/blob.weird": (b"\x00\x01", "application/octet-stream")}


def _document() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(ServerSettings(root=Path(folder) / "srv", ingest=True))
        try:
            return app.openapi()
        finally:
            app.state.reader.db.close()


DOCUMENT = _document()
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with BackgroundServer(ServerSettings(root=tmp_path_factory.mktemp("files19b") / "srv", ingest=True)) as server:
        new = NewRun(id="r1", project="p", name="r1", group=None, job_type=None, notes=None, tags=(), config={},
                     source="sim")
        who = WriterInfo(host=os.uname().nodename, pid=os.getpid(), pid_started_ns=0, now_ns=time.time_ns())
        create = {"id": "f:1", "op": "create_run", "run": wire.new_run_to(new), "who": wire.who_to(who)}
        httpx.post(f"{server.url}/api/ingest/batches", json={"batches": [create]}).raise_for_status()
        for path, (content, _) in FILES.items():
            httpx.put(f"{server.url}/api/ingest/files/r1/{path}", content=content).raise_for_status()
        yield server.url


@pytest.mark.parametrize("path", sorted(FILES))
def test_a_served_file_answers_as_documented(url: str, path: str) -> None:
    operation = SCHEMA["/api/runs/{run_id}/files/{path}"]["GET"]
    for headers, status in (({}, 200), ({"range": "bytes=0-0"}, 206), ({"range": "bytes=99-"}, 416)):
        case = operation.Case(path_parameters={"run_id": "r1", "path": path}, headers=headers)
        answer = case.call_and_validate(base_url=url, checks=CHECKS)
        assert answer.status_code == status, answer.text
        if status != 416:
            content, media_type = FILES[path]
            assert answer.headers["content-type"][0].split(";")[0] == media_type
            assert answer.content == (content if status == 200 else content[:1])


def test_both_file_routes_document_bytes_not_json() -> None:
    for route in ("/api/runs/{run_id}/files/{path}", "/api/shared/{token}/runs/{run_id}/files/{path}"):
        responses = DOCUMENT["paths"][route]["get"]["responses"]
        assert responses["200"] == FILE_RESPONSES[200] and responses["206"] == FILE_RESPONSES[206]
        assert responses["200"]["content"] == {"*/*": {}}
        assert responses["416"]["content"] == {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
