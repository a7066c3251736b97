from __future__ import annotations

import pathlib
from collections.abc import Callable

import rltrack
from rltrack.artifacts import logged_artifacts, used_artifacts

from .conftest import write_bytes


def test_version_knows_the_run_that_logged_it(tmp_path: pathlib.Path, make_run: Callable[..., rltrack.Run]) -> None:
    trainer = make_run(name="trainer")
    version = trainer.log_artifact(write_bytes(tmp_path / "p.zip", 10), name="policy")
    read = rltrack.Api(trainer._store.db.root).artifact("policy")
    assert read.logged_by_id == trainer.id
    assert read.logged_by is not None
    assert (read.logged_by.id, read.logged_by.name) == (trainer.id, "trainer")
    assert logged_artifacts(trainer._store.db, trainer.id) == [version]


def test_version_knows_the_runs_that_used_it(tmp_path: pathlib.Path, make_run: Callable[..., rltrack.Run]) -> None:
    trainer = make_run()
    version = trainer.log_artifact(write_bytes(tmp_path / "p.zip", 10), name="policy", aliases=["best"])
    eval1, eval2 = make_run(), make_run()

    assert eval1.use_artifact("policy:best") == version
    eval2.use_artifact("policy:v0")
    eval1.use_artifact("policy")  # a second use records nothing new

    read = rltrack.Api(trainer._store.db.root).artifact("policy:v0")
    assert [r.id for r in read.used_by] == [eval1.id, eval2.id]
    assert used_artifacts(trainer._store.db, eval1.id) == [version]
    assert used_artifacts(trainer._store.db, trainer.id) == []


def test_a_robot_writer_records_the_policy_it_deployed_under_its_source(
    tmp_path: pathlib.Path, store_dir: pathlib.Path, make_run: Callable[..., rltrack.Run]
) -> None:
    from rltrack.artifacts import Artifact

    trainer = make_run()
    art = Artifact("policy", metadata={"step": 20_000})
    art.add_file(write_bytes(tmp_path / "p.zip", 10))
    trainer.log_artifact(art, aliases=["best"])
    robot = make_run(id=trainer.id, resume="must", source="real")

    deployed = robot.use_artifact("policy:best")

    assert deployed.metadata["step"] == 20_000
    db = trainer._store.db
    assert [v.ref for v in used_artifacts(db, trainer.id, source="real")] == ["policy:v0"]
    assert used_artifacts(db, trainer.id, source="sim") == []
