"""Forwarding one chat completion: to a backend that takes the body as it stands (a ``Relay``:
an OpenAI-compatible server, the embedded engine), or through a plain ``ChatRequest`` for one
that cannot; and recording the reply, whole or, when a stream broke off, marked truncated.

A backend that is not a relay gets only what a ``ChatRequest`` holds (messages, temperature,
max tokens, seed); any other field that would change the answer (``tools``,
``response_format``, ``stop``, ...) is refused with a 400 that names it, never dropped.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any

import anyio

from ..errors import ModelError
from ..mind import Mind
from ..models import ChatRequest, stream_reply
from ..models.openai import OpenAIBackend
from ..models.relay import HARMLESS, Relay, RelayRefused, ReplyBuilder, StreamCut
from ..models.roles import RoleModel

__all__ = ["Forward", "record_reply", "sse"]

# Fields a plain ChatRequest carries (and ``n`` of 1).
_PLAIN = frozenset({"messages", "temperature", "max_tokens", "max_completion_tokens", "seed", "n"})


def record_reply(
    mind: Mind,
    session: str,
    turns: Sequence[Mapping[str, Any]],
    message: Mapping[str, Any],
    truncated: str | None = None,
) -> None:
    """Record the reply after the turns it answers, in one batch: the history is already
    stored (nothing is added twice) and an identical earlier reply stays a separate episode.
    ``truncated`` says why a reply is partial ("upstream", "client")."""
    reply: dict[str, Any] = {"role": "assistant", "content": message.get("content") or ""}
    if message.get("tool_calls"):
        reply["tool_calls"] = list(message["tool_calls"])
    if message.get("reasoning_content"):
        reply["reasoning_content"] = message["reasoning_content"]
    if truncated:
        reply["truncated"] = truncated
    if not str(reply["content"]).strip() and not reply.get("tool_calls"):
        return
    mind.ingest_messages([*turns, reply], session=session, truncate=True)


class Forward:
    """One request's way to its model: the body to send, and how to send it."""

    def __init__(self, model: RoleModel, fields: Mapping[str, Any]):
        self.model = model
        self.backend = model.backend
        body = dict(fields)
        body.pop("stream", None)
        if not isinstance(self.backend, OpenAIBackend):
            # An engine of our own: the role's sampling where the client set none.
            body.setdefault("temperature", model.temperature)
            if "max_completion_tokens" not in body:
                body.setdefault("max_tokens", model.max_tokens)
        self.body = body
        if isinstance(self.backend, Relay):
            self.backend.check(body)
        else:
            refused = sorted(k for k in body if k not in _PLAIN and k not in HARMLESS)
            if body.get("n") not in (None, 1):
                refused.append("n")
            if refused:
                raise RelayRefused(
                    f"the {model.role} model {model.model_id} cannot take "
                    f"{', '.join(refused)}; leave it out, or configure a model that can "
                    "(an OpenAI-compatible server, or the embedded engine)"
                )

    def _request(self) -> ChatRequest:
        body = self.body
        return ChatRequest(
            body["messages"],
            temperature=float(body.get("temperature", self.model.temperature)),
            max_tokens=int(
                body.get("max_completion_tokens") or body.get("max_tokens") or self.model.max_tokens
            ),
            seed=body.get("seed"),
        )

    def complete(self) -> dict[str, Any]:
        """The chat completion, in OpenAI's shape."""
        if isinstance(self.backend, Relay):
            return self.backend.relay(self.body)
        reply = self.backend.complete(self._request())
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": reply.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.text},
                    "finish_reason": reply.finish_reason or "stop",
                }
            ],
            "usage": {
                "prompt_tokens": reply.tokens_in,
                "completion_tokens": reply.tokens_out,
                "total_tokens": reply.tokens_in + reply.tokens_out,
            },
        }

    def chunks(self) -> Iterator[dict[str, Any]]:
        """The completion's chunks, in OpenAI's shape."""
        if isinstance(self.backend, Relay):
            return self.backend.relay_stream(self.body)
        return _as_chunks(self.model.model_id, stream_reply(self.backend, self._request()))

    def opened(self) -> tuple[dict[str, Any] | None, Iterator[dict[str, Any]]]:
        """The stream's first chunk (None if it has none) and the rest: an upstream that
        refuses does so here, before any byte goes to the client."""
        chunks = self.chunks()
        try:
            return next(chunks), chunks
        except StopIteration:
            return None, iter(())


def _as_chunks(model: str, pieces: Iterator[str]) -> Iterator[dict[str, Any]]:
    reply_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": reply_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    yield chunk({"role": "assistant", "content": ""})
    for piece in pieces:
        yield chunk({"content": piece})
    yield chunk({}, "stop")


def _data(value: Any) -> bytes:
    return f"data: {json.dumps(value, ensure_ascii=False)}\n\n".encode()


def error_event(exc: Exception) -> dict[str, Any]:
    kind = "stream_cut" if isinstance(exc, StreamCut) else "model_error"
    return {"error": {"message": str(exc), "type": kind}}


async def sse(
    first: dict[str, Any] | None,
    chunks: Iterator[dict[str, Any]],
    record: Callable[[dict[str, Any], str | None], None],
    render: Callable[[dict[str, Any], ReplyBuilder], list[bytes]] | None = None,
    done: Callable[[ReplyBuilder], list[bytes]] | None = None,
    failed: Callable[[Exception, ReplyBuilder], list[bytes]] | None = None,
) -> AsyncIterator[bytes]:
    """Server-sent events for a stream of chunks, each passed on as it comes (or as
    ``render`` turns it into events), ended by ``[DONE]`` (or ``done``'s events) only when
    the upstream finished. When the upstream breaks off, the client gets an error event and
    no ``[DONE]``; then, or when the client goes away, what came is recorded, marked."""
    builder = ReplyBuilder()
    ended: str | None = "client"
    try:
        chunk = first
        while chunk is not None:
            builder.add(chunk)
            for event in render(chunk, builder) if render else [_data(chunk)]:
                yield event
            chunk = await anyio.to_thread.run_sync(next, chunks, None)
        for event in done(builder) if done else [b"data: [DONE]\n\n"]:
            yield event
        ended = None
    except ModelError as exc:
        ended = "upstream"
        for event in failed(exc, builder) if failed else [_data(error_event(exc))]:
            yield event
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
        record(builder.message(), ended)
