"""``init()`` and the module-level ``log``/``finish``: a thin layer over :class:`Run` and a contextvar.

Also the process-exit safety net: every live run is flushed and finished at interpreter exit
(failed when an exception ended the program) and on SIGTERM.
"""

from __future__ import annotations

import argparse
import atexit
import os
import signal
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Mapping, Sequence
from contextvars import ContextVar, Token
from pathlib import Path
from types import FrameType
from typing import Any

from rltrack import _live as _live_module
from rltrack._config import config_dict as config_dict_of
from rltrack._config import defaults_from_cwd, filter_keys
from rltrack._disabled import DisabledRun
from rltrack._metadata import collect_metadata
from rltrack._run import Run, failure_reason
from rltrack._settings import Settings
from rltrack.errors import InvalidValueError, RltrackError, RltrackWarning, RunExistsError, RunNotFoundError
from rltrack.store.base import WriterBackend
from rltrack.store.database import Database
from rltrack.store.liveness import dashboard_url, is_alive, process_started_ns
from rltrack.store.paths import resolve_root
from rltrack.store.reader import CRASH_AFTER_S
from rltrack.store.writer import NewRun, StoreWriter, WriterInfo
from rltrack.types import DEFAULT_SOURCE
from rltrack.validate import check_label, check_run_id, check_source, check_text, portable

__all__ = ["current", "end_trial", "finish", "forget", "init", "log", "trial_run"]

# The same objects as rltrack._live's (Run.finish() forgets itself there without importing us).
_current: ContextVar[Run | None] = _live_module.current
#: The sweep trial's run while an agent runs its function: what init() without an id joins.
_trial: ContextVar[Run | None] = ContextVar("rltrack_trial", default=None)
_live: weakref.WeakSet[Run] = _live_module.live
_databases: dict[Path, Database] = {}
_db_lock = threading.Lock()
_hooks_installed = False

_MODES = ("offline", "online", "disabled")
_RESUMES = ("never", "allow", "must")
# wandb's other spellings of the same choices (mode and resume).
_ALIASES: dict[object, str | None] = {"dryrun": "offline", "run": "online", True: "allow", False: None, "auto": "allow"}
_ADJECTIVES = ("brisk", "calm", "eager", "bold", "quiet", "swift", "steady", "lucid", "nimble", "vivid")
_NOUNS = ("falcon", "otter", "comet", "lynx", "heron", "rover", "pendulum", "gecko", "kestrel", "walker")


