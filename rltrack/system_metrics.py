"""Background sampling of CPU, memory, disk, network and NVIDIA GPU metrics under ``system/``.

:class:`SystemSampler` takes one sample (≈0.2 ms without GPUs on the 2-core dev machine);
:class:`SystemMetricsThread` calls it every ``interval_s`` seconds on a daemon thread and hands
each sample to a callback. psutil and NVML (``pynvml`` from the ``nvidia-ml-py`` distribution)
are imported on that thread, never when ``rltrack`` is imported.

Keys (all floats):

- ``system/cpu_percent`` (whole machine, 0-100), ``system/memory_used_bytes`` (total minus
  available, the same base as ``system/memory_percent``), ``system/proc_rss_bytes`` and
  ``system/proc_cpu_percent`` (this process only; 100 = one core busy, so it can exceed 100).
- ``system/disk_read_bytes_per_s``, ``system/disk_write_bytes_per_s`` (absent where the OS
  reports no disk counters, e.g. some containers), ``system/net_sent_bytes_per_s``,
  ``system/net_recv_bytes_per_s``: rates since the previous sample, never negative.
- Per NVIDIA GPU ``i``: ``system/gpu/{i}/utilization_percent``, ``memory_used_bytes``,
  ``temperature_c``, ``power_w``, ``sm_clock_mhz``. A metric the board does not support is
  left out; without a driver there are no GPU keys and no error.

Child processes are not walked: psutil's recursive ``children()`` alone costs ~1 ms a sample.
"""

from __future__ import annotations

import importlib
import threading
import time
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

from rltrack.errors import InvalidValueError, RltrackWarning

__all__ = ["SystemMetricsThread", "SystemSampler"]

PREFIX = "system/"

#: Per-GPU metrics: key suffix -> function(pynvml module, device handle) -> value.
_GPU_METRICS: dict[str, Callable[[Any, Any], float]] = {
    "utilization_percent": lambda nv, h: float(nv.nvmlDeviceGetUtilizationRates(h).gpu),
    "memory_used_bytes": lambda nv, h: float(nv.nvmlDeviceGetMemoryInfo(h).used),
    "temperature_c": lambda nv, h: float(nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU)),
    "power_w": lambda nv, h: nv.nvmlDeviceGetPowerUsage(h) / 1000.0,  # NVML reports milliwatts
    "sm_clock_mhz": lambda nv, h: float(nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_SM)),
}


class _Gpus:
    """NVML handles of every NVIDIA GPU; metrics a board reports NotSupported are skipped afterwards."""

    def __init__(self, nvml: ModuleType, handles: list[Any]) -> None:
        self._nvml = nvml
        self._handles = handles
        self._unsupported: set[tuple[int, str]] = set()

    @classmethod
    def open(cls) -> _Gpus | None:
        """Initialise NVML; None when nvidia-ml-py, the driver or any GPU is missing."""
        try:
            # importlib: nvidia-ml-py ships no type information, and this keeps the import lazy.
            nvml = importlib.import_module("pynvml")
        except ImportError:
            return None
        try:
            nvml.nvmlInit()
        except nvml.NVMLError:  # no driver: NVMLError_LibraryNotFound / DriverNotLoaded
            return None
        try:
            handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(nvml.nvmlDeviceGetCount())]
        except nvml.NVMLError:
            nvml.nvmlShutdown()
            return None
        if not handles:
            nvml.nvmlShutdown()
            return None
        return cls(nvml, handles)

    def sample(self, out: dict[str, float]) -> None:
        """Add every supported metric of every GPU to ``out``."""
        nvml = self._nvml
        for i, handle in enumerate(self._handles):
            for name, read in _GPU_METRICS.items():
                if (i, name) in self._unsupported:
                    continue
                try:
                    out[f"{PREFIX}gpu/{i}/{name}"] = read(nvml, handle)
                except nvml.NVMLError_NotSupported:
                    self._unsupported.add((i, name))
                except nvml.NVMLError:
                    # GpuIsLost, NoPermission, Unknown...: leave this metric out of this sample only.
                    continue

    def close(self) -> None:
        """Release NVML."""
        try:
            self._nvml.nvmlShutdown()
        except self._nvml.NVMLError:
            return


