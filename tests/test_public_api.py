"""The public surface: an explicit, sorted ``__all__`` that matches what the package offers."""

from __future__ import annotations

import types

import rltrack

# Modules that are part of the public surface (as ``wandb.plot`` is); other submodules are not.
PUBLIC_MODULES = {"plot"}


def test_all_is_sorted_and_unique() -> None:
    assert rltrack.__all__ == sorted(set(rltrack.__all__))


def test_all_equals_the_public_attributes() -> None:
    public = {
        name for name in dir(rltrack)
        if not name.startswith("_")
        and (name in PUBLIC_MODULES or not isinstance(getattr(rltrack, name), types.ModuleType))
    }
    assert public == set(rltrack.__all__)


def test_every_exported_name_has_a_one_line_summary() -> None:
    for name in rltrack.__all__:
        if name == "run":
            continue
        doc = getattr(rltrack, name).__doc__
        assert doc, name
        assert doc.strip().splitlines()[0].endswith("."), name
