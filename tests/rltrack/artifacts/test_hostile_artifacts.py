"""Hostile artifact file names and metadata (issue 19 follow-up, found by probing).

A file name holding a lone surrogate (``os.listdir``'s form of a name that is not UTF-8, what
``add_dir`` finds in such a folder) passed ``add_file`` and then failed ``log_artifact`` with a
bare ``UnicodeEncodeError``; metadata holding one was stored, after which the dashboard's
``/api/runs/<id>/artifacts`` answered 500. Both are now refused at the call with an
``ArtifactError`` naming the value, and an answer carrying one that is already stored shows U+FFFD.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx", reason="the artifacts route is read over HTTP (rltrack[ui])")
pytest.importorskip("fastapi", reason="the dashboard server needs the ui extra")

import rltrack  # noqa: E402
from rltrack.artifacts.errors import ArtifactError  # noqa: E402
from rltrack.server import ServerSettings  # noqa: E402
from rltrack.server.serve import BackgroundServer  # noqa: E402

BAD = "bad\udcffname"  # os.listdir's answer for the file name b"bad\xffname"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "policy.zip"
    path.write_bytes(b"weights")
    return path


def test_a_non_utf8_file_name_is_refused_at_add_file(store_dir: Path, source: Path) -> None:
    artifact = rltrack.Artifact("policy", "model")
    with pytest.raises(ArtifactError, match=r"file name 'bad\\udcffname' inside an artifact is not valid Unicode"):
        artifact.add_file(source, name=BAD)
    assert artifact.files == {}


def test_add_dir_names_the_non_utf8_file(tmp_path: Path) -> None:
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "ok.bin").write_bytes(b"1")
    try:
        with open(bytes(folder) + b"/bad\xffname", "wb") as f:
            f.write(b"2")
    except OSError:
        pytest.skip("this file system refuses non-UTF-8 names")
    with pytest.raises(ArtifactError, match="is not valid Unicode"):
        rltrack.Artifact("ckpt", "model").add_dir(folder)


@pytest.mark.parametrize("metadata", [{"path": BAD}, {BAD: 1}, {"nested": [{"k": BAD}]}],
                         ids=["value", "key", "nested"])
def test_metadata_with_a_lone_surrogate_is_refused(metadata: dict[str, object]) -> None:
    with pytest.raises(ArtifactError, match="is not valid Unicode"):
        rltrack.Artifact("policy", "model", metadata=metadata)


def test_metadata_changed_after_construction_is_checked_at_log_artifact(store_dir: Path, source: Path) -> None:
    run = rltrack.init(project="p", dir=store_dir, system_metrics=False, quiet=True)
    artifact = rltrack.Artifact("policy", "model")
    artifact.add_file(source)
    artifact.metadata["path"] = BAD
    with pytest.raises(ArtifactError, match="is not valid Unicode"):
        run.log_artifact(artifact)
    artifact.metadata["path"] = "fixed"
    assert run.log_artifact(artifact).metadata == {"path": "fixed"}
    run.finish()


def test_stored_metadata_with_a_surrogate_is_served_as_u_fffd(store_dir: Path, source: Path) -> None:
    run = rltrack.init(project="p", dir=store_dir, system_metrics=False, quiet=True)
    artifact = rltrack.Artifact("policy", "model", metadata={"path": "x"})
    artifact.add_file(source)
    run.log_artifact(artifact)
    run.finish()
    # As an older rltrack stored it, before the check: the JSON escape of a lone surrogate.
    with sqlite3.connect(store_dir / "rltrack.db") as conn:
        conn.execute("UPDATE artifact_versions SET metadata = ?", ('{"path": "bad\\udcffname"}',))
    with BackgroundServer(ServerSettings(root=store_dir)) as server:
        answer = httpx.get(f"{server.url}/api/runs/{run.id}/artifacts", timeout=30)
    assert answer.status_code == 200, answer.text
    assert "bad\ufffdname" in answer.text
