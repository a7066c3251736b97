from __future__ import annotations

import pathlib
from collections.abc import Callable

import pytest

import rltrack
from rltrack.artifacts import ArtifactError, ArtifactVersion

from .conftest import write_bytes


def _log(run: rltrack.Run, tmp_path: pathlib.Path, seed: int, aliases: tuple[str, ...] = ()) -> ArtifactVersion:
    return run.log_artifact(write_bytes(tmp_path / f"p{seed}.zip", 64, seed=seed), name="policy", aliases=aliases)


def test_latest_follows_the_newest_version(tmp_path: pathlib.Path, make_run: Callable[..., rltrack.Run]) -> None:
    run = make_run()
    api = rltrack.Api(run._store.db.root)
    v0 = _log(run, tmp_path, 0)
    assert api.artifact("policy:latest") == v0
    v1 = _log(run, tmp_path, 1)
    assert api.artifact("policy:latest") == api.artifact("policy") == v1
    assert (v0.aliases, v1.aliases) == ([], ["latest"])


def test_best_moves_from_one_version_to_another(tmp_path: pathlib.Path, make_run: Callable[..., rltrack.Run]) -> None:
    run = make_run()
    api = rltrack.Api(run._store.db.root)
    v0 = _log(run, tmp_path, 0, ("best",))
    v1 = _log(run, tmp_path, 1)
    assert api.artifact("policy:best") == v0

    v1.add_aliases("best")

    assert api.artifact("policy:best") == v1
    assert v0.aliases == []
    assert v1.aliases == ["best", "latest"]


def test_logging_with_an_alias_moves_it(tmp_path: pathlib.Path, make_run: Callable[..., rltrack.Run]) -> None:
    run = make_run()
    v0 = _log(run, tmp_path, 0, ("best", "stable"))
    v1 = _log(run, tmp_path, 1, ("best",))
    assert v0.aliases == ["stable"]
    assert v1.aliases == ["best", "latest"]


def test_set_aliases_replaces_a_versions_aliases(tmp_path: pathlib.Path, make_run: Callable[..., rltrack.Run]) -> None:
    run = make_run()
    v0 = _log(run, tmp_path, 0, ("a", "b"))
    v1 = _log(run, tmp_path, 1, ("c",))
    v0.set_aliases(["c", "d"])
    assert v0.aliases == ["c", "d"]
    assert v1.aliases == ["latest"]
    v0.set_aliases([])
    assert v0.aliases == []


def test_version_numbers_resolve(tmp_path: pathlib.Path, make_run: Callable[..., rltrack.Run]) -> None:
    run = make_run()
    versions = [_log(run, tmp_path, seed) for seed in range(3)]
    api = rltrack.Api(run._store.db.root)
    assert [api.artifact(f"policy:v{i}") for i in range(3)] == versions


@pytest.mark.parametrize(
    ("alias", "phrase"),
    [("latest", "always points at the newest"), ("v3", "looks like a version"), ("a/b", "not allowed"),
     ("", "not allowed"), ("a b", "not allowed")],
)
def test_bad_aliases_are_refused_and_nothing_changes(
    tmp_path: pathlib.Path, make_run: Callable[..., rltrack.Run], alias: str, phrase: str
) -> None:
    run = make_run()
    v0 = _log(run, tmp_path, 0, ("best",))
    with pytest.raises(ArtifactError, match=phrase):
        v0.set_aliases([alias])
    with pytest.raises(ArtifactError, match=phrase):
        _log(run, tmp_path, 1, (alias,))
    assert v0.aliases == ["best", "latest"]
    assert [v.version for v in rltrack.Api(run._store.db.root).artifacts()] == ["v0"]