def init(
    project: str | None = None,
    *,
    name: str | None = None,
    id: str | None = None,
    group: str | None = None,
    tags: Sequence[str] | None = None,
    config: Mapping[str, Any] | argparse.Namespace | str | os.PathLike[str] | object | None = None,
    notes: str | None = None,
    job_type: str | None = None,
    dir: str | os.PathLike[str] | None = None,
    mode: str | None = None,
    resume: str | bool | None = None,
    source: str = DEFAULT_SOURCE,
    system_metrics: bool | float = True,
    url: str | None = None,
    api_key: str | None = None,
    quiet: bool | None = None,
    entity: str | None = None,
    reinit: bool | str | None = None,
    save_code: bool | None = None,
    monitor_gym: bool | None = None,
    sync_tensorboard: bool | None = None,
    settings: Any = None,
    allow_val_change: bool | None = None,
    config_exclude_keys: Sequence[str] | None = None,
    config_include_keys: Sequence[str] | None = None,
    anonymous: str | None = None,
    force: bool | None = None,
    magic: Any = None,
    fork_from: str | None = None,
    resume_from: str | None = None,
) -> Run:
    """Start a run (or attach to one) and make it the current run.

    Everything logged lands in the store folder ``dir`` (default ``$RLTRACK_DIR`` or
    ``./rltrack-runs``). ``RLTRACK_PROJECT``, ``RLTRACK_MODE``, ``RLTRACK_RUN_ID`` and
    ``RLTRACK_RESUME`` fill arguments left as None.

    Args:
        project: Project name (default ``"default"``).
        name: Display name (default: generated, e.g. ``brisk-falcon-3``).
        id: Run id (url-safe, up to 64 characters); generated when None.
        group: Group of related runs (seeds, sweep trials).
        tags: Labels to filter by.
        config: Hyperparameters: a mapping, ``argparse.Namespace``, dataclass or YAML file path.
        notes: Free text.
        job_type: ``train``, ``eval``, ``deploy``, ...
        dir: Store folder.
        mode: ``offline`` (the local store, the default), ``disabled`` (every call a no-op)
            or ``online`` (an rltrack server at ``url``; the default when ``url`` or
            ``RLTRACK_URL`` is set). Online runs spool to ``dir`` while the server is away.
        resume: ``never`` (default: a new run; an existing ``id`` is an error), ``allow``
            (continue ``id`` if it exists; wandb's ``True``/``"auto"`` mean this) or ``must``
            (``id`` must exist). A second process
            may attach to a running run under another ``source``.
        source: What writes: ``sim`` for training, ``real`` for the robot, or a short name.
        system_metrics: Sample CPU/memory/disk/network/GPU every 10 s (True), every N
            seconds (a number) or not at all (False).
        url: The rltrack server for ``online`` mode (default ``$RLTRACK_URL``).
        api_key: Its token (default ``$RLTRACK_API_KEY``; not needed on loopback).
        quiet: Print nothing. By default ``init()`` prints one line to stderr (run name, id and
            where it is stored, or the dashboard URL when ``rltrack ui`` serves the store) and
            ``finish()`` one summary line; ``RLTRACK_QUIET=1`` silences both. In Jupyter, a live
            panel (name, dashboard link, last values, sparklines) shows unless quiet.
        entity: wandb's team name; accepted, ignored (a local store has no teams).
        reinit: With a run already current: ``None`` (rltrack's default) or ``"create_new"``
            start a second run beside it, ``True``/``"finish_previous"`` finish it first,
            ``False``/``"default"``/``"return_previous"`` return it (wandb's script default).
        save_code: Copy the main script into the run's folder (``code/``).
        monitor_gym: Accepted, ignored: gymnasium's ``RecordVideo`` needs moviepy to write a
            video at all; wrap the env in ``rltrack.callbacks.RecordRollouts`` to log videos.
        sync_tensorboard: Mirror what every ``SummaryWriter`` (torch, tensorboardX) created
            after this call writes into the run, at its global steps (needs ``tensorboard``).
        settings: An :class:`rltrack.Settings` (or dict); ``mode``, ``silent``/``quiet`` and
            ``x_disable_stats`` are honoured.
        allow_val_change: On resume, ``False`` refuses a config that changes stored values.
        config_exclude_keys: Config keys not to store.
        config_include_keys: The only config keys to store.
        anonymous: Accepted, ignored (no accounts locally).
        force: Accepted, ignored.
        magic: Accepted, ignored.
        fork_from: ``"RUNID?_step=N"``: a NEW run whose history is that run's values (every
            source) and media at steps ``<= N``, config copied then updated by ``config``,
            ``metadata["fork"]`` naming the parent; logging continues at ``N + 1``.
        resume_from: ``"RUNID?_step=N"``: rewind that SAME (finished) run to ``N`` and continue
            at ``N + 1``. Nothing is destroyed: the whole run is first copied into an archive
            run ``RUNID-rewound-<k>`` (read it with ``rltrack.Api().run(...)``), then values and
            media after ``N`` leave the run; ``metadata["rewinds"]`` lists each rewind and its
            archive. Both need the local store (offline mode); see :mod:`rltrack._fork`.

    Every wandb keyword is accepted: one :class:`RltrackWarning` names those given a value
    rltrack ignores. Inside a sweep trial (``rltrack.agent(function=...)``) ``init()`` with no
    ``id`` returns the trial's run, whose config the sweep set; ``config`` only adds keys.
    ``config`` is a dict, ``argparse.Namespace``, dataclass or YAML path; a
    ``config-defaults.yaml`` in the working directory fills keys it lacks, as in wandb.

    Returns:
        The run, also reachable as ``rltrack.run``.

    Raises:
        RunExistsError: ``id`` exists and ``resume`` is ``never``.
        RunNotFoundError: ``resume="must"`` and no run has ``id``, or the run of
            ``fork_from``/``resume_from`` does not exist.
        StoreError: the store folder is not writable or not an rltrack store.
        InvalidValueError: an argument has the wrong type or value (``fork_from`` and
            ``resume_from`` together, a spec not ``"RUNID?_step=N"``, a step past the run's last).
    """
    given = Settings.of(settings)
    branch = None
    if fork_from is not None or resume_from is not None:
        from rltrack._fork import parse_branch  # it loads the store's readers (numpy): only when a branch is asked

        branch = parse_branch(fork_from, resume_from)
    ignored = _ignored_keywords(
        entity=entity, monitor_gym=monitor_gym, anonymous=anonymous, force=force, magic=magic
    ) + given.ignored()
    mirror_tb = bool(sync_tensorboard) and _tensorboard_available()
    if sync_tensorboard and not mirror_tb:
        ignored.append("sync_tensorboard=True (needs the tensorboard package: pip install 'rltrack[tensorboard]')")
    if ignored:
        warnings.warn(f"rltrack.init() ignores {'; '.join(ignored)}", RltrackWarning, stacklevel=2)
    mode = mode or given.mode
    quiet = quiet if quiet is not None else given.quiet
    if given.disable_stats:
        system_metrics = False
    # Portable at the call: a value whose repr raises or a dict 100,000 deep is stored as a repr, not a crash.
    config_dict = portable(filter_keys(config_dict_of(config), config_include_keys, config_exclude_keys))
    trial = _trial.get()
    if trial is not None and not trial.finished and id is None:
        if branch is not None:  # not silently dropped: the trial's run exists and would not hold the branch
            raise InvalidValueError(
                f"{branch.spec} inside a sweep trial: the agent already made this trial's run {trial.id!r}, so it "
                f"cannot also start from run {branch.run_id!r}'s history; branch outside rltrack.agent(), or load "
                f"what the trial needs with rltrack.Api().run({branch.run_id!r})"
            )
        # wandb's sweep join: init() inside an agent's function is the trial's run; the sweep's
        # parameters are locked, so the script's config only adds keys.
        trial.config.setdefaults(defaults_from_cwd())
        trial.config.update(config_dict)
        _current.set(trial)
        _integrations(trial, save_code=bool(save_code), sync_tensorboard=mirror_tb)
        return trial
    choice = _reinit(reinit)
    url = url or os.environ.get("RLTRACK_URL") or None
    mode = _choice(
        "mode", _ALIASES.get(mode, mode) or os.environ.get("RLTRACK_MODE") or ("online" if url else "offline"), _MODES
    )
    resume = _choice("resume", _ALIASES.get(resume, resume) or os.environ.get("RLTRACK_RESUME") or "never", _RESUMES)
    project_given = project or os.environ.get("RLTRACK_PROJECT")
    project = _text("project", project_given or "default")
    from_env = id is None and bool(os.environ.get("RLTRACK_RUN_ID"))
    id = id or os.environ.get("RLTRACK_RUN_ID") or None
    # The rules are validate's (one door for init, ingest and the ROS node); the messages name init()'s argument.
    try:
        if id is not None:
            check_run_id(id)
    except InvalidValueError:
        raise InvalidValueError(f"init(id={id!r}) must be 1-64 letters, digits, '-' or '_'") from None
    try:
        check_source(source)
    except InvalidValueError:
        raise InvalidValueError(
            f"init(source={source!r}) must be 1-32 letters, digits, '-' or '_' such as 'real'"
        ) from None
    defaults = defaults_from_cwd()
    tag_tuple = _tags(tags)
    if name:
        _text("name", name)
    for field, value in (("group", group), ("job_type", job_type), ("notes", notes)):
        _optional_text(field, value, _MAX_NOTES if field == "notes" else _MAX_LABEL)
    interval = _interval(system_metrics)
    previous = _current.get()
    if previous is not None and not previous.finished:
        if choice == "return_previous":
            return previous
        if choice == "finish_previous":
            previous.finish()
    if mode == "disabled":
        run: Run = DisabledRun(project=project, name=name or "disabled", id=id or "disabled", config=config_dict)
        _current.set(run)
        return run
    root = resolve_root(dir)
    store: WriterBackend = (
        _remote(url, api_key or os.environ.get("RLTRACK_API_KEY") or _stored_key(url), root)
        if mode == "online"
        else StoreWriter(_database(root))
    )
    who = WriterInfo(
        host=os.uname().nodename, pid=os.getpid(), pid_started_ns=process_started_ns(), now_ns=time.time_ns()
    )
    if branch is not None:
        if not isinstance(store, StoreWriter):
            raise RltrackError(f"{branch.spec} needs the local store: use mode='offline' (online runs cannot branch)")
        if branch.kind == "resume_from" and id not in (None, branch.run_id):
            raise InvalidValueError(f"{branch.spec} continues run {branch.run_id!r}; init(id={id!r}) names another")
        new = NewRun(
            id=(id or _new_id()) if branch.kind == "fork_from" else branch.run_id,
            project=project if project_given else "", name=name or "", group=group, job_type=job_type,
            notes=notes, tags=tag_tuple, config=config_dict, source=source,
        )
        from rltrack._fork import open_branch

        run = open_branch(branch, store, who, new, defaults=portable(defaults), allow_val_change=allow_val_change,
                          name_for=lambda p: _new_name(store, p))
    elif id is not None and store.run_exists(id):
        if resume == "never":
            raise RunExistsError(
                f"run id {id!r} already exists in {str(store.db.path)!r}; pass resume='allow' to continue it "
                "or choose another id"
            )
        attached = store.attach_run(id, source, who, owner_alive=_owner_alive(store, id, source, who))
        run = Run(
            store, id=id, name=attached.name, project=attached.project, group=attached.group, source=source,
            run_dir=root / "runs" / id, config=attached.config, summary=attached.summary,
            step=attached.next_step, owner=attached.owner, metadata=None,
        )
        if from_env and os.environ.get("RLTRACK_SWEEP_ID"):
            # A sweep program continuing the run its agent made: the sweep's parameters win.
            run.config.lock(attached.config)
        if defaults:
            run.config.setdefaults(defaults)
        if config_dict:
            run.config.update(config_dict, allow_val_change=allow_val_change)
    else:
        if resume == "must":
            raise RunNotFoundError(
                f"init(resume='must') but no run has id {id!r} in {str(store.db.path)!r}; "
                "check the id (rltrack runs ls) or use resume='allow'"
            )
        id = id or _new_id()
        config_dict = {**portable(defaults), **config_dict}
        name = _text("name", name) if name else _new_name(store, project)
        store.create_run(
            NewRun(id=id, project=project, name=name, group=group, job_type=job_type, notes=notes,
                   tags=tag_tuple, config=config_dict, source=source),
            who,
        )
        run = Run(
            store, id=id, name=name, project=project, group=group, source=source, run_dir=root / "runs" / id,
            config=config_dict, summary={}, step=0, owner=True, metadata=collect_metadata,
        )
    run.dir.mkdir(parents=True, exist_ok=True)
    if interval is not None:
        run._start_system_metrics(interval)
    _live.add(run)
    _current.set(run)
    _install_exit_hooks()
    run.quiet = _quiet(quiet)
    if not run.quiet:
        print(f"rltrack: {_start_line(run, store, root, mode)}", file=sys.stderr, flush=True)
        if "ipykernel" in sys.modules:  # a Jupyter kernel: the live panel (nothing imported elsewhere)
            from rltrack._nbpanel import live_panel

            live_panel(run)
    _integrations(run, save_code=bool(save_code), sync_tensorboard=mirror_tb)
    return run


