"""Finding stored artifact versions: by reference, by name or type, and by the run that logged or used them."""

from __future__ import annotations

from rltrack.artifacts.errors import ArtifactNotFoundError
from rltrack.artifacts.refs import check_name, check_type, parse_ref, version_number
from rltrack.artifacts.version import ArtifactVersion
from rltrack.store.artifacts import ArtifactStore, VersionRow
from rltrack.store.base import Backend

__all__ = ["get_artifact", "list_artifacts", "logged_artifacts", "resolve", "used_artifacts"]


def list_artifacts(db: Backend, name: str | None = None, *, type: str | None = None) -> list[ArtifactVersion]:
    """Return stored versions, sorted by name then version; ``name`` and ``type`` filter.

    Raises:
        ArtifactError: ``name`` or ``type`` is not a valid artifact name or type.
    """
    if name is not None:
        check_name(name)
    if type is not None:
        check_type(type)
    return [ArtifactVersion(db, row) for row in ArtifactStore(db).versions(name, type=type)]


def get_artifact(db: Backend, ref: str) -> ArtifactVersion:
    """Return the version ``"name"`` (latest), ``"name:alias"`` or ``"name:vN"`` names.

    Raises:
        ArtifactError: ``ref`` is malformed.
        ArtifactNotFoundError: no such artifact, alias or version (the message lists what exists).
    """
    return ArtifactVersion(db, resolve(ArtifactStore(db), ref))


def resolve(store: ArtifactStore, ref: str) -> VersionRow:
    """Return the stored row a reference names (see :func:`get_artifact`)."""
    parsed = parse_ref(ref)
    number = None if parsed.selector is None else version_number(parsed.selector)
    alias = parsed.selector if number is None else None
    row = store.find(parsed.name, number=number, alias=alias)
    if row is not None:
        return row
    labels = store.labels(parsed.name)
    where = str(store.db.root)
    if labels is None:
        known = store.names()
        hint = f"it has {', '.join(map(repr, known[:20]))}" if known else "it has none yet"
        raise ArtifactNotFoundError(
            f"no artifact named {parsed.name!r} in store {where!r} ({hint}); check the name "
            "(rltrack artifacts ls) or log it first"
        )
    numbers, aliases = labels
    versions = f"v{numbers[0]}..v{numbers[-1]}" if numbers else "no versions"
    names = ", ".join(["latest", *aliases])
    raise ArtifactNotFoundError(
        f"artifact {parsed.name!r} has no {'version' if number is not None else 'alias'} {parsed.selector!r} "
        f"in store {where!r} (it has {versions}; aliases {names}); use one of those"
    )


def logged_artifacts(db: Backend, run_id: str) -> list[ArtifactVersion]:
    """Return the versions a run logged (lineage: run -> outputs), sorted by name then version."""
    return [ArtifactVersion(db, row) for row in ArtifactStore(db).versions(run_id=run_id)]


def used_artifacts(db: Backend, run_id: str, source: str | None = None) -> list[ArtifactVersion]:
    """Return the versions a run used (lineage: run -> inputs), optionally under one source, in order of use."""
    return [ArtifactVersion(db, row) for row in ArtifactStore(db).used_by_run(run_id, source)]
