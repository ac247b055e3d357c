"""The chat proxy: OpenAI-compatible ``/v1/chat/completions`` and ``/v1/responses`` in front of
the agent's model.

An agent points its OpenAI client at the proxy instead of its model. For every request the
proxy records the conversation's turns as episodes (idempotently: a client sends the whole
history each time), adds the persona and the memories that matter to the system prompt, and
forwards the request, every field as the agent sent it (``forward.Forward``), to the foreground
model, or to the sub model while the agent sleeps; the reply comes back in the upstream's shape
(tool calls, streamed deltas; the Responses API translated, ``responses``). The
response says which in ``X-Sleepcycle-Model`` (``foreground`` or ``sub``) and names the model in
``X-Sleepcycle-Model-Id``; the reply is recorded too. ``POST /v1/sleepcycle/thoughts`` takes
parked, dismissed and internal thoughts; ``GET /v1/sleepcycle/status`` says whether the agent
sleeps.

The proxy's door is ``serve``'s: with ``[[api.keys]]`` in config.toml every request needs a key
that reaches the proxy's agent (``Authorization: Bearer KEY``, which is what an OpenAI client
sends as its ``api_key``); without keys it answers only requests addressed to a loopback name.
Bodies over ``limits.request_bytes`` and cross-origin writes are refused (``server.edge``).
Errors are OpenAI's shape, ``{"error": {"message", "type"}}``, and never echo the request.

Needs the ``server`` extra (FastAPI and uvicorn).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from ..errors import ConflictError, ModelError, NotFoundError, SleepcycleError, UsageError
from ..lock import asleep
from ..mind import Mind
from ..models.relay import RelayRefused, UpstreamError, message_of
from ..models.roles import RoleModel
from ..records import ThoughtKind, ThoughtStatus
from ..server.auth import Forbidden, Gate, Unauthorized
from ..server.edge import Edge
from .context import inject, memory_block
from .forward import Forward, record_reply, sse
from .responses import ResponseStream, to_chat, to_response

__all__ = ["ChatBody", "ResponsesBody", "create_app"]

CHAT_ROLES = ("user", "assistant", "tool")
log = logging.getLogger("sleepcycle.proxy")


class ChatBody(BaseModel):
    """An OpenAI chat completion request; fields the proxy does not use are passed on."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    messages: list[dict[str, Any]] = Field(min_length=1)
    stream: bool = False
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1)
    user: str | None = None


class ResponsesBody(BaseModel):
    """An OpenAI Responses request; translated to a chat completion (``responses.to_chat``)."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    input: str | list[Any]
    stream: bool = False
    user: str | None = None


class ThoughtBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=20_000)
    kind: ThoughtKind = ThoughtKind.PARKED
    sources: list[str] = []


def _recordable(message: dict[str, Any]) -> bool:
    return bool(_text(message.get("content")).strip() or message.get("tool_calls"))


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


STATUS: list[tuple[type[SleepcycleError], int]] = [
    (RelayRefused, 400),
    (Unauthorized, 401),
    (Forbidden, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (UsageError, 400),
    (ModelError, 502),
]


def _body(status: int, kind: str, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind}}


def _error(status: int, kind: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(_body(status, kind, message), status_code=status, headers=headers)


def _handle_errors(app: FastAPI) -> None:
    @app.exception_handler(SleepcycleError)
    def _failure(request: Request, exc: SleepcycleError) -> JSONResponse:
        status = next((code for cls, code in STATUS if isinstance(exc, cls)), 500)
        if status == 500:
            log.error("%s %s failed: %s", request.method, request.url.path, exc)
        return _error(status, exc.kind, str(exc))

    @app.exception_handler(UpstreamError)
    def _upstream(request: Request, exc: UpstreamError) -> JSONResponse:
        body = exc.body if isinstance(exc.body, dict) else _body(0, "upstream_error", str(exc))
        return JSONResponse(body, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors()[:3]:
            where = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "request"
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
        return _error(422, "invalid_request_error", "; ".join(parts))

    @app.exception_handler(HTTPException)
    def _http(request: Request, exc: HTTPException) -> JSONResponse:
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http")
        return _error(exc.status_code, kind, str(exc.detail))

    @app.exception_handler(Exception)
    def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s crashed", request.method, request.url.path, exc_info=exc)
        return _error(500, "internal", "internal error; the proxy's log has details")


def create_app(mind: Mind) -> FastAPI:
    """The proxy for ``mind``'s agent."""
    gate = Gate(mind.config.api)

    def door(request: Request) -> None:
        gate.allow(Gate.key_of(request.headers, {}), mind.agent)

    app = FastAPI(
        title="sleepcycle chat proxy",
        version="1",
        description="OpenAI-compatible chat completions with long-term memory.",
        dependencies=[Depends(door)],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.mind = mind
    app.state.last_request = time.monotonic()
    _handle_errors(app)
    app.add_middleware(
        Edge,
        max_bytes=mind.config.limits.request_bytes,
        loopback_only=gate.open,
        refuse=_body,
    )

    _chat_routes(app, mind)

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": "sleepcycle", "object": "model", "owned_by": "sleepcycle"}],
        }

    @app.post("/v1/sleepcycle/thoughts", status_code=201)
    def think(body: ThoughtBody) -> dict[str, Any]:
        thought = mind.think(body.text, kind=body.kind, sources=body.sources)
        return {"id": thought.id, "kind": thought.kind.value, "status": thought.status.value}

    @app.get("/v1/sleepcycle/status")
    def status() -> dict[str, Any]:
        sleeping = asleep(mind.store, mind.agent)
        role = "sub" if sleeping else "foreground"
        return {
            "agent": mind.agent,
            "asleep": sleeping is not None,
            "sleep": sleeping,
            "serving": {"role": role, "model": mind.models.role(role).model_id},
            "unconsolidated": mind.store.episodes.count(mind.agent, unconsolidated=True),
            "open_thoughts": mind.store.thoughts.count(mind.agent, status=ThoughtStatus.OPEN),
        }

    return app