def _integrations(run: Run, *, save_code: bool, sync_tensorboard: bool) -> None:
    """Start what ``save_code`` and ``sync_tensorboard`` ask for (once per run)."""
    if save_code:
        from rltrack._files import save_main_script

        save_main_script(run)
    if sync_tensorboard:
        from rltrack._tbsync import is_syncing
        from rltrack._tbsync import sync_tensorboard as start_sync

        if not is_syncing(run):
            start_sync(run)


def _ignored_keywords(**given: Any) -> list[str]:
    """Name the wandb keywords given a value rltrack does nothing with (defaults say nothing)."""
    out = []
    for name, value in given.items():
        if value is None or value is False or (name == "anonymous" and value == "never"):
            continue
        hint = " (wrap the env in rltrack.callbacks.RecordRollouts to log videos)" if name == "monitor_gym" else ""
        out.append(f"{name}={value!r}{hint}")
    return out


def _reinit(reinit: object) -> str:
    if reinit is None or reinit == "create_new":
        return "create_new"
    if reinit is True or reinit == "finish_previous":
        return "finish_previous"
    if reinit is False or reinit in ("return_previous", "default"):  # wandb's meaning of these in a script
        return "return_previous"
    raise InvalidValueError(
        f"init(reinit={reinit!r}) must be True, False, 'finish_previous', 'return_previous' or 'create_new'"
    )


