"""wandb's module-level API and init() keywords, as scripts written for wandb call them."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import stat
import warnings
from pathlib import Path

import pytest

import rltrack
from rltrack.errors import InvalidValueError, RltrackError, RltrackWarning


def _init(store_dir: Path, **kwargs: object) -> rltrack.Run:
    return rltrack.init(dir=store_dir, system_metrics=False, quiet=True, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: rltrack.config["lr"], "config"),
        (lambda: rltrack.config.lr, "config"),
        (lambda: rltrack.config.update({"lr": 1}), "config"),
        (lambda: rltrack.summary["best"], "summary"),
        (lambda: rltrack.define_metric("loss", summary="min"), "define_metric()"),
        (lambda: rltrack.log_artifact("model.pt"), "log_artifact()"),
        (lambda: rltrack.use_artifact("model:latest"), "use_artifact()"),
        (lambda: rltrack.save("model.pt"), "save()"),
        (lambda: rltrack.watch(object()), "watch()"),
        (lambda: rltrack.unwatch(), "unwatch()"),
        (lambda: rltrack.alert("t", "x"), "alert()"),
        (lambda: rltrack.mark_preempting(), "mark_preempting()"),
    ],
)
def test_before_init_every_call_says_call_init_first(call: object, name: str) -> None:
    with pytest.raises(RltrackError, match=rf"^rltrack\.{name.replace('(', '[(]').replace(')', '[)]')} used before "
                       r"rltrack\.init\(\); call rltrack\.init\(\) first$"):
        call()  # type: ignore[operator]
    rltrack.finish()  # no run: nothing to do, as wandb.finish()


def test_module_config_and_summary_reach_the_current_run(store_dir: Path) -> None:
    run = _init(store_dir, config={"lr": 0.1})
    assert rltrack.config.lr == 0.1 and rltrack.config["lr"] == 0.1
    rltrack.config.batch = 64  # attribute assignment, as wandb.config.batch = 64
    rltrack.config.update({"gamma": 0.99})
    rltrack.config.setdefaults({"gamma": 0.5, "seed": 3})
    assert dict(rltrack.config) == {"lr": 0.1, "batch": 64, "gamma": 0.99, "seed": 3}
    with pytest.raises(InvalidValueError, match=r"would change 'lr' from 0\.1 to 0\.2; pass allow_val_change=True"):
        rltrack.config.update({"lr": 0.2}, allow_val_change=False)
    rltrack.config.update({"lr": 0.2}, allow_val_change=True)
    rltrack.summary["best"] = 0.9
    rltrack.define_metric("loss", summary="best", goal="minimize")
    for loss in (3.0, 1.0, 2.0):
        rltrack.log({"loss": loss})
    rltrack.finish()
    view = rltrack.Api(store_dir).run(run.id)
    assert view.config == {"lr": 0.2, "batch": 64, "gamma": 0.99, "seed": 3}
    assert view.summary["best"] == 0.9
    assert view.summary["loss"] == 1.0  # "best" with goal minimize is the minimum
    assert view.metadata["metrics"]["loss"]["goal"] == "minimize"


@dataclasses.dataclass
class _Args:
    lr: float = 3e-4
    env_id: str = "CartPole-v1"


@pytest.mark.parametrize(
    "config",
    [
        {"lr": 3e-4, "env_id": "CartPole-v1"},
        argparse.Namespace(lr=3e-4, env_id="CartPole-v1"),
        _Args(),
    ],
    ids=["dict", "namespace", "dataclass"],
)
def test_config_forms(store_dir: Path, config: object) -> None:
    run = _init(store_dir, config=config)
    run.finish()
    assert rltrack.Api(store_dir).run(run.id).config == {"lr": 3e-4, "env_id": "CartPole-v1"}


def test_config_from_a_yaml_path_and_config_defaults_yaml(store_dir: Path) -> None:
    Path("config-defaults.yaml").write_text("wandb_version: 1\nepochs:\n  desc: passes\n  value: 10\nlr: 0.5\n")
    Path("exp.yaml").write_text("lr: 0.1\nlayers: [64, 64]\n")
    run = _init(store_dir, config="exp.yaml")
    run.finish()
    assert rltrack.Api(store_dir).run(run.id).config == {"epochs": 10, "lr": 0.1, "layers": [64, 64]}
    with pytest.raises(InvalidValueError, match=r"'missing\.yaml' is not a file"):
        _init(store_dir, config="missing.yaml")
    with pytest.raises(InvalidValueError, match=r"init\(config=\[1\]\) must be a dict"):
        _init(store_dir, config=[1])


def test_config_update_takes_a_namespace_as_wandb_does(store_dir: Path) -> None:
    run = _init(store_dir)
    rltrack.config.update(argparse.Namespace(seed=1, env_id="Hopper-v4"))
    run.config.update(_Args(), allow_val_change=True)
    rltrack.config.update({"x": 1}.items())
    with pytest.raises(InvalidValueError, match=r"config\.update\(\.\.\.\): 'nope\.yaml' is not a file"):
        rltrack.config.update("nope.yaml")
    run.finish()
    assert rltrack.Api(store_dir).run(run.id).config == {"seed": 1, "env_id": "CartPole-v1", "lr": 3e-4, "x": 1}


def test_include_and_exclude_keys(store_dir: Path) -> None:
    cfg = {"lr": 1, "seed": 2, "track": True}
    a = _init(store_dir, config=cfg, config_exclude_keys=["track"])
    a.finish()
    b = _init(store_dir, config=cfg, config_include_keys=["lr"])
    b.finish()
    api = rltrack.Api(store_dir)
    assert api.run(a.id).config == {"lr": 1, "seed": 2}
    assert api.run(b.id).config == {"lr": 1}


def test_wandb_keywords_with_defaults_say_nothing(store_dir: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run = _init(store_dir, entity=None, anonymous="never", force=False, magic=None, monitor_gym=False,
                    settings=rltrack.Settings(start_method="thread"), allow_val_change=True, reinit=False,
                    fork_from=None, resume_from=None, save_code=False)
    run.finish()


def test_ignored_keywords_are_named_in_one_warning(store_dir: Path) -> None:
    with pytest.warns(RltrackWarning) as caught:
        run = _init(store_dir, entity="team", monitor_gym=True, anonymous="allow",
                    settings={"console": "wrap", "x_label": "node0"})
    run.finish()
    assert len(caught) == 1
    text = str(caught[0].message)
    for part in ("entity='team'", "monitor_gym=True", "RecordRollouts", "anonymous='allow'",
                 "settings.x_label='node0'"):
        assert part in text, text
    assert "console" not in text


def test_settings_are_honoured(store_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = rltrack.init(dir=store_dir, settings=rltrack.Settings(silent=True, x_disable_stats=True))
    assert run._sampler is None
    run.finish()
    assert capsys.readouterr().err == ""
    disabled = rltrack.init(dir=store_dir, settings={"mode": "disabled"})
    assert repr(disabled).endswith("(disabled)>")
    disabled.finish()


def test_reinit_choices(store_dir: Path) -> None:
    first = _init(store_dir)
    assert _init(store_dir, reinit="return_previous") is first
    second = _init(store_dir, reinit=True)
    assert first.finished and second is rltrack.run
    third = _init(store_dir, reinit="create_new")
    assert not second.finished and third is rltrack.run
    assert _init(store_dir, reinit=False) is third  # wandb's False: return the current run
    with pytest.raises(InvalidValueError, match=r"init\(reinit='sometimes'\)"):
        _init(store_dir, reinit="sometimes")
    second.finish()
    third.finish()


def test_wandb_resume_and_mode_spellings(store_dir: Path) -> None:
    run = _init(store_dir, id="resumable", mode="dryrun")
    run.log({"x": 1.0})
    run.finish()
    again = _init(store_dir, id="resumable", resume=True)
    again.log({"x": 2.0})
    again.finish()
    assert rltrack.Api(store_dir).run("resumable").series("x")[2].tolist() == [1.0, 2.0]


def test_save_now_end_and_live(store_dir: Path) -> None:
    Path("ckpt").mkdir()
    Path("ckpt/a.pt").write_bytes(b"a1")
    run = _init(store_dir)
    assert rltrack.save("ckpt/*.pt", policy="now") == ["files/ckpt/a.pt"]
    assert rltrack.save("ckpt/*.pt", policy="live") == ["files/ckpt/a.pt"]
    assert rltrack.save("late.txt", policy="end") == []
    Path("ckpt/a.pt").write_bytes(b"a2")
    Path("late.txt").write_text("done")
    run.finish()
    view = rltrack.Api(store_dir).run(run.id)
    assert (view.dir / "files/ckpt/a.pt").read_bytes() == b"a2"  # live: copied again at finish
    assert (view.dir / "files/late.txt").read_text() == "done"
    assert sorted(view.metadata["files"]) == ["files/ckpt/a.pt", "files/late.txt"]


def test_save_outside_the_working_tree_needs_base_path(store_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "model.pt").write_bytes(b"m")
    run = _init(store_dir)
    run.log({"x": 1.0})
    with pytest.raises(InvalidValueError, match=r"is outside the working directory .*; pass base_path="):
        rltrack.save(str(outside / "model.pt"))
    with pytest.raises(InvalidValueError, match=r"save\(policy='sometimes'\)"):
        rltrack.save("x", policy="sometimes")
    assert rltrack.save(str(outside / "model.pt"), base_path=str(tmp_path)) == ["files/elsewhere/model.pt"]
    run.finish()
    view = rltrack.Api(store_dir).run(run.id)
    assert view.series("x")[2].tolist() == [1.0]  # the refused call lost nothing
    assert (view.dir / "files/elsewhere/model.pt").read_bytes() == b"m"


def test_save_code_keeps_the_main_script(store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    script = Path("train.py")
    script.write_text("print('hi')\n")
    main = types.ModuleType("__main__")
    main.__file__ = str(script.absolute())
    monkeypatch.setitem(sys.modules, "__main__", main)
    run = _init(store_dir, save_code=True)
    run.finish()
    view = rltrack.Api(store_dir).run(run.id)
    assert view.metadata["code"] == "code/train.py"
    assert (view.dir / "code/train.py").read_text() == "print('hi')\n"


def test_alert_is_stored_with_its_step(store_dir: Path) -> None:
    run = _init(store_dir)
    run.log({"x": 1.0})
    rltrack.alert(title="Low reward", text="reward 0.1 < 0.5", level="WARN")
    with pytest.raises(InvalidValueError, match=r"alert\(level='LOUD'\)"):
        rltrack.alert("t", "x", level="LOUD")
    run.finish()
    alerts = rltrack.Api(store_dir).run(run.id).metadata["alerts"]
    assert [(a["title"], a["text"], a["level"], a["step"]) for a in alerts] == [
        ("Low reward", "reward 0.1 < 0.5", "WARN", 1)
    ]


def test_finish_exit_code_and_mark_preempting(store_dir: Path) -> None:
    run = _init(store_dir)
    rltrack.mark_preempting()
    rltrack.finish(exit_code=2, quiet=True)
    view = rltrack.Api(store_dir).run(run.id)
    assert view.state == "failed"
    assert view.metadata["preempting"] is True


def test_module_log_artifact_and_use_artifact(store_dir: Path) -> None:
    Path("model.pt").write_bytes(b"weights")
    producer = _init(store_dir)
    version = rltrack.log_artifact("model.pt", name="policy", type="model", aliases=["best"])
    producer.finish()
    consumer = _init(store_dir)
    used = rltrack.use_artifact("policy:best", type="model")
    consumer.finish()
    assert used.version == version.version


def test_login_is_a_no_op_offline_and_stores_a_key_0600(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RLTRACK_CONFIG_DIR", str(tmp_path / "conf"))
    assert rltrack.login() is True
    assert not (tmp_path / "conf").exists()
    with pytest.raises(InvalidValueError, match="needs the server it is for"):
        rltrack.login(key="tok")
    assert rltrack.login(key="tok-123", host="http://127.0.0.1:9/") is True
    path = tmp_path / "conf" / "credentials.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(path.read_text()) == {"keys": {"http://127.0.0.1:9": "tok-123"}}
    from rltrack._login import stored_key

    assert stored_key("http://127.0.0.1:9") == "tok-123"


def test_sync_tensorboard_mirrors_a_summary_writer(store_dir: Path) -> None:
    pytest.importorskip("tensorboard")
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    run = _init(store_dir, sync_tensorboard=True)
    writer = torch_tb.SummaryWriter("runs/exp")
    for step in range(0, 50, 5):
        writer.add_scalar("charts/episodic_return", step * 0.5, step)
        writer.add_scalar("losses/value_loss", 1.0 / (step + 1), step)
    rltrack.finish()  # flushes the writer and reads what is left: nothing written before is lost
    writer.close()
    view = rltrack.Api(store_dir).run(run.id)
    steps, _, values = view.series("charts/episodic_return")
    assert steps.tolist() == list(range(0, 50, 5))
    assert values.tolist() == [s * 0.5 for s in range(0, 50, 5)]
    assert view.series("losses/value_loss")[0].tolist() == list(range(0, 50, 5))


def test_sync_tensorboard_leaves_out_earlier_experiments_in_the_same_folder(store_dir: Path) -> None:
    pytest.importorskip("tensorboard")
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    old = torch_tb.SummaryWriter("runs/exp")
    old.add_scalar("charts/episodic_return", 99.0, 0)
    old.close()
    run = _init(store_dir, sync_tensorboard=True)
    writer = torch_tb.SummaryWriter("runs/exp")
    writer.add_scalar("charts/episodic_return", 1.0, 7)
    writer.close()
    run.finish()
    steps, _, values = rltrack.Api(store_dir).run(run.id).series("charts/episodic_return")
    assert (steps.tolist(), values.tolist()) == ([7], [1.0])


def test_sync_tensorboard_mirrors_a_tensorboardx_writer_too(store_dir: Path) -> None:
    pytest.importorskip("tensorboard")
    tbx = pytest.importorskip("tensorboardX")
    run = _init(store_dir, sync_tensorboard=True)
    writer = tbx.SummaryWriter("runs/tbx")
    for step in (1, 2, 3):
        writer.add_scalar("train/reward", step * 2.0, step)
    writer.close()
    run.finish()
    steps, _, values = rltrack.Api(store_dir).run(run.id).series("train/reward")
    assert (steps.tolist(), values.tolist()) == ([1, 2, 3], [2.0, 4.0, 6.0])


def test_run_url_path_and_entity(store_dir: Path) -> None:
    run = _init(store_dir, project="urls")
    assert run.url is None and run.get_url() is None  # no `rltrack ui` serves this store
    assert run.path == f"urls/{run.id}"
    assert run.entity is None
    run.finish()
    disabled = rltrack.init(mode="disabled")
    assert disabled.url is None
    disabled.finish()
    assert rltrack.run is None  # as after any finish(), and wandb.run after wandb.finish()


def test_an_online_run_uses_the_key_login_stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("fastapi")
    from rltrack.server import ServerSettings
    from rltrack.server.security import AccessControl
    from rltrack.server.serve import BackgroundServer

    monkeypatch.setenv("RLTRACK_CONFIG_DIR", str(tmp_path / "conf"))
    token = "login-test-token-0123456789"
    server = BackgroundServer(
        ServerSettings(root=tmp_path / "server", ingest=True, access=AccessControl(tokens=frozenset({token})))
    )
    try:
        rltrack.login(key=token, host=server.url)
        run = rltrack.init(mode="online", url=server.url, dir=tmp_path / "spool", system_metrics=False, quiet=True)
        run.log({"x": 1.0})
        run.finish()
        assert rltrack.Api(tmp_path / "server").run(run.id).series("x")[2].tolist() == [1.0]
    finally:
        server.stop()
