"""Issue 19 audit: ``rltrack login URL --key K`` with a non-ASCII key or a control character in it.

``verify_key`` put the key into the ``Authorization`` header as text: httpx raised a bare
UnicodeEncodeError. A non-ASCII key is now sent as UTF-8 bytes (the server compares token bytes,
as ``init(mode="online")`` sends it); a key with a space, a control character or a lone surrogate
is refused with an RltrackError naming the problem, never echoing the key. Against a real server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from rltrack._login import verify_key
from rltrack.cli import main
from rltrack.errors import InvalidValueError, RltrackError
from rltrack.server import ServerSettings
from rltrack.server.security import AccessControl
from rltrack.server.serve import BackgroundServer

TOKEN = "clé-ключ-鍵"


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("login19b") / "srv"
    access = AccessControl(tokens=frozenset({TOKEN}), public_read=False)
    with BackgroundServer(ServerSettings(root=root, ingest=True, access=access)) as server:
        yield server.url


def test_a_non_ascii_key_is_sent_as_utf8(url: str) -> None:
    assert verify_key(url, TOKEN) is None  # the server's own token: accepted, no user
    with pytest.raises(InvalidValueError, match=f"the server at '{url}' refused the key: "):
        verify_key(url, "ключ-не-тот")  # sent, and refused by the server (not by the client)


@pytest.mark.parametrize(("key", "problem"), [
    ("secret\n", "holds a space or a control character (a newline pasted with it?)"),
    ("sec ret", "holds a space or a control character"),
    ("sec\x7fret", "holds a space or a control character"),
    ("secret\ud800", "is not valid Unicode (it holds a lone surrogate)"),
], ids=["newline", "space", "DEL", "lone surrogate"])
def test_a_key_that_cannot_be_a_header_is_refused_unechoed(url: str, key: str, problem: str) -> None:
    with pytest.raises(RltrackError) as refused:
        verify_key(url, key)
    assert str(refused.value).startswith(f"the API key {problem}")
    assert "secret" not in str(refused.value) and "sec" not in str(refused.value)


def test_rltrack_login_with_a_bad_key_is_a_clean_cli_error(url: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RLTRACK_CONFIG_DIR", str(tmp_path / "config"))
    result = CliRunner().invoke(main, ["login", url, "--key", "secret\x00key"])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: the API key holds a space or a control character")
    assert "secret" not in result.output and not (tmp_path / "config").exists()
    stored = CliRunner().invoke(main, ["login", url, "--key", TOKEN])
    assert stored.exit_code == 0, stored.output
    assert json.loads((tmp_path / "config" / "credentials.json").read_text(encoding="utf-8")) == {"keys": {url: TOKEN}}
