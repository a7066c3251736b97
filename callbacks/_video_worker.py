"""Policy videos recorded in a child process, so stepping, rendering and encoding never take the trainer's GIL.

On a thread, a recording competes with training for the GIL frame by frame (policy forward pass,
``env.step``, ``env.render``): on the 2-core dev machine a PPO run with a video every 10k steps
took ~1.2-1.4x as long. In a child process it only costs the parent a pickled state dict per video.

The parent (:class:`VideoWorker`) sends the child a copy of the video env (pickled, or its
Gymnasium spec) and the policy's class and constructor arguments once, then one job per video:
the policy's weights, the frozen observation normalisation and the reset seed. The child plays
one deterministic episode, encodes it (H.264, one encoder thread) into the run's media folder and
replies with the file, the return and the length. Anything that cannot cross the process boundary
(an env or policy class defined in ``__main__``, an unpicklable env) makes :meth:`VideoWorker.launch`
or the first job fail, and the caller records on a thread instead.

Run as ``python -m rltrack.callbacks._video_worker READ_FD WRITE_FD`` (the parent does this).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NamedTuple

from rltrack.errors import InvalidValueError, RltrackError

__all__ = ["EncodedVideo", "Recording", "VideoWorker", "WorkerError"]

#: Seconds ``close()`` waits for the child to exit before killing it.
CLOSE_TIMEOUT_S = 5.0


class WorkerError(RltrackError):
    """The child process failed or is gone; record on a thread instead."""


class EncodedVideo:
    """An H.264 MP4 the child already wrote into the run's media folder; logging it moves it in place.

    Implements :class:`rltrack.types.Media`.
    """

    kind = "video"

    def __init__(self, path: Path, meta: dict[str, object], caption: str | None) -> None:
        self.path = path
        self.meta = meta
        self.caption = caption

    def write(self, dest_dir: Path, stem: str) -> tuple[str, dict[str, object]]:
        """Move the file to ``dest_dir / (stem + ".mp4")`` (a rename: same folder tree)."""
        name = stem + ".mp4"
        os.replace(self.path, dest_dir / name)
        return name, self.meta


class Recording(NamedTuple):
    """What one job produced: the video, the episode's undiscounted return and its length in steps."""

    video: EncodedVideo
    episode_return: float
    length: int


