"""Online mode: log into an rltrack server over HTTP, spooling to local disk while it is unreachable.

``connect(url, api_key, spool_dir)`` returns a :class:`RemoteWriter`, which the run API uses in
place of the local store writer; ``push_run`` copies a local run to a server (``rltrack sync RUN``),
``push_store`` a whole store folder with its artifacts (``rltrack sync DIR``).
Batches a server would not store are kept as dead letters (:mod:`rltrack.remote.deadletters`).
"""

from __future__ import annotations

from rltrack.remote.sync import push_run
from rltrack.remote.sync_store import StoreSync, push_store
from rltrack.remote.writer import RemoteWriter, connect

__all__ = ["RemoteWriter", "StoreSync", "connect", "push_run", "push_store"]
