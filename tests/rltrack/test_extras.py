"""Install hints name packages pip can fetch: rltrack itself is not on a package index."""

from __future__ import annotations

import shlex

from rltrack._extras import install_hint


def test_hint_names_each_package_of_the_extra_and_never_rltrack_itself() -> None:
    hint = install_hint("ros")
    words = shlex.split(hint)
    assert words[:2] == ["pip", "install"]
    names = {w.split("<")[0].split(">")[0].split("=")[0].split("[")[0].lower() for w in words[2:]}
    assert names == {"rosbags", "pyyaml"}
    assert "rltrack" not in hint


def test_hint_for_several_extras_lists_a_shared_package_once() -> None:
    words = shlex.split(install_hint("sweeps", "ros"))
    pyyaml = [w for w in words if w.lower().startswith("pyyaml")]
    assert len(pyyaml) == 1
    assert any(w.startswith("optuna") for w in words)