class VideoWorker:
    """The parent's handle on one child process that records videos of one policy on one env."""

    def __init__(self, proc: subprocess.Popen[bytes], inbox: Connection, outbox: Connection, folder: Path) -> None:
        self._proc = proc
        self._inbox = inbox  # replies from the child
        self._outbox = outbox  # jobs to the child
        self._folder = folder
        self._ready = False
        self._setup: bytes | None = None

    @classmethod
    def launch(cls, env: Any, policy: Any, *, max_frames: int, fps: float, folder: Path) -> VideoWorker | None:
        """Start a child for ``env`` and ``policy``'s architecture; None when they cannot be sent to one.

        Args:
            env: A Gymnasium env rendering ``rgb_array`` (not a VecEnv).
            policy: The live SB3 policy (only its class and constructor arguments are sent).
            max_frames: Most frames per video.
            fps: Frames per second of the videos.
            folder: Where the child writes finished files (inside the run's media folder).
        """
        setup: dict[str, Any] = {
            "policy": (type(policy), policy._get_constructor_parameters()),
            "max_frames": max_frames,
            "fps": fps,
            "folder": str(folder),
        }
        payload = _pickle({**setup, "env": env})
        if payload is None and getattr(env, "spec", None) is not None:
            payload = _pickle({**setup, "spec": env.spec})
        if payload is None:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        job_read, job_write = os.pipe()
        reply_read, reply_write = os.pipe()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", __name__, str(job_read), str(reply_write)],
                pass_fds=(job_read, reply_write),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,  # pygame greets on stdout; errors come back as replies
                env=_child_env(),
            )
        except OSError:
            for fd in (job_read, job_write, reply_read, reply_write):
                os.close(fd)
            return None
        os.close(job_read)
        os.close(reply_write)
        worker = cls(proc, Connection(reply_read, writable=False), Connection(job_write, readable=False), folder)
        # Sent by the first record(), on the recording thread: a payload bigger than the pipe's
        # buffer blocks until the child reads it, and training must not wait for the child to start.
        worker._setup = payload
        return worker

    @property
    def ready(self) -> bool:
        """Whether the child has set up (rebuilt the env and the policy)."""
        return self._ready

    def record(self, state_dict: dict[str, Any], normalize: Any, seed: int | None, step: int) -> Recording:
        """Record one episode with these weights (blocks until the child replies; call it off the trainer).

        Raises:
            InvalidValueError: The env rendered something that is not an (H, W, 3) uint8 frame.
            WorkerError: The child could not set up, crashed or replied with another error.
        """
        try:
            if self._setup is not None:
                self._outbox.send(list(sys.path))  # so the child unpickles classes from the same places
                self._outbox.send_bytes(self._setup)
                self._setup = None
            if not self._ready:
                self._reply()  # the setup's answer
                self._ready = True
            job = _pickle({"state_dict": state_dict, "normalize": normalize, "seed": seed, "step": step})
            if job is None:
                raise WorkerError("the video process cannot be sent this policy's observation normalisation")
            self._outbox.send_bytes(job)
            reply = self._reply()
        except (OSError, EOFError) as err:
            raise WorkerError(f"the video process stopped ({type(err).__name__}: {err})") from err
        video = EncodedVideo(Path(reply["path"]), reply["meta"], caption=f"step {step}")
        return Recording(video, float(reply["return"]), int(reply["length"]))

    def _reply(self) -> dict[str, Any]:
        reply: dict[str, Any] = self._inbox.recv()
        if "error" in reply:
            kind = InvalidValueError if reply.get("invalid") else WorkerError
            raise kind(reply["error"])
        return reply

    def close(self) -> None:
        """Stop the child (asking first, killing it after :data:`CLOSE_TIMEOUT_S`) and remove its empty folder."""
        with contextlib.suppress(OSError):  # already gone
            self._outbox.send_bytes(pickle.dumps(None))
        try:
            self._proc.wait(CLOSE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._outbox.close()
        self._inbox.close()
        with contextlib.suppress(OSError):  # only when empty: a file the run has not moved yet stays
            self._folder.rmdir()


def _pickle(obj: object) -> bytes | None:
    try:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # pickling runs arbitrary __reduce__ code: any failure means "use a thread"
        return None


# ---- the child ------------------------------------------------------------------------------


def _serve(inbox: Connection, outbox: Connection) -> int:
    if hasattr(os, "nice"):
        # Videos are not urgent: where the cores are all busy, the scheduler gives training the
        # CPU first (nice 10 gets ~1/10 of a nice-0 process's share) instead of splitting it evenly.
        os.nice(10)
    try:
        paths = inbox.recv()
    except EOFError:
        return 0
    if paths is None:  # closed before the first video
        return 0
    sys.path[:0] = [p for p in paths if p not in sys.path]
    try:
        setup = pickle.loads(inbox.recv_bytes())
        recorder = _Recorder(setup)
    except Exception as err:  # whatever went wrong, the parent falls back to a thread
        outbox.send({"error": f"video process setup failed ({type(err).__name__}: {err})"})
        return 1
    outbox.send({"ready": True})
    while True:
        try:
            message = inbox.recv_bytes()
        except EOFError:  # the parent is gone
            return 0
        try:
            job = pickle.loads(message)
            if job is None:
                return 0
            outbox.send(recorder.record(job))
        except InvalidValueError as err:
            outbox.send({"error": str(err), "invalid": True})
        except Exception as err:  # reported to the parent, which warns once
            outbox.send({"error": f"{type(err).__name__}: {err}"})


class _Recorder:
    """The child's env, policy and encoder settings."""

    def __init__(self, setup: dict[str, Any]) -> None:
        import torch

        torch.set_num_threads(1)  # leave the other cores to training
        if "env" in setup:
            self.env = setup["env"]
        else:
            import gymnasium as gym

            self.env = gym.make(setup["spec"])
        policy_class, arguments = setup["policy"]
        self.policy = policy_class(**arguments)
        self.policy.set_training_mode(False)
        self.max_frames: int = setup["max_frames"]
        self.fps: float = setup["fps"]
        self.folder = Path(setup["folder"])
        self.count = 0

    def record(self, job: dict[str, Any]) -> dict[str, Any]:
        from rltrack.callbacks._sb3_video import play_episode
        from rltrack.callbacks._video import FileVideo

        self.policy.load_state_dict(job["state_dict"])
        self.count += 1
        path = self.folder / f"{os.getpid()}-{self.count}.mp4"
        video = FileVideo(path, fps=self.fps, max_frames=self.max_frames)
        try:
            episode_return, length = play_episode(self.env, self.policy, job["normalize"], job["seed"], video)
            meta = video.close()
        except BaseException:
            video.abort()
            raise
        return {"path": str(path), "meta": meta, "return": episode_return, "length": length}


def _child_env() -> dict[str, str]:
    """Return the video child's environment: the parent's, with SDL kept quiet and headless.

    The child only renders off-screen (``rgb_array``), so SDL needs no display or sound server.
    Without these, SDL probes them and prints "error: XDG_RUNTIME_DIR is invalid or not set",
    which reads as an rltrack error. Values the user set explicitly are kept.
    """
    env = dict(os.environ)
    env["PYGAME_HIDE_SUPPORT_PROMPT"] = "1"
    env.setdefault("SDL_VIDEODRIVER", "dummy")
    env.setdefault("SDL_AUDIODRIVER", "dummy")
    return env


if __name__ == "__main__":
    _job_fd, _reply_fd = int(sys.argv[1]), int(sys.argv[2])
    _code = _serve(Connection(_job_fd, writable=False), Connection(_reply_fd, readable=False))
    # Every file is closed and every reply written by now (pipes are unbuffered): skip the
    # interpreter's teardown, ~0.9 s with torch and pygame loaded, which finish() would wait for.
    os._exit(_code)