@dataclass(frozen=True, slots=True)
class _Exchange:
    """One request on its way: the model that answers, the turns recorded, the response
    headers."""

    mind: Mind
    session: str
    model: RoleModel
    turns: list[dict[str, Any]]
    headers: dict[str, str]

    def record(self, message: dict[str, Any], truncated: str | None = None) -> None:
        record_reply(self.mind, self.session, self.turns, message, truncated)


def _exchange(
    app: FastAPI, mind: Mind, fields: dict[str, Any], session: str
) -> tuple[_Exchange, Forward]:
    """Pick the model (the sub model while the agent sleeps) and check that it can take the
    request (a 400 leaves the store as it was), record the history, add the memories that
    matter to the messages it is sent."""
    settings = mind.config.proxy
    app.state.last_request = time.monotonic()
    role = "sub" if asleep(mind.store, mind.agent) else "foreground"
    if role == "foreground":
        mind.refresh_adapter()  # a training or `sleepcycle adapters` may have changed it
    model = mind.models.role(role)
    forward = Forward(model, fields)  # refuses what the model cannot take
    messages: list[dict[str, Any]] = fields["messages"]
    turns = [m for m in messages if m.get("role") in CHAT_ROLES and _recordable(m)]
    if turns:  # an oversize turn is recorded cut to limits.episode_chars, not refused
        mind.ingest_messages(turns, session=session, truncate=True)
    users = [m for m in messages if m.get("role") == "user"]
    query = _text(users[-1].get("content")) if users else ""
    block, used = memory_block(
        mind, query, memories=settings.memories, budget=settings.context_tokens
    )
    forward.body["messages"] = inject(messages, block)
    headers = {
        "X-Sleepcycle-Model": role,
        "X-Sleepcycle-Model-Id": model.model_id,
        "X-Sleepcycle-Memories": ",".join(used),
    }
    return _Exchange(mind, session, model, turns, headers), forward


def _chat_routes(app: FastAPI, mind: Mind) -> None:
    """``/v1/chat/completions`` and ``/v1/responses``: record, add memories, forward. An
    upstream's refusal is answered with its own status and body (``_upstream``)."""
    header = mind.config.proxy.session_header

    @app.post("/v1/chat/completions", response_model=None)
    def chat(body: ChatBody, request: Request) -> JSONResponse | StreamingResponse:
        session = request.headers.get(header) or body.user or "proxy"
        fields = body.model_dump(exclude_unset=True)
        ex, forward = _exchange(app, mind, fields, session)
        if body.stream:
            first, chunks = forward.opened()
            events = sse(first, chunks, ex.record)
            return StreamingResponse(events, media_type="text/event-stream", headers=ex.headers)
        completion = forward.complete()
        ex.record(message_of(completion))
        return JSONResponse(completion, headers=ex.headers)

    @app.post("/v1/responses", response_model=None)
    def responses(body: ResponsesBody, request: Request) -> JSONResponse | StreamingResponse:
        session = request.headers.get(header) or body.user or "proxy"
        fields = body.model_dump(exclude_unset=True)
        chat_fields = to_chat(fields)
        ex, forward = _exchange(app, mind, chat_fields, session)
        if body.stream:
            first, chunks = forward.opened()
            events = ResponseStream(fields, ex.model.model_id)
            stream = events.stream(sse(first, chunks, ex.record, events.render, events.done,
                                       events.failed))  # fmt: skip
            return StreamingResponse(stream, media_type="text/event-stream", headers=ex.headers)
        completion = forward.complete()
        message = message_of(completion)
        ex.record(message)
        return JSONResponse(to_response(fields, message, completion), headers=ex.headers)
