"""The run API as a user sees it: what is logged is what is read back."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

import rltrack
from rltrack.errors import InvalidKeyError, InvalidValueError, RunFinishedError


def _init(store_dir: Path, **kwargs: object) -> rltrack.Run:
    kwargs.setdefault("system_metrics", False)
    return rltrack.init(project="test", dir=store_dir, **kwargs)  # type: ignore[arg-type]


def test_logged_values_read_back_exactly(store_dir: Path) -> None:
    run = _init(store_dir)
    for i in range(100):
        run.log({"train/loss": 1.0 / (i + 1), "rollout/ep_rew_mean": float(i)}, step=i * 10)
    run.finish()
    history = rltrack.Api(store_dir).run(run.id).history()
    assert set(history) == {"step", "t_ns", "train/loss", "rollout/ep_rew_mean"}
    np.testing.assert_array_equal(history["step"], np.arange(100) * 10)
    np.testing.assert_array_equal(history["train/loss"], [1.0 / (i + 1) for i in range(100)])
    np.testing.assert_array_equal(history["rollout/ep_rew_mean"], np.arange(100, dtype=float))


def test_step_counter_advances_only_on_commit(store_dir: Path) -> None:
    run = _init(store_dir)
    run.log({"a": 1.0})
    run.log({"b": 2.0}, commit=False)
    run.log({"c": 3.0})
    run.log({"d": 4.0}, step=50)
    run.log({"e": 5.0})
    run.finish()
    view = rltrack.Api(store_dir).run(run.id)
    assert [int(view.series(k)[0][0]) for k in "abcde"] == [0, 1, 1, 50, 51]


def test_key_logged_twice_at_one_step_keeps_both_points(store_dir: Path) -> None:
    run = _init(store_dir)
    run.log({"x": 1.0}, step=3)
    run.log({"x": 2.0}, step=3)
    run.finish()
    view = rltrack.Api(store_dir).run(run.id)
    steps, _, values = view.series("x")
    assert steps.tolist() == [3, 3]
    assert values.tolist() == [1.0, 2.0]
    assert view.summary["x"] == 2.0


def test_nested_dicts_flatten_with_slash(store_dir: Path) -> None:
    run = _init(store_dir)
    run.log({"train": {"loss": 0.5, "policy": {"entropy": 1.25}}})
    run.finish()
    assert rltrack.Api(store_dir).run(run.id).keys() == ["train/loss", "train/policy/entropy"]


def test_numpy_scalars_bools_and_non_finite_values_are_stored_faithfully(store_dir: Path) -> None:
    run = _init(store_dir)
    run.log({"f32": np.float32(0.5), "i64": np.int64(7), "flag": True, "nan": math.nan, "inf": -math.inf,
             "zero_d": np.array(2.5)})
    run.finish()
    history = rltrack.Api(store_dir).run(run.id).history()
    assert history["f32"][0] == 0.5
    assert history["i64"][0] == 7.0
    assert history["flag"][0] == 1.0
    assert math.isnan(history["nan"][0])
    assert history["inf"][0] == -math.inf
    assert history["zero_d"][0] == 2.5


def test_torch_scalar_tensors_are_accepted(store_dir: Path) -> None:
    torch = pytest.importorskip("torch")
    run = _init(store_dir)
    run.log({"loss": torch.tensor(0.25)})
    run.finish()
    assert rltrack.Api(store_dir).run(run.id).history()["loss"][0] == 0.25


def test_history_of_several_keys_aligns_rows_on_step_and_time(store_dir: Path) -> None:
    run = _init(store_dir)
    run.log({"a": 1.0, "b": 10.0}, step=0)
    run.log({"a": 2.0}, step=1)
    run.log({"b": 30.0}, step=2)
    run.finish()
    history = rltrack.Api(store_dir).run(run.id).history(["a", "b"])
    assert history["step"].tolist() == [0, 1, 2]
    np.testing.assert_array_equal(history["a"], [1.0, 2.0, np.nan])
    np.testing.assert_array_equal(history["b"], [10.0, np.nan, 30.0])


def test_explicit_t_ns_is_stored(store_dir: Path) -> None:
    run = _init(store_dir)
    run.log({"odom/x": 1.0}, step=0, t_ns=1_700_000_000_123_456_789)
    run.finish()
    _, times, _ = rltrack.Api(store_dir).run(run.id).series("odom/x")
    assert times.tolist() == [1_700_000_000_123_456_789]


@pytest.mark.parametrize(
    ("summary", "expected"),
    [("last", 2.0), ("min", 1.0), ("max", 9.0), ("mean", 3.75), ("first", 3.0)],
)
def test_define_metric_chooses_the_summary(store_dir: Path, summary: str, expected: float) -> None:
    run = _init(store_dir)
    run.define_metric("eval/*", summary=summary, goal="maximize")  # type: ignore[arg-type]
    for value in (3.0, 9.0, 1.0, 2.0):
        run.log({"eval/mean_reward": value})
    run.finish()
    view = rltrack.Api(store_dir).run(run.id)
    assert view.summary["eval/mean_reward"] == expected
    assert view.metadata["metrics"]["eval/*"]["goal"] == "maximize"


def test_summary_none_leaves_the_key_out(store_dir: Path) -> None:
    run = _init(store_dir)
    run.define_metric("noisy", summary="none")
    run.log({"noisy": 1.0, "kept": 2.0})
    run.finish()
    assert rltrack.Api(store_dir).run(run.id).summary == {"kept": 2.0}


def test_summary_set_by_hand_is_stored(store_dir: Path) -> None:
    run = _init(store_dir)
    run.summary["best_checkpoint"] = "v3"
    run.finish()
    assert rltrack.Api(store_dir).run(run.id).summary == {"best_checkpoint": "v3"}


def test_config_updates_are_persisted_and_merged(store_dir: Path) -> None:
    run = _init(store_dir, config={"lr": 3e-4, "policy": {"net_arch": [64, 64]}})
    run.config["gamma"] = 0.99
    run.config.update({"n_steps": 128, "note": None})
    run.flush()
    assert rltrack.Api(store_dir).run(run.id).config == {
        "lr": 3e-4, "policy": {"net_arch": [64, 64]}, "gamma": 0.99, "n_steps": 128, "note": None
    }
    assert run.config.lr == 3e-4
    run.finish()


def test_flush_makes_values_readable_while_the_run_goes_on(store_dir: Path) -> None:
    run = _init(store_dir)
    run.log({"x": 1.0})
    run.flush()
    view = rltrack.Api(store_dir).run(run.id)
    assert view.state == "running"
    assert view.series("x")[2].tolist() == [1.0]
    run.finish()


def test_context_manager_marks_failed_on_exception(store_dir: Path) -> None:
    with pytest.raises(RuntimeError), _init(store_dir) as run:
        run.log({"x": 1.0})
        raise RuntimeError("diverged")
    view = rltrack.Api(store_dir).run(run.id)
    assert view.state == "failed"
    assert view.reason == "RuntimeError: diverged"
    assert view.series("x")[2].tolist() == [1.0]


def test_nonzero_exit_code_marks_failed(store_dir: Path) -> None:
    run = _init(store_dir)
    run.finish(exit_code=3)
    view = rltrack.Api(store_dir).run(run.id)
    assert (view.state, view.exit_code, view.reason) == ("failed", 3, "exit code 3")


def test_finish_twice_is_harmless(store_dir: Path) -> None:
    run = _init(store_dir)
    run.finish()
    run.finish()
    assert rltrack.Api(store_dir).run(run.id).state == "finished"


def test_log_after_finish_raises_and_keeps_earlier_values(store_dir: Path) -> None:
    run = _init(store_dir)
    run.log({"x": 1.0})
    run.finish()
    with pytest.raises(RunFinishedError, match="log\\(\\) after finish\\(\\) is refused"):
        run.log({"x": 2.0})
    assert rltrack.Api(store_dir).run(run.id).series("x")[2].tolist() == [1.0]


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"": 1.0}, "empty key"),
        ({"k" * 300: 1.0}, "300 characters long"),
        ({"bad\nkey": 1.0}, "control characters"),
        ({"a//b": 1.0}, "empty '/'-separated part"),
        ({"step": 1.0}, "reserved"),
        ({"_rltrack/errors": 1.0}, "reserved"),
        ({1: 1.0}, "keys must be strings"),
    ],
)
def test_bad_keys_raise_and_keep_what_was_logged(store_dir: Path, data: dict[object, float], match: str) -> None:
    run = _init(store_dir)
    run.log({"ok": 1.0})
    with pytest.raises(InvalidKeyError, match=match):
        run.log(data)  # type: ignore[arg-type]
    run.log({"ok": 2.0})
    run.finish()
    assert rltrack.Api(store_dir).run(run.id).series("ok")[2].tolist() == [1.0, 2.0]


def test_nesting_deeper_than_the_limit_raises(store_dir: Path) -> None:
    run = _init(store_dir)
    deep: dict[str, object] = {"leaf": 1.0}
    for _ in range(10):
        deep = {"level": deep}
    with pytest.raises(InvalidKeyError, match="nests deeper than 8 levels"):
        run.log(deep)
    run.finish()


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("fast", "'fast' \\(str\\), not a number or media object"),
        ([1.0, 2.0], "not a number or media object"),
        (None, "None \\(NoneType\\)"),
        (np.zeros(3), "array with more than one element"),
    ],
)
def test_bad_values_raise_with_the_value_in_the_message(store_dir: Path, value: object, match: str) -> None:
    run = _init(store_dir)
    with pytest.raises(InvalidValueError, match=match):
        run.log({"x": value})
    run.finish()
    assert rltrack.Api(store_dir).run(run.id).keys() == []


def test_a_bad_value_after_good_ones_in_one_call_logs_nothing_of_that_call(store_dir: Path) -> None:
    run = _init(store_dir)
    with pytest.raises(InvalidValueError):
        run.log({"good": 1.0, "bad": "x"})
    run.finish()
    assert rltrack.Api(store_dir).run(run.id).keys() == []


def test_non_integer_step_raises(store_dir: Path) -> None:
    run = _init(store_dir)
    with pytest.raises(InvalidValueError, match=r"step must be an integer, got 1\.5"):
        run.log({"x": 1.0}, step=1.5)  # type: ignore[arg-type]
    run.log({"x": 1.0}, step=np.int64(4))  # type: ignore[arg-type]
    run.finish()
    assert rltrack.Api(store_dir).run(run.id).series("x")[0].tolist() == [4]


def test_module_level_functions_use_the_current_run(store_dir: Path) -> None:
    run = _init(store_dir)
    assert rltrack.run is run
    rltrack.log({"x": 1.0})
    rltrack.finish()
    assert rltrack.run is None
    assert rltrack.Api(store_dir).run(run.id).series("x")[2].tolist() == [1.0]


def test_module_level_log_without_a_run_raises() -> None:
    with pytest.raises(rltrack.RltrackError, match=r"call rltrack\.init\(\) first"):
        rltrack.log({"x": 1.0})


def test_disabled_mode_stores_nothing(store_dir: Path) -> None:
    run = rltrack.init(project="p", dir=store_dir, mode="disabled")
    run.log({"x": 1.0})
    run.config["a"] = 1
    run.finish()
    assert not store_dir.exists()


def test_environment_variables_fill_in_arguments(store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RLTRACK_DIR", str(store_dir))
    monkeypatch.setenv("RLTRACK_PROJECT", "from-env")
    monkeypatch.setenv("RLTRACK_RUN_ID", "envrun1")
    run = rltrack.init(system_metrics=False)
    run.finish()
    view = rltrack.Api(store_dir).run("envrun1")
    assert view.project == "from-env"


def test_default_store_is_rltrack_runs_in_the_working_directory() -> None:
    run = rltrack.init(project="p", system_metrics=False)
    run.finish()
    assert (Path.cwd() / "rltrack-runs" / "rltrack.db").exists()
    assert rltrack.Api().run(run.id).state == "finished"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mode": "cloud"}, "init\\(mode='cloud'\\) must be one of"),
        ({"resume": "maybe"}, "init\\(resume='maybe'\\)"),
        ({"id": "has space"}, "init\\(id='has space'\\)"),
        ({"source": "real robot"}, "init\\(source='real robot'\\)"),
        ({"tags": "ppo"}, "init\\(tags='ppo'\\) must be a list of strings"),
        ({"config": [1, 2]}, "init\\(config=\\[1, 2\\]\\)"),
        ({"system_metrics": -1}, "init\\(system_metrics=-1\\)"),
    ],
)
def test_bad_init_arguments_raise(store_dir: Path, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidValueError, match=match):
        _init(store_dir, **kwargs)


def test_metadata_records_where_the_run_ran(store_dir: Path) -> None:
    run = _init(store_dir)
    run.finish()
    meta = rltrack.Api(store_dir).run(run.id).metadata
    assert {"host", "platform", "python", "argv", "pid", "cwd"} <= set(meta)


def test_run_fields_are_stored(store_dir: Path) -> None:
    run = _init(store_dir, name="ppo-seed1", group="ppo", tags=["baseline", "cartpole"], notes="first try",
                job_type="train")
    run.finish()
    view = rltrack.Api(store_dir).run(run.id)
    assert (view.name, view.group, view.tags, view.notes, view.job_type) == (
        "ppo-seed1", "ppo", ["baseline", "cartpole"], "first try", "train"
    )
    assert view.created_ns <= (view.ended_ns or 0)


def test_system_metrics_land_under_system_prefix_at_the_current_step(store_dir: Path) -> None:
    from rltrack.system_metrics import SystemSampler

    run = _init(store_dir, system_metrics=30)
    run.flush()  # the sampler starts once the writer has warmed up (after init returned)
    assert run._sampler.running
    run.log({"x": 1.0}, step=40)
    run._log_system(SystemSampler(gpu=False).sample())  # what the sampler thread emits each interval
    run.finish()
    view = rltrack.Api(store_dir).run(run.id)
    assert {"system/cpu_percent", "system/memory_percent", "system/proc_rss_bytes"} <= set(view.keys())
    assert view.series("system/proc_rss_bytes")[0].tolist() == [41]
    assert view.series("system/proc_rss_bytes")[2][0] > 0


def test_calls_with_equal_key_counts_but_other_keys_or_order_keep_their_values(store_dir: Path) -> None:
    run = _init(store_dir)
    run.log({"a": 1.0, "b": 2.0}, step=0)
    run.log({"b": 20.0, "a": 10.0}, step=1)  # same keys, other order
    run.log({"a": 100.0, "c": 300.0}, step=2)  # same count, other keys
    run.finish()
    view = rltrack.Api(store_dir).run(run.id)
    assert view.series("a")[2].tolist() == [1.0, 10.0, 100.0]
    assert view.series("b")[2].tolist() == [2.0, 20.0]
    assert view.series("c")[0].tolist() == [2]


def test_init_and_finish_each_print_one_line_to_stderr(
    store_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RLTRACK_QUIET", raising=False)
    run = rltrack.init(project="talk", name="loud-run", dir=store_dir, system_metrics=False)
    out, err = capsys.readouterr()
    assert out == ""  # stdout stays the program's own
    assert err == (
        f"rltrack: run 'loud-run' (id {run.id}) stored in {store_dir.resolve()}; "
        f"see it with: rltrack ui --dir {store_dir}\n"
    )
    for i in range(10):
        run.log({"a": float(i), "b": 1.0})
    run.finish()
    assert capsys.readouterr().err == (
        f"rltrack: run 'loud-run' ({run.id}) finished: 20 values of 2 keys stored in {store_dir / 'rltrack.db'}\n"
    )


def test_a_second_source_says_it_ended_its_source_in_plain_numbers(
    store_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RLTRACK_QUIET", raising=False)
    sim = rltrack.init(project="talk", name="pair", dir=store_dir, system_metrics=False)
    sim.log({"a": 1.0})
    real = rltrack.init(id=sim.id, resume="must", source="real", dir=store_dir, system_metrics=False)
    real.log({f"joint/{i}": 0.5 for i in range(1200)})
    capsys.readouterr()
    real.finish()
    assert capsys.readouterr().err == (
        f"rltrack: source 'real' of run 'pair' ({sim.id}) finished: 1,200 values of 1,200 keys stored in "
        f"{store_dir / 'rltrack.db'}\n"
    )
    sim.finish()
    assert capsys.readouterr().err == (
        f"rltrack: run 'pair' ({sim.id}) finished: 1 value of 1 key stored in {store_dir / 'rltrack.db'}\n"
    )


def test_init_names_the_dashboard_that_serves_the_store(
    store_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from rltrack.store.liveness import DASHBOARD_FILE, announce_dashboard

    monkeypatch.delenv("RLTRACK_QUIET", raising=False)
    store_dir.mkdir()
    announce_dashboard(store_dir, "http://127.0.0.1:8123/")  # this process plays `rltrack ui`
    run = rltrack.init(project="talk", dir=store_dir, system_metrics=False)
    assert capsys.readouterr().err.endswith(f"(id {run.id}) live at http://127.0.0.1:8123/runs/{run.id}\n")
    run.finish()
    # A dashboard that has stopped (its pid is gone) is not announced.
    record = (store_dir / DASHBOARD_FILE).read_text().replace(f'"pid": {os.getpid()}', '"pid": 999999999')
    (store_dir / DASHBOARD_FILE).write_text(record)
    capsys.readouterr()
    rltrack.init(project="talk", dir=store_dir, system_metrics=False).finish()
    assert "stored in" in capsys.readouterr().err


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_quiet_runs_print_nothing(
    store_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    if how == "environment":
        monkeypatch.setenv("RLTRACK_QUIET", "1")
        run = rltrack.init(project="talk", dir=store_dir, system_metrics=False)
    else:
        monkeypatch.delenv("RLTRACK_QUIET", raising=False)
        run = rltrack.init(project="talk", dir=store_dir, system_metrics=False, quiet=True)
    run.log({"a": 1.0})
    run.finish()
    assert capsys.readouterr() == ("", "")
