"""``Run``: one training run (or one robot session) being logged."""

from __future__ import annotations

import operator
import os
import sqlite3
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from rltrack import _live
from rltrack._state import Config, Summary, SummaryMode
from rltrack._values import prepare
from rltrack._writer import WAKE_AT, BackgroundWriter
from rltrack.errors import InvalidValueError, RltrackError, RltrackWarning, RunFinishedError
from rltrack.store.base import WriterBackend
from rltrack.types import RUN_STATES
from rltrack.validate import MAX_STEP, check_step

if TYPE_CHECKING:
    from rltrack.artifacts import Artifact, ArtifactVersion

__all__ = ["Run"]

_PLAIN = frozenset((float, int))


class Run:
    """A run being logged: values, media, config and summary go into the store.

    Create it with :func:`rltrack.init`. ``log()`` only checks and enqueues; a background
    thread stores values at least every second. ``flush()`` and ``finish()`` block until
    everything logged before them is stored.

    Example:
        >>> import rltrack, tempfile
        >>> with rltrack.init(project="demo", dir=tempfile.mkdtemp(), system_metrics=False) as run:
        ...     run.log({"train/loss": 0.5})
    """

    def __init__(
        self,
        store: WriterBackend,
        *,
        id: str,
        name: str,
        project: str,
        group: str | None,
        source: str,
        run_dir: Path,
        config: Mapping[str, Any],
        summary: Mapping[str, Any],
        step: int,
        owner: bool,
        metadata: Callable[[], dict[str, Any]] | None,
    ) -> None:
        self.id = id
        self.name = name
        self.project = project
        self.group = group
        self.source = source
        self.dir = run_dir
        self.step = step
        self._finished = False
        self._store = store
        self._known: set[str] = set()
        #: Called in ``log()`` with (numeric values, step); sweeps report to their pruner here.
        self._observers: list[Callable[[Mapping[str, float], int], None]] = []
        #: Set by a sweep that pruned this trial; training integrations stop when they see it.
        self._should_stop = False
        #: Called (once, then dropped) by flush() and finish(): each blocks until background work
        #: of an integration is logged, e.g. the SB3 callback's last video, so learn() need not wait.
        self._pending: list[Callable[[], None]] = []
        self._summary = Summary(summary)
        self._writer = BackgroundWriter(
            store, run_id=id, source=source, run_dir=run_dir, summary=self._summary, owner=owner, metadata=metadata
        )
        self._queue = self._writer.queue
        self._config = Config(config, self._writer.set_config)
        self._sampler: Any = None
        self._metrics: dict[str, dict[str, Any]] = {}
        #: When False, finish() prints a one-line summary to stderr (init() sets it; see init(quiet=)).
        self.quiet = True
        #: Called once by finish() before anything is closed, while log() still works: the
        #: TensorBoard mirror's last read, save(policy="end") copies, removing watch() hooks.
        self._at_finish: list[Callable[[], None]] = []
        #: Called with the final state once finish() has stored everything (the notebook panel freezes).
        self._after_finish: list[Callable[[str], None]] = []
        self._alerts: list[dict[str, Any]] = []
        self._preempting = False

    # ---- logging ------------------------------------------------------------------------------

    def log(
        self,
        data: Mapping[str, Any],
        step: int | None = None,
        commit: bool = True,
        *,
        t_ns: int | None = None,
    ) -> None:
        """Record values (and media) at a step.

        Values are numbers (int, float, bool, numpy or torch scalars; NaN and ±inf are kept)
        or media (:class:`rltrack.Video`, :class:`rltrack.Image`, :class:`rltrack.Histogram`).
        Nested dicts flatten with ``/``. With ``step=None`` the run's own counter is used and,
        if ``commit``, advanced by one; an explicit ``step`` moves the counter there. A key
        logged twice at one step keeps both points (history returns both, in order; the
        summary sees the later one).

        Args:
            data: Key to value.
            step: The x-axis position (SB3: total env timesteps). Defaults to ``run.step``.
            commit: Advance the step counter after this call (``False`` adds more values to
                the same step in a later call).
            t_ns: Event time in integer ns since the epoch (robot time); defaults to now.

        Raises:
            RunFinishedError: the run has finished.
            InvalidKeyError: a key is empty, too long, has control characters, is reserved
                or nests too deep.
            InvalidValueError: a value is neither a number nor media, or ``step`` is not an
                integer.
        """
        if self._finished:
            raise RunFinishedError(
                f"run {self.id!r} has finished; log() after finish() is refused: start a new run with "
                "rltrack.init() or continue this one with rltrack.init(id=..., resume='allow')"
            )
        if step is None:
            step = self.step
        # Plain ints take one chained comparison; anything else (numpy ints, bools, out of
        # range) gets check_step's message. A step the store cannot hold never reaches the writer.
        if step.__class__ is not int or not 0 <= step <= MAX_STEP:
            step = check_step(step)
        if t_ns is None:
            t_ns = time.time_ns()
        elif t_ns.__class__ is not int or not -MAX_STEP <= t_ns <= MAX_STEP:
            t_ns = _check_t_ns(t_ns)
        # Fast path: every key seen before and every value a plain float/int. Anything else
        # (first sight of a key, numpy/torch scalars, nesting, media) goes through prepare().
        # Both tests iterate in C: ~2x cheaper than a Python loop over the items.
        if data.__class__ is dict and self._known.issuperset(data) and _PLAIN.issuperset(map(type, data.values())):
            numbers = data.copy()
        else:
            numbers = self._prepare(data, step, t_ns)
        if numbers:
            self._queue.append((step, t_ns, numbers))
            if len(self._queue) >= WAKE_AT:
                self._writer.kick()
            if self._observers:
                for observer in self._observers:
                    observer(numbers, step)
        self.step = step + 1 if commit else step

    def _prepare(self, data: Mapping[str, Any], step: int, t_ns: int) -> dict[str, float | int]:
        numbers, media = prepare(data, self._known)
        for key, obj in media:
            self._writer.add_media(key, step, t_ns, obj)
        return numbers

    def _start_system_metrics(self, interval_s: float) -> None:
        from rltrack.system_metrics import SystemMetricsThread

        self._sampler = SystemMetricsThread(interval_s, self._log_system, self._writer.report)
        self._writer.when_warm(self._sampler.start)

    def _log_system(self, values: dict[str, float]) -> None:
        # Sampler thread: keys are rltrack's own, so they skip validation; the step is
        # wherever training is now, and the step counter is left alone.
        if not self._finished:
            self._queue.append((self.step, time.time_ns(), values))

    def define_metric(
        self,
        key: str,
        *,
        summary: SummaryMode = "last",
        goal: str | None = None,
        step_metric: str | None = None,
    ) -> None:
        """Say how a key is summarised (``"train/*"`` globs work) and which way is better.

        Args:
            key: The key or a glob pattern.
            summary: ``last`` (default), ``min``, ``max``, ``mean``, ``first`` or ``none``.
            goal: ``"minimize"`` or ``"maximize"``; stored in the run's metadata for the
                dashboard and sweeps.
            step_metric: Another key to use as this key's x-axis in the dashboard.
        """
        if goal not in (None, "minimize", "maximize"):
            raise InvalidValueError(f"define_metric goal={goal!r} must be 'minimize', 'maximize' or None")
        self._summary.define(key, summary)
        self._metrics[key] = {"summary": summary, "goal": goal, "step_metric": step_metric}
        self._writer.add_metadata({"metrics": dict(self._metrics)})

    def log_artifact(
        self,
        artifact_or_path: Artifact | str | os.PathLike[str],
        *,
        name: str | None = None,
        type: str | None = None,
        aliases: Sequence[str] = (),
    ) -> ArtifactVersion:
        """Store files as a new version of an artifact (content-addressed; see :mod:`rltrack.artifacts`)."""
        from rltrack.artifacts import log_artifact

        return log_artifact(self, artifact_or_path, name=name, type=type, aliases=aliases)

    def use_artifact(self, ref: str) -> ArtifactVersion:
        """Record that this run used an artifact version (``"name"``, ``"name:alias"`` or ``"name:v3"``)."""
        from rltrack.artifacts import use_artifact

        return use_artifact(self, ref)

    def save(
        self, glob_str: str | os.PathLike[str], base_path: str | os.PathLike[str] | None = None, policy: str = "live"
    ) -> list[str]:
        """Copy a file, or the files a glob matches, into the run's ``files/`` folder (wandb's ``save``).

        Args:
            glob_str: A path or glob (``"checkpoints/*.pt"``) under the working directory or ``base_path``.
            base_path: The folder stored paths are relative to (default: the working directory).
            policy: ``"now"`` (copy now), ``"end"`` (copy at ``finish()``)
                or ``"live"`` (now, every 10 s while the file changes, and at ``finish()``).

        Returns:
            The stored paths, relative to the run's folder (``files/...``), copied now.

        Raises:
            InvalidValueError: ``policy`` is unknown, or the path is outside the working
                directory and no ``base_path`` holds it.
        """
        from rltrack._files import save

        return save(self, glob_str, base_path, policy)

    def alert(self, title: str, text: str, level: str = "INFO", wait_duration: float | None = None) -> None:
        """Record an alert (title, text, level) with the run's step and time; the run page lists them.

        ``level`` is ``INFO``, ``WARN`` or ``ERROR`` (or wandb's ``AlertLevel``); ``wait_duration``
        is accepted for wandb's sake: alerts are records here, every one is kept.
        """
        from rltrack._files import alert_record

        record = alert_record(title, text, level, self.step)
        self._alerts.append(record)
        self._writer.add_metadata({"alerts": list(self._alerts)})
        if not self.quiet:
            print(f"rltrack: alert [{record['level']}] {title}: {text}", file=sys.stderr, flush=True)

    def mark_preempting(self) -> None:
        """Say this run may be preempted: a SIGTERM then ends it ``failed`` with reason "preempted", resumable."""
        self._preempting = True
        self._writer.add_metadata({"preempting": True})

    def watch(self, models: Any, criterion: Any = None, log: str | None = "gradients", log_freq: int = 1000,
              idx: int | None = None, log_graph: bool = False) -> None:
        """Log histograms and norms of a torch module's gradients and/or parameters (see :func:`rltrack.watch`)."""
        from rltrack._watch import watch

        watch(self, models, log=log, log_freq=log_freq)

    def unwatch(self, models: Any = None) -> None:
        """Remove the hooks :meth:`watch` added (for ``models``, or all)."""
        from rltrack._watch import unwatch

        unwatch(self, models)

    @property
    def url(self) -> str | None:
        """The run's dashboard page: the server of an online run, or ``rltrack ui`` serving its store; else None."""
        where = str(self._store.db.path)
        if where.startswith(("http://", "https://")):
            return f"{where.rstrip('/')}/runs/{self.id}"
        from rltrack.store.liveness import dashboard_url

        base = dashboard_url(self.dir.parent.parent)  # run folders are <store>/runs/<id>
        return None if base is None else f"{base}/runs/{self.id}"

    def get_url(self) -> str | None:
        """Return :attr:`url` (wandb's ``run.get_url()``)."""
        return self.url

    @property
    def path(self) -> str:
        """``project/id``, as wandb's ``run.path`` names a run (without an entity)."""
        return f"{self.project}/{self.id}"

    @property
    def entity(self) -> None:
        """Always None: a local store has no teams (wandb's ``run.entity``)."""
        return None

    @property
    def config(self) -> Config:
        """The run's hyperparameters (dict-like; every change is stored)."""
        return self._config

    @property
    def summary(self) -> Summary:
        """One value per key (last by default); exact after ``flush()``."""
        return self._summary

    @property
    def finished(self) -> bool:
        """Whether ``finish()`` has been called."""
        return self._finished

    # ---- lifecycle ---------------------------------------------------------------------------

    def flush(self) -> None:
        """Block until everything logged so far (media included) is stored."""
        if not self._finished:
            self._await_pending()
            self._writer.flush()

    def _await_pending(self) -> None:
        while self._pending:
            try:
                self._pending.pop(0)()
            except Exception as err:  # an integration's failure must not break flush()/finish()
                self._writer.report("pending-work", err)

    def finish(self, exit_code: int = 0, *, state: str | None = None, reason: str | None = None) -> None:
        """Store everything, then mark the run finished (or failed when ``exit_code`` is non-zero).

        Calling it again does nothing.

        Args:
            exit_code: 0 for success; anything else marks the run ``failed``.
            state: Override the final state (integrations use ``"pruned"``, ``"failed"``).
            reason: A short reason shown with a failed or pruned run.
        """
        if self._finished:
            return
        if state is None:
            state = "finished" if exit_code == 0 else "failed"
        if state not in RUN_STATES or state == "running":
            raise InvalidValueError(f"finish(state={state!r}) must be one of finished, failed, crashed, pruned")
        if state == "failed" and reason is None:
            reason = f"exit code {exit_code}"
        while self._at_finish:
            try:
                self._at_finish.pop(0)()
            except Exception as err:  # a last read or copy failing must not stop the run ending
                self._writer.report("finish-hooks", err)
        self._await_pending()
        self._finished = True
        if self._sampler is not None:
            self._sampler.stop()
        self._writer.close()
        writer = self._writer
        if writer.death is not None:
            # A bug killed the writer thread: the run must not read as a clean end.
            state = "crashed"
            reason = f"rltrack's background writer stopped ({failure_reason(writer.death)}); later values were lost"
            self._store_summary()
        elif writer.dropped_values and state == "finished" and reason is None:
            reason = f"{writer.dropped_values:,} logged values could not be stored (see _rltrack/dropped/* in summary)"
        try:
            writer.end(state=state, reason=reason, exit_code=exit_code)
        except (RltrackError, sqlite3.Error, OSError) as err:
            # Finishing must never raise into training: counted and warned instead.
            writer.report("finish", err)
        _live.forget(self)
        for hook in self._after_finish:
            hook(state)
        if not self.quiet:
            print(f"rltrack: {self._end_line(state)}", file=sys.stderr, flush=True)
        if writer.death is not None or writer.dropped_values:
            warnings.warn(self._loss_message(), RltrackWarning, stacklevel=2)

    def _store_summary(self) -> None:
        """Store the summary (with its ``_rltrack/`` counters) from this thread: the writer's is gone."""
        try:
            self._store.write(self.id, self.source, summary=self._summary.snapshot(), owner=self._writer.owner)
        except Exception as err:  # the store may be what killed the writer
            self._writer.report("finish", err)

    def _loss_message(self) -> str:
        writer = self._writer
        counts = {k: v for k, v in self._summary.items() if k.startswith("_rltrack/dropped/")}
        what = f"{writer.dropped_values:,} logged values were not stored ({counts})"
        if writer.death is not None:
            return (
                f"rltrack run {self.id!r}: the background writer thread died ({failure_reason(writer.death)}); "
                f"the run is marked crashed; {what}. This is a bug in rltrack: please report it"
            )
        return (
            f"rltrack run {self.id!r} finished with data missing: {what}; the run's summary counts them under "
            "'_rltrack/dropped/<cause>' and its errors under '_rltrack/errors/<cause>'"
        )

    def _end_line(self, state: str) -> str:
        writer = self._writer
        keys, values = len(writer.keys), writer.stored_values
        who = f"run {self.name!r} ({self.id})"
        if not writer.owner:
            # A second writer (the robot's 'real' source beside training) ends its source, not the run.
            who = f"source {self.source!r} of {who}"
        text = (
            f"{who} {state}: {values:,} value{'' if values == 1 else 's'} of {keys:,} "
            f"key{'' if keys == 1 else 's'} stored in {self._store.db.path}"
        )
        if writer.dropped_values:
            text += f"; {writer.dropped_values:,} values NOT stored (see the warning)"
        return text

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            self.finish()
        else:
            self.finish(1, reason=failure_reason(exc))

    def _repr_html_(self) -> str:
        from rltrack._html import run_html

        return run_html(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from rltrack._nbpanel import run_bundle

        return run_bundle(self)

    def __repr__(self) -> str:
        state = "finished" if self._finished else "running"
        return f"<Run {self.id} name={self.name!r} project={self.project!r} source={self.source!r} {state}>"


def failure_reason(exc: BaseException) -> str:
    """Describe the exception that ended a run: ``"ValueError: reward exploded"``, ``"KeyboardInterrupt"``."""
    text = str(exc)
    return (f"{type(exc).__name__}: {text}" if text else type(exc).__name__)[:500]


def _check_t_ns(t_ns: object) -> int:
    """Return ``t_ns`` as an int that fits the store's signed 64-bit times."""
    try:
        if isinstance(t_ns, bool):
            raise TypeError
        value = operator.index(t_ns)  # type: ignore[arg-type]  # numpy ints and friends
    except TypeError:
        raise InvalidValueError(
            f"log() t_ns must be an integer number of nanoseconds, got {t_ns!r} ({type(t_ns).__name__}); "
            "pass time.time_ns() or a message header stamp"
        ) from None
    if not -MAX_STEP <= value <= MAX_STEP:
        raise InvalidValueError(f"log() t_ns must fit a signed 64-bit integer (ns since the epoch), got {value!r}")
    return value
