from __future__ import annotations

import json
import pathlib
from collections.abc import Callable

import click
import pytest
from click.testing import CliRunner

import rltrack
from rltrack.artifacts import Artifact, LocalBlobStore
from rltrack.cli.artifacts import register

from .conftest import write_bytes


@pytest.fixture
def cli() -> click.Group:
    @click.group()
    def group() -> None:
        pass

    register(group)
    return group


@pytest.fixture
def logged(tmp_path: pathlib.Path, make_run: Callable[..., rltrack.Run]) -> rltrack.Run:
    run = make_run()
    art = Artifact("policy", metadata={"step": 1000})
    art.add_file(write_bytes(tmp_path / "src" / "ppo.zip", 3000))
    run.log_artifact(art)
    art = Artifact("policy", metadata={"step": 2000})
    art.add_file(write_bytes(tmp_path / "src" / "ppo.zip", 3000, seed=1))
    run.log_artifact(art, aliases=["best"])
    run.log_artifact(write_bytes(tmp_path / "src" / "data.csv", 10), name="rollouts", type="dataset")
    return run


def test_ls_lists_every_version(cli: click.Group, store_dir: pathlib.Path, logged: rltrack.Run) -> None:
    result = CliRunner().invoke(cli, ["artifacts", "ls", "--dir", str(store_dir)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:4] == ["NAME", "VERSION", "TYPE", "SIZE"]
    rows = [(line.split()[0], line.split()[1], line.split()[2]) for line in lines[1:]]
    assert rows == [("policy", "v0", "model"), ("policy", "v1", "model"), ("rollouts", "v0", "dataset")]
    assert lines[2].endswith("best,latest")


def test_ls_filters_by_type_as_json(cli: click.Group, store_dir: pathlib.Path, logged: rltrack.Run) -> None:
    result = CliRunner().invoke(cli, ["artifacts", "ls", "--dir", str(store_dir), "--type", "dataset", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [(d["name"], d["version"], d["logged_by"]) for d in data] == [("rollouts", "v0", logged.id)]


def test_show_prints_files_aliases_metadata_and_lineage(
    cli: click.Group, store_dir: pathlib.Path, logged: rltrack.Run, make_run: Callable[..., rltrack.Run]
) -> None:
    user = make_run()
    user.use_artifact("policy:best")
    result = CliRunner().invoke(cli, ["artifacts", "show", "policy:best", "--dir", str(store_dir)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith("policy:v1  (model, 2.9 KiB, 1 file)")
    assert "aliases:   best, latest" in result.output
    assert f"logged by: {logged.id}" in result.output
    assert f"used by:   {user.id}" in result.output
    assert 'metadata:  {"step": 2000}' in result.output
    assert "ppo.zip" in result.output


def test_show_json_round_trips(cli: click.Group, store_dir: pathlib.Path, logged: rltrack.Run) -> None:
    result = CliRunner().invoke(cli, ["artifacts", "show", "policy:v0", "--json", "--dir", str(store_dir)])
    data = json.loads(result.output)
    assert (data["version"], data["metadata"], data["aliases"]) == ("v0", {"step": 1000}, [])
    assert [(f["path"], f["size"]) for f in data["files"]] == [("ppo.zip", 3000)]


def test_get_copies_the_files(
    cli: click.Group, tmp_path: pathlib.Path, store_dir: pathlib.Path, logged: rltrack.Run
) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["artifacts", "get", "policy:v0", "--to", str(out), "--dir", str(store_dir)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(out)
    assert (out / "ppo.zip").read_bytes() == write_bytes(tmp_path / "expected", 3000).read_bytes()


def test_get_refuses_a_corrupted_blob(
    cli: click.Group, tmp_path: pathlib.Path, store_dir: pathlib.Path, logged: rltrack.Run
) -> None:
    version = rltrack.Api(store_dir).artifact("policy:v0")
    blob = LocalBlobStore(store_dir / "artifacts").path(version.files[0].digest)
    blob.chmod(0o644)
    blob.write_bytes(b"x" * 3000)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["artifacts", "get", "policy:v0", "--to", str(out), "--dir", str(store_dir)])
    assert result.exit_code == 1
    assert "is corrupted" in result.output
    assert "'policy:v0'" in result.output
    assert not (out / "ppo.zip").exists()


@pytest.mark.parametrize(
    ("args", "phrase"),
    [(["show", "policy:v9"], "no version 'v9'"), (["get", "nothing"], "no artifact named 'nothing'"),
     (["show", "../x"], "is not allowed"), (["ls", "--type", "a/b"], "is not allowed")],
)
def test_bad_refs_are_clean_errors(
    cli: click.Group, store_dir: pathlib.Path, logged: rltrack.Run, args: list[str], phrase: str
) -> None:
    result = CliRunner().invoke(cli, ["artifacts", *args, "--dir", str(store_dir)])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ")
    assert phrase in result.output


def test_a_folder_without_a_store_is_a_clean_error(cli: click.Group, tmp_path: pathlib.Path) -> None:
    result = CliRunner().invoke(cli, ["artifacts", "ls", "--dir", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "no rltrack store" in result.output
