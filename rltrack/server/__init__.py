"""The dashboard and JSON API (FastAPI): ``rltrack ui`` serves a store folder, ``rltrack server`` adds ingest.

Needs the ``ui`` extra (``pip install 'rltrack[ui]'``).
"""

from __future__ import annotations

from rltrack.server.app import ServerSettings, create_app

__all__ = ["ServerSettings", "create_app"]
