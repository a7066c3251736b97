"""Content-addressed blob storage: files by sha256, written atomically, streamed in blocks.

A blob is stored once however many versions, artifacts or runs refer to it. The local
store keeps ``<store>/artifacts/blobs/<sha256[:2]>/<sha256>`` (read-only files): a blob is
copied to a temporary file in ``<store>/artifacts/tmp/``, hashed as stored, fsynced, then
renamed into place, so a crash never leaves a half-written file under a digest's name. An
S3-compatible object store implements :class:`BlobStore` the same way (upload, then
reference; :mod:`rltrack.artifacts.s3`, chosen by ``RLTRACK_BLOBS=s3://bucket/prefix``):
callers only write a version's manifest after every ``put`` returned.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from rltrack.artifacts.errors import ArtifactError
from rltrack.errors import StoreError

__all__ = [
    "BLOCK_SIZE",
    "Blob",
    "BlobStore",
    "CopyError",
    "LocalBlobStore",
    "copy_file_hashing",
    "copy_hashing",
    "hash_file",
]

#: Files move through hashing and copying in blocks of this size; never whole.
BLOCK_SIZE = 4 << 20
_PART_SUFFIX = ".part"
#: A temporary file is only removed once its writer's pid is gone *and* it has not been
#: written to for this long: containers sharing a store and a host name have separate pid
#: spaces, and a live copy keeps touching its file.
STALE_AFTER_S = 600.0


@dataclass(frozen=True, slots=True)
class Blob:
    """A stored file's content: its sha256 (hex) and size in bytes."""

    digest: str
    size: int


class BlobStore(Protocol):
    """Where artifact file contents live, by sha256; the local folder is one implementation."""

    def contains(self, blob: Blob) -> bool:
        """Return whether a blob with this digest and size is stored."""
        ...

    def put(self, source: Path, *, expected: Blob | None = None) -> Blob:
        """Store the file at ``source`` (streamed, atomically) and return its digest and size.

        Raises:
            ArtifactError: ``source`` cannot be read, or its content differs from ``expected``.
            StoreError: the blob cannot be written.
        """
        ...

    def open(self, digest: str) -> BinaryIO:
        """Open a stored blob for streamed reading (``FileNotFoundError`` when it is missing)."""
        ...

    def locate(self, digest: str) -> str:
        """Return where the blob lives (a path or URL), for messages."""
        ...


class CopyError(Exception):
    """Reading (``side="read"``) or writing (``side="write"``) failed during :func:`copy_hashing`."""

    def __init__(self, side: str, err: OSError) -> None:
        super().__init__(f"{side} failed: {err}")
        self.side = side
        self.err = err


def copy_hashing(src: BinaryIO, dst: BinaryIO | None) -> Blob:
    """Stream ``src`` into ``dst`` (or nowhere) block by block, hashing on the way.

    Raises:
        CopyError: reading ``src`` or writing ``dst`` failed (says which, keeps the ``OSError``).
    """
    digest = hashlib.sha256()
    buffer = bytearray(BLOCK_SIZE)
    view = memoryview(buffer)
    size = 0
    while True:
        try:
            n = src.readinto(view)  # type: ignore[attr-defined]  # every binary file object has readinto
        except OSError as err:
            raise CopyError("read", err) from err
        if not n:
            break
        block = view[:n]
        digest.update(block)  # hashlib releases the GIL for large blocks
        if dst is not None:
            try:
                _write_all(dst, block)
            except OSError as err:
                raise CopyError("write", err) from err
        size += n
    return Blob(digest.hexdigest(), size)


def _write_all(dst: BinaryIO, block: memoryview) -> None:
    # An unbuffered file may write less than asked; buffered ones return None or the full length.
    while block:
        n = dst.write(block)
        if n is None:
            return
        block = block[n:]


#: errno values meaning "this file pair cannot use sendfile": fall back to a userspace copy.
_NO_SENDFILE = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.ENOTSOCK}
#: errno values that can only come from the destination.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


def copy_file_hashing(src: BinaryIO, dst: BinaryIO) -> Blob:
    """Copy ``src`` into ``dst`` (an empty file opened ``w+b``/``x+b``, unbuffered) and hash what was written.

    The kernel copies (``sendfile``: no round trip through Python buffers, which measured
    3x faster than read/write here), then the copy is read back from the page cache and
    hashed, so the digest is that of the bytes actually stored, even if ``src`` changes
    meanwhile. Where the kernel cannot copy (another OS, a non-file stream), the blocks go
    through :func:`copy_hashing` instead.

    Raises:
        CopyError: reading ``src`` or writing ``dst`` failed.
    """
    try:
        src_fd, dst_fd = src.fileno(), dst.fileno()
    except (OSError, io.UnsupportedOperation):
        return copy_hashing(src, dst)
    copied = 0
    while True:
        try:
            n = os.sendfile(dst_fd, src_fd, None, 1 << 30)
        except OSError as err:
            if copied == 0 and err.errno in _NO_SENDFILE:
                return copy_hashing(src, dst)
            raise CopyError("write" if err.errno in _WRITE_ERRNOS else "read", err) from err
        if n == 0:
            break
        copied += n
    try:
        dst.seek(0)
    except OSError as err:
        raise CopyError("write", err) from err
    blob = copy_hashing(dst, None)
    if blob.size != copied:
        raise CopyError("write", OSError(errno.EIO, f"copied {copied} bytes but read back {blob.size}"))
    return blob