def _tensorboard_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None


def trial_run(run: Run | None) -> Token[Run | None]:
    """Make ``run`` what ``init()`` without an id returns in this context (a sweep trial); reset with the token."""
    return _trial.set(run)


def end_trial(token: Token[Run | None]) -> None:
    """Undo :func:`trial_run`."""
    _trial.reset(token)


def _quiet(quiet: bool | None) -> bool:
    if quiet is not None:
        return bool(quiet)
    return os.environ.get("RLTRACK_QUIET", "").strip().lower() not in ("", "0", "false", "no")


def _start_line(run: Run, store: WriterBackend, root: Path, mode: str) -> str:
    """``run 'brisk-falcon-3' (id a1b2c3d4) -> http://127.0.0.1:8080/runs/a1b2c3d4`` or the store folder."""
    what = f"run {run.name!r} (id {run.id}{'' if run.source == DEFAULT_SOURCE else f', source {run.source}'})"
    if mode == "online":
        return f"{what} sending to {store.db.path}/runs/{run.id} (spool in {root})"
    url = dashboard_url(root)
    if url is not None:
        return f"{what} live at {url}/runs/{run.id}"
    return f"{what} stored in {root.resolve()}; see it with: rltrack ui --dir {root}"


def _remote(url: str | None, api_key: str | None, root: Path) -> WriterBackend:
    if not url:
        raise InvalidValueError(
            "init(mode='online') needs the server's address: pass url='http://host:port' or set RLTRACK_URL"
        )
    try:
        from rltrack.remote import connect
    except ImportError as err:
        raise RltrackError(f"init(mode='online') needs httpx: pip install 'rltrack[remote]' ({err})") from err
    return connect(url, api_key, root)


