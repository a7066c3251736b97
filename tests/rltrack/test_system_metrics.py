from __future__ import annotations

import threading
from collections import namedtuple
from types import SimpleNamespace

import psutil
import pytest

from rltrack.errors import InvalidValueError, RltrackWarning
from rltrack.system_metrics import SystemMetricsThread, SystemSampler

pynvml = pytest.importorskip("pynvml")

BASE_KEYS = {
    "system/cpu_percent",
    "system/memory_used_bytes",
    "system/memory_percent",
    "system/proc_rss_bytes",
    "system/proc_cpu_percent",
    "system/disk_read_bytes_per_s",
    "system/disk_write_bytes_per_s",
    "system/net_sent_bytes_per_s",
    "system/net_recv_bytes_per_s",
}
GPU_METRICS = ("utilization_percent", "memory_used_bytes", "temperature_c", "power_w", "sm_clock_mhz")
# A generous bound for joins in these tests: a healthy stop() returns in milliseconds.
JOIN_S = 10.0


@pytest.fixture
def no_nvml(monkeypatch):
    """The state of a machine without an NVIDIA driver, wherever the tests run."""

    def missing_library() -> None:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)

    monkeypatch.setattr(pynvml, "nvmlInit", missing_library)


@pytest.fixture
def fake_nvml(monkeypatch):
    """Two GPUs through pynvml's functions: GPU 1 has no SM clock; calls are counted."""
    calls: dict[str, int] = {}
    lost: set[int] = set()

    def counted(name, result):
        def call(handle, *args):
            calls[name] = calls.get(name, 0) + 1
            if handle in lost:
                raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)
            return result(handle)

        return call

    def sm_clock(handle):
        if handle == 1:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return 1410 + handle

    monkeypatch.setattr(pynvml, "nvmlInit", lambda: calls.__setitem__("init", 1))
    monkeypatch.setattr(pynvml, "nvmlShutdown", lambda: calls.__setitem__("shutdown", 1))
    monkeypatch.setattr(pynvml, "nvmlDeviceGetCount", lambda: 2)
    monkeypatch.setattr(pynvml, "nvmlDeviceGetHandleByIndex", lambda i: i)
    monkeypatch.setattr(
        pynvml, "nvmlDeviceGetUtilizationRates", counted("util", lambda h: SimpleNamespace(gpu=40 + h, memory=3))
    )
    monkeypatch.setattr(
        pynvml, "nvmlDeviceGetMemoryInfo", counted("memory", lambda h: SimpleNamespace(used=2**30 * (h + 1)))
    )
    monkeypatch.setattr(pynvml, "nvmlDeviceGetTemperature", counted("temperature", lambda h: 60 + h))
    monkeypatch.setattr(pynvml, "nvmlDeviceGetPowerUsage", counted("power", lambda h: 123456 + h))
    monkeypatch.setattr(pynvml, "nvmlDeviceGetClockInfo", counted("clock", sm_clock))
    return SimpleNamespace(calls=calls, lost=lost)


def test_sample_has_plausible_values(no_nvml) -> None:
    sampler = SystemSampler()
    sample = sampler.sample()
    sampler.close()

    assert set(sample) == BASE_KEYS
    assert all(isinstance(v, float) for v in sample.values())
    assert 0 <= sample["system/memory_percent"] <= 100
    assert 0 <= sample["system/cpu_percent"] <= 100
    assert 0 < sample["system/memory_used_bytes"] <= psutil.virtual_memory().total
    assert sample["system/proc_rss_bytes"] > 0
    assert sample["system/proc_cpu_percent"] >= 0
    assert all(sample[k] >= 0 for k in BASE_KEYS if k.endswith("_per_s"))


def test_no_gpu_keys_without_a_driver(no_nvml) -> None:
    sampler = SystemSampler(gpu=True)

    assert not sampler.has_gpus
    assert not any(k.startswith("system/gpu/") for k in sampler.sample())


def test_sampler_works_with_the_real_nvml_library() -> None:
    sampler = SystemSampler()  # without a driver NVML fails to load and GPU keys are simply absent
    try:
        sample = sampler.sample()
        has_gpus = sampler.has_gpus
    finally:
        sampler.close()
    assert set(sample) >= BASE_KEYS
    assert any(k.startswith("system/gpu/0/") for k in sample) == has_gpus


def test_missing_disk_counters_leave_disk_keys_out(no_nvml, monkeypatch) -> None:
    monkeypatch.setattr(psutil, "disk_io_counters", lambda *a, **k: None)

    sample = SystemSampler().sample()

    assert set(sample) == BASE_KEYS - {"system/disk_read_bytes_per_s", "system/disk_write_bytes_per_s"}


def test_counters_going_backwards_give_zero_rates(no_nvml, monkeypatch) -> None:
    Net = namedtuple("Net", "bytes_sent bytes_recv")
    readings = iter([Net(10_000, 10_000), Net(5, 20_000)])
    monkeypatch.setattr(psutil, "net_io_counters", lambda *a, **k: next(readings))

    sample = SystemSampler().sample()

    assert sample["system/net_sent_bytes_per_s"] == 0.0
    assert sample["system/net_recv_bytes_per_s"] > 0.0


