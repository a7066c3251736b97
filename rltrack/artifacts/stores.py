"""Where a store's artifact blobs live: its own folder, or an S3 bucket named by ``RLTRACK_BLOBS``.

Above both blob stores (:mod:`rltrack.artifacts.blobs`, :mod:`rltrack.artifacts.s3`), so neither
imports the other's module to choose.
"""

from __future__ import annotations

import os
from pathlib import Path

from rltrack.artifacts.blobs import BlobStore, LocalBlobStore

__all__ = ["open_blob_store"]


def open_blob_store(root: Path) -> BlobStore:
    """Return where a store's artifact blobs live: ``RLTRACK_BLOBS`` (``s3://bucket/prefix``) or ``root``.

    Raises:
        StoreError: ``RLTRACK_BLOBS`` is not an S3 URL, or boto3 is not installed.
    """
    spec = os.environ.get("RLTRACK_BLOBS", "").strip()
    if not spec:
        return LocalBlobStore(root)
    from rltrack.artifacts.s3 import S3BlobStore

    return S3BlobStore(spec)
