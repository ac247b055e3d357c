"""The HTTP API (``/v1``) and the web page (``/``), served by ``sleepcycle serve``.

Every response to a failed request is JSON ``{"error": {"kind": ..., "message": ...}}`` with
a status that says whose fault it was: 400 bad input, 401 no or unknown key, 403 a key that
may not reach the agent, 404 no such item, 409 a conflict (a stale version, an agent already
asleep), 422 a request that does not match the OpenAPI description, 502 a model that failed,
500 anything else. No stack trace leaves the server; it goes to the server's log.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ..config import ApiSettings
from ..errors import (
    ConflictError,
    ModelError,
    NotFoundError,
    SleepcycleError,
    UsageError,
)
from ..mind import Mind
from ..server.auth import Forbidden, Gate, Unauthorized
from ..server.deps import Caller, Hub, caller_of
from ..server.edge import Edge
from ..web import error_page
from ..web import mount as mount_web
from .memory_routes import router as memory_router
from .sleep_routes import router as sleep_router
from .sleeper import Sleeper

__all__ = ["create_server", "error_response"]

log = logging.getLogger("sleepcycle.api")

STATUS: list[tuple[type[SleepcycleError], int]] = [
    (Unauthorized, 401),
    (Forbidden, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (UsageError, 400),
    (ModelError, 502),
]


def error_response(status: int, kind: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        {"error": {"kind": kind, "message": message}}, status_code=status, headers=headers
    )


def _status_of(exc: SleepcycleError) -> int:
    return next((code for cls, code in STATUS if isinstance(exc, cls)), 500)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "request"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    more = len(exc.errors()) - 3
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def respond(request: Request, status: int, kind: str, message: str) -> Response:
    """JSON for the API (``/v1``, ``/mcp``), an HTML page for the web page."""
    if request.url.path.startswith(("/v1", "/mcp")):
        return error_response(status, kind, message)
    return error_page(request, status, kind, message)


def _handle_errors(app: FastAPI) -> None:
    @app.exception_handler(SleepcycleError)
    def _failure(request: Request, exc: SleepcycleError) -> Response:
        status = _status_of(exc)
        if status == 500:
            log.error("%s %s failed: %s", request.method, request.url.path, exc)
        return respond(request, status, exc.kind, str(exc))

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return respond(request, 422, "invalid_request", _validation_message(exc))

    @app.exception_handler(HTTPException)
    def _http(request: Request, exc: HTTPException) -> Response:
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http")
        return respond(request, exc.status_code, kind, str(exc.detail))

    @app.exception_handler(Exception)
    def _crash(request: Request, exc: Exception) -> Response:
        log.error("%s %s crashed", request.method, request.url.path, exc_info=exc)
        return respond(request, 500, "internal", "internal error; the server's log has details")


def create_server(mind: Mind, *, settings: ApiSettings | None = None) -> FastAPI:
    """The API, MCP and the web page over ``mind``'s store; ``mind.agent`` is the default
    agent."""
    from ..mcp_server import mount as mount_mcp  # noqa: PLC0415 - needs the server extra

    gate = Gate(settings or mind.config.api)
    sleeper = Sleeper()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with app.state.mcp.running():
            yield
        sleeper.stop_all()

    app = FastAPI(
        title="sleepcycle",
        version="1",
        description=(
            "Long-term memory for LLM agents: episodes, thoughts, recall, memories, the "
            "persona, sleeps and their journals, and the review queue. Authenticate with "
            "`Authorization: Bearer KEY` when the server has API keys."
        ),
        lifespan=lifespan,
        docs_url=None,  # Swagger UI loads from a CDN: offline it fails, and it needs no key
        redoc_url=None,
        openapi_url=None,  # served below, behind the key check
    )
    app.state.hub = Hub(mind, gate)
    app.state.sleeper = sleeper
    app.state.mcp = mount_mcp(app, app.state.hub)  # MCP over streamable HTTP at /mcp
    _handle_errors(app)
    app.add_middleware(
        Edge,
        max_bytes=mind.config.limits.request_bytes,
        loopback_only=gate.open,
        refuse=lambda status, kind, message: {"error": {"kind": kind, "message": message}},
    )

    @app.get("/v1/health", tags=["agents"])
    def health() -> dict[str, Any]:
        """Liveness, without authentication."""
        return {"ok": True}

    @app.get("/v1/openapi.json", include_in_schema=False)
    def openapi(caller: Annotated[Caller, Depends(caller_of)]) -> dict[str, Any]:
        """The OpenAPI description of this API (with a key when the server has keys)."""
        return app.openapi()

    app.include_router(memory_router)
    app.include_router(sleep_router)
    mount_web(app)  # the web page: / and /static
    return app
