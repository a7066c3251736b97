"""Build the dashboard's FastAPI app from a store folder.

The app reads through :class:`rltrack.store.reader.StoreReader` only; with ``ingest=True``
(``rltrack server``) it also mounts the batched ingest endpoints, the one place that writes.
Every answer carries the security headers (:mod:`rltrack.server.headers`), every request passes
the guard (:mod:`rltrack.server.security`), which names its caller (``request.state.principal``, from
the store's accounts once a user exists: :mod:`rltrack.server.accounts`), every route reads through a
reader scoped to that caller (:mod:`rltrack.server.deps`), and every error is ``{"detail": ...}``
(:mod:`rltrack.server.problems`).

There is no ``/docs`` page: Swagger UI would load its script from a CDN (so it fails offline) and
start it with an inline script (which the CSP forbids). ``/openapi.json`` describes the whole API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from rltrack.errors import RltrackError, RunNotFoundError, StoreError
from rltrack.server.accounts.gate import AccountsGate
from rltrack.server.cache import ReadCache
from rltrack.server.headers import HeadersMiddleware
from rltrack.server.problems import document_errors, scrub
from rltrack.server.responses import SafeJSONResponse
from rltrack.server.security import AccessControl, GuardMiddleware
from rltrack.store.open import open_database
from rltrack.store.reader import StoreReader

__all__ = ["ServerSettings", "create_app"]


@dataclass(frozen=True)
class ServerSettings:
    """How the app serves a store.

    Attributes:
        root: The store folder.
        ingest: Mount the ingest endpoints (``rltrack server``); the store is created if missing.
        access: Tokens, public reads, trusted proxies, allowed hosts and the request-size limits.
        frame_ancestors: Who may show the pages in a frame (CSP ``frame-ancestors``): nobody, except
            for the notebook server (:data:`rltrack.server.headers.NOTEBOOK_FRAME_ANCESTORS`).
        db: A PostgreSQL URL (``rltrack server --db``) holding runs and values instead of the SQLite file
            in ``root``; run folders (media) stay under ``root``.
    """

    root: Path
    ingest: bool = False
    access: AccessControl = field(default_factory=AccessControl)
    frame_ancestors: str = "'none'"
    db: str | None = None


def create_app(settings: ServerSettings | Path | str) -> FastAPI:
    """Return the FastAPI app serving one store folder (pages, JSON API and, optionally, ingest).

    Raises:
        StoreError: there is no store in the folder (and ``ingest`` is off).
    """
    from rltrack.server import (
        routes_artifacts,
        routes_media,
        routes_meta,
        routes_pages,
        routes_runs,
        routes_series,
        routes_simreal,
    )

    if not isinstance(settings, ServerSettings):
        settings = ServerSettings(root=Path(settings))
    db = open_database(Path(settings.root), settings.db, create=settings.ingest)
    app = FastAPI(
        title="rltrack",
        summary="Runs, series, media and sim-vs-real views of an rltrack store.",
        version="1",
        default_response_class=SafeJSONResponse,
        docs_url=None,
        redoc_url=None,
    )
    app.state.reader = StoreReader(db)
    app.state.cache = ReadCache(db)  # type: ignore[arg-type]  # it only calls reading(): any Backend
    app.state.settings = settings
    # Accounts live beside the store: <root>/accounts.sqlite, or tables in the --db PostgreSQL database.
    # The ingest server makes the tables in its PostgreSQL database at once (no per-request probing for them);
    # the SQLite file appears only with the first `rltrack server admin` command.
    gate = AccountsGate(Path(settings.root), settings.db, settings.access, create=settings.ingest)
    app.state.accounts_gate = gate
    for module in (routes_runs, routes_series, routes_media, routes_simreal, routes_artifacts, routes_pages,
                   routes_meta):
        app.include_router(module.router)
    from rltrack.server import routes_workspace

    app.include_router(routes_workspace.router)
    from rltrack.server import routes_histograms  # the run page's histogram panels

    app.include_router(routes_histograms.router)
    from rltrack.server import routes_auth  # login page, sessions, the caller's API keys

    app.include_router(routes_auth.router)
    if settings.ingest:
        from rltrack.server import routes_ingest
        from rltrack.store.ingest import ensure_schema

        ensure_schema(db)
        app.include_router(routes_ingest.router)
    _install_error_handlers(app, Path(settings.root))
    document_errors(app)
    app.add_middleware(GuardMiddleware, access=settings.access, identify=gate.identify)
    # Outermost: the guard's refusals carry the headers too.
    app.add_middleware(HeadersMiddleware, frame_ancestors=settings.frame_ancestors)
    return app


def _install_error_handlers(app: FastAPI, root: Path) -> None:
    # Every failure a client can cause is a 4xx with a message: never a bare 500. Messages never
    # carry the store's absolute path (a client has no business knowing the server's disk layout).
    def problem(status: int, detail: Any, headers: Any = None) -> SafeJSONResponse:
        return SafeJSONResponse({"detail": scrub(detail, root)}, status_code=status, headers=headers)

    @app.exception_handler(RunNotFoundError)
    async def not_found(request: Request, exc: RunNotFoundError) -> SafeJSONResponse:
        return problem(404, str(exc))

    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError) -> SafeJSONResponse:
        return problem(503, str(exc))

    @app.exception_handler(RltrackError)
    async def bad_value(request: Request, exc: RltrackError) -> SafeJSONResponse:
        return problem(400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> SafeJSONResponse:
        messages = [_invalid_message(e) for e in exc.errors()]
        return problem(422, "; ".join(messages) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> SafeJSONResponse:
        return problem(exc.status_code, exc.detail, exc.headers)  # a 405 keeps its Allow header

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> SafeJSONResponse:
        return problem(500, f"internal server error ({type(exc).__name__}); the server's log has the details")


def _invalid_message(error: Any) -> str:
    """``query.offset: Input should be ... (got '-1')``: the value given is named for query and path parameters.

    Body values are not echoed: a body may hold a password (login) or a large document.
    """
    loc = tuple(error.get("loc", ()))
    text = f"{'.'.join(str(p) for p in loc)}: {error.get('msg', '')}"
    if loc and loc[0] in ("query", "path") and "input" in error and error["input"] is not None:
        given = repr(error["input"])
        text += f" (got {given if len(given) <= 80 else given[:77] + '...'})"
    return text