def _stored_key(url: str | None) -> str | None:
    if not url:
        return None
    from rltrack._login import stored_key

    return stored_key(url)


def _owner_alive(store: WriterBackend, run_id: str, source: str, who: WriterInfo) -> bool:
    owner = store.owner_of(run_id)
    if owner is None or owner.state != "running":
        return False
    if owner.host == who.host:
        alive = is_alive(owner.pid, owner.pid_started_ns)
    else:
        alive = time.time_ns() - owner.heartbeat_ns < CRASH_AFTER_S * 1e9
    if alive and source == owner.source:
        raise RltrackError(
            f"run {run_id!r} is being written under source {source!r} by pid {owner.pid} on {owner.host!r}; "
            "attach with another source (e.g. source='real') or wait until it finishes"
        )
    return alive


def _database(root: Path) -> Database:
    key = root.resolve()
    with _db_lock:
        db = _databases.get(key)
        if db is None:
            db = _databases[key] = Database(root)
        return db


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InvalidValueError(f"init({name}={value!r}) must be one of {', '.join(map(repr, allowed))}")
    return str(value)


# The limits HTTP ingest applies (rltrack.remote.wire: MAX_NAME, MAX_TEXT and 256 for group, job_type and each
# tag), so a script that runs offline is not refused online. Not imported: rltrack.remote loads its whole
# package (hashlib, uuid, ...) on an offline init()'s path.
_MAX_NAME = 128
_MAX_LABEL = 256
_MAX_NOTES = 10_000


def _text(name: str, value: object) -> str:
    if isinstance(value, str):
        check_text(f"init({name}=...)", value)
    if not isinstance(value, str) or not value or len(value) > _MAX_NAME or any(ord(c) < 32 for c in value):
        raise InvalidValueError(
            f"init({name}={value!r}) must be a non-empty string of at most {_MAX_NAME} printable characters"
        )
    return value