def test_gpu_metrics_per_device(fake_nvml) -> None:
    sampler = SystemSampler()

    sample = sampler.sample()

    assert sampler.has_gpus
    gpu = {k: v for k, v in sample.items() if k.startswith("system/gpu/")}
    expected = {f"system/gpu/{i}/{m}" for i in (0, 1) for m in GPU_METRICS} - {"system/gpu/1/sm_clock_mhz"}
    assert set(gpu) == expected
    assert gpu["system/gpu/0/utilization_percent"] == 40.0
    assert gpu["system/gpu/1/memory_used_bytes"] == float(2**31)
    assert gpu["system/gpu/1/temperature_c"] == 61.0
    assert gpu["system/gpu/0/power_w"] == pytest.approx(123.456)  # NVML reports milliwatts
    assert gpu["system/gpu/0/sm_clock_mhz"] == 1410.0
    sampler.close()
    assert fake_nvml.calls["shutdown"] == 1


def test_not_supported_metric_is_not_asked_again(fake_nvml) -> None:
    sampler = SystemSampler()
    sampler.sample()
    sampler.sample()

    # GPU 0 twice plus GPU 1 once (NotSupported), never again for GPU 1.
    assert fake_nvml.calls["clock"] == 3
    assert fake_nvml.calls["util"] == 4


def test_transient_gpu_error_drops_that_sample_only(fake_nvml) -> None:
    sampler = SystemSampler()
    fake_nvml.lost.add(0)
    during = sampler.sample()
    fake_nvml.lost.clear()
    after = sampler.sample()

    assert not any(k.startswith("system/gpu/0/") for k in during)
    assert "system/gpu/1/temperature_c" in during
    assert "system/gpu/0/temperature_c" in after


def test_thread_emits_samples_and_stops(no_nvml) -> None:
    samples: list[dict[str, float]] = []
    got_three = threading.Event()

    def emit(sample: dict[str, float]) -> None:
        samples.append(sample)
        if len(samples) == 3:
            got_three.set()

    thread = SystemMetricsThread(0.01, emit)
    thread.start()
    assert got_three.wait(JOIN_S)
    thread.stop(JOIN_S)

    assert not thread.running
    assert set(samples[0]) == BASE_KEYS


def test_stop_does_not_wait_for_the_interval(no_nvml) -> None:
    thread = SystemMetricsThread(3600, lambda sample: None)
    thread.start()
    assert thread.running

    thread.stop(JOIN_S)  # an Event wait wakes at once; a sleep would hold for an hour

    assert not thread.running


def test_stop_before_start_is_safe_and_start_afterwards_does_nothing(no_nvml) -> None:
    # A run finished within its writer's warm-up stops the sampler before the writer starts it.
    thread = SystemMetricsThread(0.01, lambda sample: None)
    thread.stop(JOIN_S)
    thread.start()
    assert not thread.running


def test_stop_racing_start_from_another_thread_never_raises(no_nvml) -> None:
    for _ in range(50):
        thread = SystemMetricsThread(3600, lambda sample: None)
        starter = threading.Thread(target=thread.start)
        starter.start()
        thread.stop(JOIN_S)  # before, during or after start(): joins only a started thread
        starter.join()
        thread.stop(JOIN_S)
        assert not thread.running


def test_emit_error_goes_to_on_error_and_sampling_continues(no_nvml) -> None:
    errors: list[tuple[str, BaseException]] = []
    second = threading.Event()
    calls = []

    def emit(sample: dict[str, float]) -> None:
        calls.append(sample)
        if len(calls) == 1:
            raise OSError("disk full")
        second.set()

    thread = SystemMetricsThread(0.01, emit, on_error=lambda cause, err: errors.append((cause, err)))
    thread.start()
    assert second.wait(JOIN_S)
    thread.stop(JOIN_S)

    assert [(cause, str(err)) for cause, err in errors] == [("system_metrics/emit", "disk full")]


def test_sample_error_goes_to_on_error_and_sampling_continues(no_nvml, monkeypatch) -> None:
    real = psutil.virtual_memory
    failures = iter([True])
    errors: list[str] = []
    emitted = threading.Event()

    def flaky():
        if next(failures, False):
            raise RuntimeError("procfs hiccup")
        return real()

    monkeypatch.setattr(psutil, "virtual_memory", flaky)
    thread = SystemMetricsThread(0.01, lambda s: emitted.set(), on_error=lambda cause, err: errors.append(cause))
    thread.start()
    assert emitted.wait(JOIN_S)
    thread.stop(JOIN_S)

    assert errors == ["system_metrics/sample"]


def test_without_on_error_a_failure_warns_once(no_nvml) -> None:
    emits = []
    third = threading.Event()

    def emit(sample: dict[str, float]) -> None:
        emits.append(sample)
        if len(emits) == 3:
            third.set()
        raise ValueError("bad sink")

    with pytest.warns(RltrackWarning, match=r"system_metrics/emit failed with ValueError\('bad sink'\)") as rec:
        thread = SystemMetricsThread(0.01, emit)
        thread.start()
        assert third.wait(JOIN_S)
        thread.stop(JOIN_S)

    assert len([w for w in rec if issubclass(w.category, RltrackWarning)]) == 1


@pytest.mark.parametrize("interval_s", [0, -1, True, "10"])
def test_bad_interval_raises(interval_s) -> None:
    with pytest.raises(InvalidValueError, match=r"interval_s=.* is not a positive number"):
        SystemMetricsThread(interval_s, lambda sample: None)