def hash_file(path: Path) -> Blob:
    """Return a file's sha256 and size, reading it block by block.

    Raises:
        ArtifactError: the file cannot be read.
    """
    try:
        with open(path, "rb", buffering=0) as src:
            return copy_hashing(src, None)
    except OSError as err:
        raise _source_error(path, err) from err
    except CopyError as err:
        raise _source_error(path, err.err) from err


def _source_error(path: Path, err: OSError) -> ArtifactError:
    return ArtifactError(f"cannot read {str(path)!r} to log it as an artifact file: {err.strerror or err}; "
                         "check that the file exists and is readable")


def _fsync_dir(path: Path) -> None:
    # The rename is only durable once the directory entry is on disk.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalBlobStore:
    """Blobs in a folder: ``<root>/blobs/<sha256[:2]>/<sha256>``, written via ``<root>/tmp/``.

    Args:
        root: The artifacts folder of a store (``<store>/artifacts``).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs"
        self.tmp = root / "tmp"
        self._swept = False

    def path(self, digest: str) -> Path:
        """Return the file a blob is (or would be) stored in."""
        return self.blobs / digest[:2] / digest

    def locate(self, digest: str) -> str:
        """Return the blob's file path as a string."""
        return str(self.path(digest))

    def contains(self, blob: Blob) -> bool:
        """Return whether the blob's file exists with the right size (a cheap check; downloads verify the hash)."""
        try:
            return self.path(blob.digest).stat().st_size == blob.size
        except OSError:
            return False

    def open(self, digest: str) -> BinaryIO:
        """Open the blob's file for reading, unbuffered (reads are whole blocks)."""
        return open(self.path(digest), "rb", buffering=0)

    def put(self, source: Path, *, expected: Blob | None = None) -> Blob:
        """Copy ``source`` into the store while hashing it; fsync, then rename into its digest's place."""
        try:
            src = open(source, "rb", buffering=0)  # noqa: SIM115  # closed by the with below; open errors differ
        except OSError as err:
            raise _source_error(source, err) from err
        with src, self._temporary() as (tmp, dst):
            try:
                blob = copy_file_hashing(src, dst)
            except CopyError as err:
                if err.side == "read":
                    raise _source_error(source, err.err) from err
                raise self._write_error(err.err) from err
            if expected is not None and blob != expected:
                raise ArtifactError(
                    f"{str(source)!r} changed while it was being logged (sha256 {expected.digest[:12]}..., "
                    f"{expected.size} bytes, then {blob.digest[:12]}..., {blob.size} bytes); "
                    "log it again once nothing writes to it"
                )
            try:
                os.fchmod(dst.fileno(), 0o444)  # a blob is never edited in place; downloads are copies
                os.fsync(dst.fileno())
                target = self.path(blob.digest)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, target)
                _fsync_dir(target.parent)
            except OSError as err:
                raise self._write_error(err) from err
        return blob

    @contextlib.contextmanager
    def _temporary(self) -> Iterator[tuple[Path, BinaryIO]]:
        # The name carries host and pid so a later writer on this host can remove what a
        # crashed one left behind, without touching files of a writer on another host.
        try:
            self.tmp.mkdir(parents=True, exist_ok=True)
            if not self._swept:
                self._sweep()
            tmp = self.tmp / f"{_host()}-{os.getpid()}-{secrets.token_hex(8)}{_PART_SUFFIX}"
            dst = open(tmp, "x+b", buffering=0)  # noqa: SIM115  # closed by the with below
        except OSError as err:
            raise self._write_error(err) from err
        try:
            with dst:
                yield tmp, dst
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()  # already renamed on success

    def _sweep(self) -> None:
        """Remove temporary files that crashed writers of this host left behind."""
        self._swept = True
        prefix = f"{_host()}-"
        for entry in self.tmp.iterdir():
            name = entry.name
            if not (name.startswith(prefix) and name.endswith(_PART_SUFFIX)):
                continue
            pid_text = name[len(prefix):].split("-", 1)[0]
            if not pid_text.isdigit() or _pid_running(int(pid_text)):
                continue
            with contextlib.suppress(OSError):
                if time.time() - entry.stat().st_mtime > STALE_AFTER_S:
                    entry.unlink()

    def _write_error(self, err: OSError) -> StoreError:
        return StoreError(
            f"cannot write artifact blobs under {str(self.root)!r}: {err.strerror or err}; "
            "free disk space or check the store folder's permissions"
        )


def _host() -> str:
    return socket.gethostname().replace("-", "_") or "host"


def _pid_running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True
