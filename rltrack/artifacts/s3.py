"""Content-addressed blobs in an S3-compatible object store (AWS S3, MinIO, Ceph, moto), through boto3.

``s3://bucket/prefix`` keeps a blob at ``<prefix>/blobs/<sha256[:2]>/<sha256>``, the same layout as the
local folder. A file is streamed once: into a temporary object (``<prefix>/tmp/...``, multipart above
:data:`MULTIPART_THRESHOLD`) while it is hashed, then copied server-side under its digest's name and the
temporary object removed. So an object under a digest's name always holds exactly those bytes, even when
the file changed while it was read or the upload died half-way, and an object already stored is never
uploaded again. Reads hash what they stream: the caller (a download) compares the digest.

The endpoint and credentials come from the standard AWS variables (``AWS_ENDPOINT_URL``,
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``, profiles) unless passed.
Needs ``pip install 'rltrack[s3]'``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from rltrack.artifacts.blobs import BLOCK_SIZE, Blob
from rltrack.artifacts.errors import ArtifactError
from rltrack.errors import StoreError

__all__ = ["MULTIPART_THRESHOLD", "S3BlobStore", "S3Location", "parse_s3_url"]

#: Files larger than this go up in parts of :data:`PART_SIZE` (several in parallel).
MULTIPART_THRESHOLD = 64 << 20
PART_SIZE = 16 << 20


@dataclass(frozen=True, slots=True)
class S3Location:
    """A bucket and a key prefix (no leading or trailing slash; may be empty)."""

    bucket: str
    prefix: str

    def key(self, *parts: str) -> str:
        """Return the object key of ``parts`` under the prefix."""
        return "/".join(p for p in (self.prefix, *parts) if p)


def parse_s3_url(url: str) -> S3Location:
    """Parse ``s3://bucket[/prefix]``.

    Raises:
        StoreError: ``url`` is not of that form.
    """
    if not url.startswith("s3://") or not url[5:].split("/", 1)[0]:
        raise StoreError(f"--blobs {url!r} is not an S3 URL; pass s3://bucket or s3://bucket/prefix")
    bucket, _, prefix = url[5:].partition("/")
    if ".." in prefix.split("/"):
        raise StoreError(f"--blobs {url!r}: the prefix may not contain '..'; pass s3://bucket/prefix")
    return S3Location(bucket, prefix.strip("/"))


class _HashingReader(io.RawIOBase):
    """A read-only, non-seekable view of a file that hashes every byte read (boto3 then reads it in order)."""

    def __init__(self, src: BinaryIO) -> None:
        self._src = src
        self.digest = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._src.readinto(buffer)  # type: ignore[attr-defined]  # every binary file object has readinto
        if n:
            self.digest.update(memoryview(buffer)[:n])
            self.size += n
        return int(n or 0)


class _ObjectReader(io.RawIOBase):
    """A stored object's body as an unbuffered binary file (``readinto`` in blocks)."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(min(len(buffer), BLOCK_SIZE))
        memoryview(buffer)[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._body.close()
        super().close()


class S3BlobStore:
    """Blobs by sha256 in a bucket; implements :class:`rltrack.artifacts.blobs.BlobStore`.

    Args:
        url: ``s3://bucket[/prefix]``.
        endpoint_url: An S3-compatible server (MinIO, Ceph, ...); default: ``AWS_ENDPOINT_URL`` or AWS.
        client: A ready boto3 S3 client (overrides ``endpoint_url``).

    Raises:
        StoreError: boto3 is not installed, or ``url`` is not an S3 URL.
    """

    def __init__(self, url: str, *, endpoint_url: str | None = None, client: Any = None) -> None:
        self.location = parse_s3_url(url)
        self.url = url
        if client is None:
            try:
                import boto3  # type: ignore[import-untyped]
            except ImportError as err:
                raise StoreError(f"S3 blobs need boto3 ({err}): pip install 'rltrack[s3]'") from err
            client = boto3.client("s3", endpoint_url=endpoint_url or os.environ.get("AWS_ENDPOINT_URL"))
        self._s3 = client

    @property
    def client(self) -> Any:
        """The boto3 S3 client (the server keeps small reference objects next to the blobs with it)."""
        return self._s3

    def _blob_key(self, digest: str) -> str:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ArtifactError(f"{digest!r} is not a sha256 digest (64 lowercase hex characters)")
        return self.location.key("blobs", digest[:2], digest)

    def locate(self, digest: str) -> str:
        """Return the blob's ``s3://`` URL."""
        return f"s3://{self.location.bucket}/{self._blob_key(digest)}"

    def contains(self, blob: Blob) -> bool:
        """Return whether an object with this digest and size is stored (one HEAD request)."""
        try:
            head = self._s3.head_object(Bucket=self.location.bucket, Key=self._blob_key(blob.digest))
        except self._s3.exceptions.ClientError as err:
            if _status(err) == 404:
                return False
            raise self._error("look up", err) from err
        return int(head["ContentLength"]) == blob.size

    def open(self, digest: str) -> BinaryIO:
        """Open a stored blob for streamed reading (``FileNotFoundError`` when it is missing)."""
        key = self._blob_key(digest)
        try:
            answer = self._s3.get_object(Bucket=self.location.bucket, Key=key)
        except self._s3.exceptions.ClientError as err:
            if _status(err) == 404:
                raise FileNotFoundError(f"no blob {self.locate(digest)}") from err
            raise self._error("read", err) from err
        return _ObjectReader(answer["Body"])  # type: ignore[return-value]  # a raw binary file

    def open_range(self, digest: str, start: int, stop: int) -> Iterator[bytes]:
        """Yield bytes ``start`` to ``stop`` (exclusive) of a stored blob, in blocks (a video's Range request).

        Raises:
            FileNotFoundError: no such blob.
            StoreError: the bucket cannot be read.
        """
        key = self._blob_key(digest)
        if stop <= start:
            return iter(())
        try:
            answer = self._s3.get_object(Bucket=self.location.bucket, Key=key, Range=f"bytes={start}-{stop - 1}")
        except self._s3.exceptions.ClientError as err:
            if _status(err) == 404:
                raise FileNotFoundError(f"no blob {self.locate(digest)}") from err
            raise self._error("read", err) from err
        return _blocks(answer["Body"])

    def put(self, source: Path, *, expected: Blob | None = None) -> Blob:
        """Stream ``source`` into a temporary object while hashing it, then copy it under its digest."""
        from boto3.s3.transfer import TransferConfig  # type: ignore[import-untyped]

        config = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=PART_SIZE)
        tmp_key = self.location.key("tmp", f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(8)}")
        bucket = self.location.bucket
        try:
            src = open(source, "rb", buffering=0)  # noqa: SIM115  # closed by the with below
        except OSError as err:
            raise ArtifactError(f"cannot read {str(source)!r} to log it as an artifact file: "
                                f"{err.strerror or err}; check that the file exists and is readable") from err
        try:
            with src:
                reader = _HashingReader(src)
                try:
                    self._s3.upload_fileobj(reader, bucket, tmp_key, Config=config)
                except OSError as err:
                    raise ArtifactError(f"cannot read {str(source)!r} to log it as an artifact file: {err}") from err
                except Exception as err:
                    raise self._error("upload", err) from err
            blob = Blob(reader.digest.hexdigest(), reader.size)
            if expected is not None and blob != expected:
                raise ArtifactError(
                    f"{str(source)!r} changed while it was being logged (sha256 {expected.digest[:12]}..., "
                    f"{expected.size} bytes, then {blob.digest[:12]}..., {blob.size} bytes); "
                    "log it again once nothing writes to it"
                )
            if not self.contains(blob):
                try:
                    self._s3.copy({"Bucket": bucket, "Key": tmp_key}, bucket, self._blob_key(blob.digest),
                                  Config=config)
                except Exception as err:
                    raise self._error("store", err) from err
            return blob
        finally:
            # A leftover temporary object is harmless; the blob under its digest is what counts.
            with contextlib.suppress(Exception):
                self._s3.delete_object(Bucket=bucket, Key=tmp_key)

    def _error(self, doing: str, err: BaseException) -> StoreError:
        return StoreError(
            f"cannot {doing} artifact blobs in {self.url}: {err}; check the bucket, the endpoint "
            "(AWS_ENDPOINT_URL) and the credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
        )


def _blocks(body: Any) -> Iterator[bytes]:
    try:
        while True:
            data = body.read(BLOCK_SIZE)
            if not data:
                return
            yield data
    finally:
        body.close()


def _status(err: Any) -> int:
    return int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