def _optional_text(name: str, value: object, limit: int) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise InvalidValueError(f"init({name}={value!r}) must be a string or None, got {type(value).__name__}")
    check_label(f"init({name}=...)", value)
    if len(value) > limit:
        raise InvalidValueError(
            f"init({name}={value[:40]!r}...) is {len(value)} characters long; keep it at most {limit}"
        )


def _tags(tags: object) -> tuple[str, ...]:
    if tags is None:
        return ()
    if isinstance(tags, str) or not all(isinstance(t, str) for t in tags):  # type: ignore[attr-defined]
        raise InvalidValueError(f"init(tags={tags!r}) must be a list of strings such as ['ppo', 'baseline']")
    for tag in tags:  # type: ignore[attr-defined]  # checked above
        check_label("init(tags=...) tag", tag)
        if len(tag) > _MAX_LABEL:
            raise InvalidValueError(
                f"init(tags=...) tag {tag[:40]!r}... is {len(tag)} characters long; keep each at most {_MAX_LABEL}"
            )
    return tuple(tags)  # type: ignore[arg-type]  # checked above


def _interval(system_metrics: object) -> float | None:
    if system_metrics is True:
        return 10.0
    if system_metrics is False or system_metrics is None:
        return None
    if isinstance(system_metrics, (int, float)) and system_metrics > 0:
        return float(system_metrics)
    raise InvalidValueError(
        f"init(system_metrics={system_metrics!r}) must be True, False or a sampling interval in seconds (> 0)"
    )


_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def _new_id() -> str:
    # 8 base-36 characters from os.urandom: 2.8e12 ids, url-safe, and no `secrets` import
    # (which pulls in hmac/hashlib) on the time-to-first-log path.
    return "".join(_ALPHABET[b % 36] for b in os.urandom(8))


def _new_name(store: WriterBackend, project: str) -> str:
    number = store.count_runs(project) + 1
    a, b = os.urandom(2)
    return f"{_ADJECTIVES[a % len(_ADJECTIVES)]}-{_NOUNS[b % len(_NOUNS)]}-{number}"


def current() -> Run | None:
    """Return the current run of this context, or None."""
    return _current.get()


def log(data: Mapping[str, Any], step: int | None = None, commit: bool | None = True, sync: bool | None = None) -> None:
    """Log to the current run (see :meth:`Run.log`); ``commit=None`` means True and ``sync`` is ignored, as in wandb."""
    run = _current.get()
    if run is None:
        raise RltrackError("rltrack.log() called with no current run; call rltrack.init() first")
    run.log(data, step, commit is not False)


def finish(exit_code: int = 0, quiet: bool | None = None) -> None:
    """Finish the current run (see :meth:`Run.finish`); does nothing when there is none.

    Args:
        exit_code: 0 for success; anything else marks the run ``failed``.
        quiet: ``True`` skips the one-line summary on stderr.
    """
    run = _current.get()
    if run is not None:
        if quiet is not None:
            run.quiet = bool(quiet)
        run.finish(exit_code)


def forget(run: Run) -> None:
    """Drop a finished run from the live set and, if current, from the context."""
    _live_module.forget(run)


def _install_exit_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_finish_all_at_exit)
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGTERM)
        if previous not in (signal.SIG_IGN, None):
            signal.signal(signal.SIGTERM, _make_sigterm_handler(previous))


def _finish_all_at_exit() -> None:
    error = getattr(sys, "last_value", None)  # set when an uncaught exception ended the program
    for run in list(_live):
        if error is not None:
            run.finish(1, reason=failure_reason(error))
        else:
            run.finish(0)


def _make_sigterm_handler(previous: Any) -> Any:
    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        for run in list(_live):
            reason = (
                "preempted (SIGTERM after mark_preempting()); continue it with init(id=..., resume='allow')"
                if run._preempting else "terminated by SIGTERM"
            )
            run.finish(143, state="failed", reason=reason)
        if callable(previous):
            previous(signum, frame)
        else:
            # Default action: die by the signal, as the caller expects.
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    return on_sigterm
