"""FastAPI dependencies shared by the route modules.

The routes take the store reader and the read cache through these, so no route module imports
``app.py`` (which imports the routes): layers import one way.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from rltrack.server.cache import ReadCache
from rltrack.store.reader import StoreReader

__all__ = ["Cache", "Reader", "cache_of", "reader_of"]


def reader_of(request: Request) -> StoreReader:
    """Return the app's store reader (a FastAPI dependency)."""
    reader: StoreReader = request.app.state.reader
    return reader


def cache_of(request: Request) -> ReadCache:
    """Return the app's read cache (a FastAPI dependency)."""
    cache: ReadCache = request.app.state.cache
    return cache


Reader = Annotated[StoreReader, Depends(reader_of)]
Cache = Annotated[ReadCache, Depends(cache_of)]
