"""docker-compose.yml (PostgreSQL + MinIO + rltrack) and its Dockerfile describe a server that starts.

Docker is not available to the tests, so this checks what can go wrong without it: the rltrack
service's command and environment parse as ``rltrack server`` options (a renamed or mistyped flag
fails here, not on a user's machine), every variable it sets is one rltrack or boto3 reads, the
URLs point at services of the file, the bucket is the one the file creates, and the image installs
extras and folders that exist.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import pytest
import tomllib
from click.testing import CliRunner

from rltrack.cli import main
from rltrack.cli.server import server

yaml = pytest.importorskip("yaml")

REPO = Path(__file__).resolve().parents[1]
#: Variables boto3 reads itself (credentials and region); rltrack reads the others through its options.
AWS_STANDARD = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION"}


def interpolate(text: str) -> str:
    """Replace compose's ``${VAR:?message}`` / ``${VAR}`` with a stand-in value, as ``docker compose`` would."""
    return re.sub(r"\$\{(\w+)(:?[?-][^}]*)?\}", lambda m: f"test-{m.group(1).lower()}", text)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return loaded


def test_the_stack_is_postgres_an_s3_server_and_rltrack(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["minio"]["image"].startswith("minio/minio")
    rltrack = services["rltrack"]
    assert rltrack["build"] == "."
    assert {"postgres", "createbucket"} <= set(rltrack["depends_on"])


def test_the_rltrack_command_and_environment_are_valid_server_options(
    compose: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = compose["services"]["rltrack"]
    env = {k: interpolate(str(v)) for k, v in service["environment"].items()}
    envvars = {p.envvar for p in server.params if isinstance(p, click.Option) and p.envvar}
    for name in env:
        assert name in envvars or name in AWS_STANDARD, f"{name} is read by neither rltrack server nor boto3"
    command = [interpolate(str(a)) for a in service["command"]]
    assert command[0] == "server"
    secrets = {f"/run/secrets/{name}" for name in service.get("secrets", [])}
    args = []
    for arg in command[1:]:
        if arg.startswith("/run/secrets/"):
            assert arg in secrets, f"{arg} is not a secret of the rltrack service"
            stand_in = tmp_path / Path(arg).name
            stand_in.write_text("token\n")
            arg = str(stand_in)
        args.append(arg)
    for name in list(envvars | AWS_STANDARD):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    ctx = server.make_context("server", args)  # unknown flags and bad values raise here
    params = ctx.params
    assert params["workers"] > 1
    assert params["host"] == "0.0.0.0"
    db = urlsplit(params["db_url"])
    assert db.scheme == "postgresql" and db.hostname in compose["services"]
    assert db.username == compose["services"]["postgres"]["environment"]["POSTGRES_USER"]
    assert db.path.lstrip("/") == compose["services"]["postgres"]["environment"]["POSTGRES_DB"]
    blobs = urlsplit(params["blobs_url"])
    assert blobs.scheme == "s3"
    creating = " ".join(compose["services"]["createbucket"]["entrypoint"])
    assert f"local/{blobs.hostname}" in creating  # the bucket --blobs names is the one created
    endpoint = urlsplit(params["s3_endpoint"])
    assert endpoint.hostname in compose["services"]
    published = compose["services"]["rltrack"]["ports"]
    assert all(p.startswith("127.0.0.1:") for p in published)  # only the TLS proxy on the host reaches it
    assert str(params["port"]) == published[0].rsplit(":", 1)[1]


def test_every_option_the_compose_file_uses_is_in_the_help(compose: dict[str, Any]) -> None:
    shown = CliRunner().invoke(main, ["server", "--help"]).output
    for arg in compose["services"]["rltrack"]["command"]:
        if str(arg).startswith("--"):
            assert str(arg) in shown


def test_the_image_installs_what_exists() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    (wanted,) = re.findall(r'pip install "\.\[([\w,]+)\]"', dockerfile)
    assert set(wanted.split(",")) <= set(extras)
    for source in re.findall(r"^COPY (\S+) ", dockerfile, flags=re.M):
        assert (REPO / source).exists(), source
    assert re.search(r'^ENTRYPOINT \["rltrack"\]', dockerfile, flags=re.M)