class SystemSampler:
    """Takes samples of machine and process metrics; see the module docstring for the keys.

    Rates are per second since the previous sample (or since the sampler was made, for the first
    one); CPU percentages likewise cover that interval, so the first sample right after making the
    sampler covers almost no time.

    Example:
        >>> sampler = SystemSampler(gpu=False)
        >>> 0 <= sampler.sample()["system/memory_percent"] <= 100
        True
    """

    def __init__(self, *, gpu: bool = True) -> None:
        """Import psutil, prime its CPU counters and, if ``gpu``, initialise NVML.

        Args:
            gpu: Sample NVIDIA GPUs when NVML initialises (absent driver: no GPU keys, no error).
        """
        import psutil

        self._psutil = psutil
        self._process = psutil.Process()
        # psutil's first cpu_percent() call returns 0.0: it only sets the reference point.
        psutil.cpu_percent(interval=None)
        self._process.cpu_percent(interval=None)
        self._last_t = time.monotonic()
        self._disk = psutil.disk_io_counters()
        self._net = psutil.net_io_counters()
        self._gpus = _Gpus.open() if gpu else None

    @property
    def has_gpus(self) -> bool:
        """Whether NVML initialised and found at least one GPU."""
        return self._gpus is not None

    def sample(self) -> dict[str, float]:
        """Return one sample: a flat dict of ``system/...`` keys to floats."""
        psutil = self._psutil
        now = time.monotonic()
        dt = max(now - self._last_t, 1e-9)
        self._last_t = now
        memory = psutil.virtual_memory()
        with self._process.oneshot():
            rss = self._process.memory_info().rss
            proc_cpu = self._process.cpu_percent(interval=None)
        out: dict[str, float] = {
            PREFIX + "cpu_percent": float(psutil.cpu_percent(interval=None)),
            PREFIX + "memory_used_bytes": float(memory.total - memory.available),
            PREFIX + "memory_percent": float(memory.percent),
            PREFIX + "proc_rss_bytes": float(rss),
            PREFIX + "proc_cpu_percent": float(proc_cpu),
        }
        disk = psutil.disk_io_counters()
        if disk is not None and self._disk is not None:
            out[PREFIX + "disk_read_bytes_per_s"] = _rate(disk.read_bytes, self._disk.read_bytes, dt)
            out[PREFIX + "disk_write_bytes_per_s"] = _rate(disk.write_bytes, self._disk.write_bytes, dt)
        self._disk = disk
        net = psutil.net_io_counters()
        out[PREFIX + "net_sent_bytes_per_s"] = _rate(net.bytes_sent, self._net.bytes_sent, dt)
        out[PREFIX + "net_recv_bytes_per_s"] = _rate(net.bytes_recv, self._net.bytes_recv, dt)
        self._net = net
        if self._gpus is not None:
            self._gpus.sample(out)
        return out

    def close(self) -> None:
        """Release NVML if it was initialised; the sampler must not be used afterwards."""
        if self._gpus is not None:
            self._gpus.close()
            self._gpus = None


def _rate(current: int, previous: int, dt: float) -> float:
    # Counters can go backwards (an interface removed, a counter wrapped): report 0, not a negative rate.
    return max(current - previous, 0) / dt


class SystemMetricsThread:
    """Samples system metrics every ``interval_s`` seconds on a daemon thread and calls ``emit``.

    The first sample comes one interval after :meth:`start` (CPU percentages need an interval
    to measure). An exception while sampling or in ``emit`` never stops training: it goes to
    ``on_error(cause, exception)`` (causes ``"system_metrics/init"``, ``"system_metrics/sample"``,
    ``"system_metrics/emit"``) and the thread carries on; with no ``on_error`` (or if it raises)
    it is warned once per cause as :class:`~rltrack.errors.RltrackWarning`. Only a failure to
    set up (psutil missing) ends the thread.

    Example:
        >>> samples = []
        >>> thread = SystemMetricsThread(0.01, samples.append)
        >>> thread.start()
        >>> thread.stop()
    """

    def __init__(
        self,
        interval_s: float,
        emit: Callable[[dict[str, float]], None],
        on_error: Callable[[str, BaseException], None] | None = None,
        *,
        gpu: bool = True,
    ) -> None:
        """Prepare the thread; nothing is imported or sampled until :meth:`start`.

        Args:
            interval_s: Seconds between samples (> 0).
            emit: Called on the sampler thread with each sample.
            on_error: Called with (cause, exception) for each failure; see the class docstring.
            gpu: Sample NVIDIA GPUs when NVML initialises.

        Raises:
            InvalidValueError: ``interval_s`` is not a positive number.
        """
        if isinstance(interval_s, bool) or not isinstance(interval_s, (int, float)) or not interval_s > 0:
            raise InvalidValueError(f"interval_s={interval_s!r} is not a positive number; pass e.g. 10")
        self.interval_s = float(interval_s)
        self._emit = emit
        self._on_error = on_error
        self._gpu = gpu
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._warned: set[str] = set()

    def start(self) -> None:
        """Start the daemon thread (once; never after :meth:`stop`)."""
        # start() runs on the run's writer thread and stop() on the caller's (finish()): the lock
        # keeps stop() from joining a thread that is assigned but not yet started.
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return
            thread = threading.Thread(target=self._run, name="rltrack-system-metrics", daemon=True)
            thread.start()
            self._thread = thread

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the thread and wait for it (at most ``timeout_s``, if ``emit`` is stuck)."""
        self._stop.set()
        with self._lock:
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    @property
    def running(self) -> bool:
        """Whether the thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        try:
            sampler = SystemSampler(gpu=self._gpu)
        except Exception as err:
            self._report("system_metrics/init", err)
            return
        try:
            while not self._stop.wait(self.interval_s):
                try:
                    sample = sampler.sample()
                except Exception as err:
                    self._report("system_metrics/sample", err)
                    continue
                try:
                    self._emit(sample)
                except Exception as err:
                    self._report("system_metrics/emit", err)
        finally:
            sampler.close()

    def _report(self, cause: str, err: BaseException) -> None:
        if self._on_error is not None:
            try:
                self._on_error(cause, err)
                return
            except Exception as handler_err:
                err = handler_err
                cause = "system_metrics/on_error"
        if cause not in self._warned:
            self._warned.add(cause)
            warnings.warn(
                f"rltrack system metrics: {cause} failed with {err!r}; sampling continues",
                RltrackWarning,
                stacklevel=2,
            )
