"""Hostile config, summary and init() values on a local run (issue 19 follow-up, found by probing).

The rule: a value is stored, or refused at the call with an ``RltrackError`` naming it, or
counted under ``_rltrack/`` and warned once; nothing logged before is lost. Config and summary
values pass :func:`rltrack.validate.portable` at the call (what JSON cannot hold is kept as its repr),
and ``init()`` refuses a lone surrogate or text over ingest's limits with an error naming the argument.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

import rltrack
from rltrack.api import Api
from rltrack.errors import RltrackError


class RaisingRepr:
    """An object whose repr raises, as a half-built user object's may."""

    def __repr__(self) -> str:
        raise RuntimeError("boom")


def nested(depth: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    node = root
    for _ in range(depth):
        node["x"] = {}
        node = node["x"]
    return root


def run_with(store_dir: Path, where: str, key: str, value: Any) -> tuple[Any, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = rltrack.init(project="hostile", dir=store_dir, system_metrics=False, quiet=True, config={"good": 1})
        run.log({"x": 1.0}, step=0)
        run.flush()
        if where == "config":
            run.config.update({key: value, "also": 2})
        else:
            run.summary[key] = value
            run.summary["also"] = 2
        run.log({"x": 2.0}, step=1)
        run.finish()
    return Api(store_dir).run(run.id), [str(w.message) for w in caught]


def test_a_set_in_the_config_is_kept_as_its_repr(store_dir: Path) -> None:
    stored, _ = run_with(store_dir, "config", "seeds", {3})
    assert stored.config["seeds"] == "{3}" and stored.config["also"] == 2


@pytest.mark.parametrize(
    ("where", "value"),
    [("summary", RaisingRepr()), ("summary", nested(100_000)), ("config", RaisingRepr()), ("config", nested(100_000))],
    ids=["summary-raising-repr", "summary-nested", "config-raising-repr", "config-nested"],
)
def test_an_unstorable_value_loses_nothing_beside_it(store_dir: Path, where: str, value: Any) -> None:
    stored, _ = run_with(store_dir, where, "odd", value)
    assert stored.state == "finished"
    assert stored.summary["x"] == 2.0  # was: the whole summary missing (summary cases)
    kept = stored.config if where == "config" else stored.summary
    assert kept["also"] == 2  # was: the whole update lost
    if isinstance(value, RaisingRepr):
        assert kept["odd"] == "<RaisingRepr object; repr() raised RuntimeError>"
    else:  # kept as JSON 32 levels deep, then as a note that its repr failed
        assert "<dict object; repr() raised RecursionError>" in str(kept["odd"])


@pytest.mark.parametrize("field", ["name", "group", "job_type", "notes", "project"])
def test_init_refuses_a_lone_surrogate_with_an_rltrack_error(store_dir: Path, field: str) -> None:
    with pytest.raises(RltrackError, match=rf"^init\({field}=\.\.\.\) 'bad\\udcffname' is not valid Unicode"):
        rltrack.init(dir=store_dir, system_metrics=False, quiet=True, **{"project": "p", field: "bad\udcffname"})


@pytest.mark.parametrize(("field", "value"), [("group", "g" * 300), ("job_type", "j" * 300), ("tags", ["t" * 300]),
                                              ("notes", "n" * 20_000)])
def test_init_has_the_same_text_limits_as_ingest(store_dir: Path, field: str, value: Any) -> None:
    with pytest.raises(RltrackError, match=field.rstrip("s")):
        rltrack.init(dir=store_dir, project="p", system_metrics=False, quiet=True, **{field: value})


@pytest.mark.parametrize("config", [{"obj": RaisingRepr()}, {"deep": nested(100_000)}], ids=["raising-repr", "deep"])
def test_init_stores_or_refuses_an_odd_config(store_dir: Path, config: dict[str, Any]) -> None:
    try:
        run = rltrack.init(project="p", dir=store_dir, system_metrics=False, quiet=True, config=config)
    except RltrackError:
        return  # refused at the call, naming it: allowed
    run.finish()
    assert set(Api(store_dir).run(run.id).config) == set(config)


def test_log_refuses_a_value_whose_repr_raises_naming_the_key(store_dir: Path) -> None:
    run = rltrack.init(project="p", dir=store_dir, system_metrics=False, quiet=True)
    with pytest.raises(RltrackError, match=r"log\(\) value for 'obj' is <RaisingRepr object; repr\(\) raised "
                                           r"RuntimeError> \(RaisingRepr\), not a number"):
        run.log({"obj": RaisingRepr(), "x": 1.0}, step=0)  # was: the RuntimeError from __repr__ itself
    run.log({"x": 2.0}, step=1)
    run.finish()
    assert Api(store_dir).run(run.id).history()["x"].tolist() == [2.0]
