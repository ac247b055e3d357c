"""The model interface: a chat completion, optionally constrained to a JSON schema.

A backend turns a ``ChatRequest`` into a ``ChatReply`` that reports its tokens and latency.
Backends never parse or trust the reply: ``roles.RoleModel.ask`` validates it against the
schema (engines silently ignore schemas they do not understand) and asks again when it is
invalid.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..records import ModelCall

__all__ = [
    "Backend",
    "ChatReply",
    "ChatRequest",
    "Choice",
    "Message",
    "call_record",
    "key_seed",
    "request_hash",
    "stream_reply",
]

Message = Mapping[str, str]  # {"role": ..., "content": ...}


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One chat completion: messages, sampling, and the JSON schema the reply must follow."""

    messages: Sequence[Message]
    schema: Mapping[str, Any] | None = None
    temperature: float = 0.7
    max_tokens: int = 512
    seed: int | None = None
    schema_name: str = "reply"
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChatReply:
    """What came back, with what it cost."""

    text: str
    model: str
    tokens_in: int = 0
    tokens_out: int = 0
    ms: float = 0.0
    finish_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Choice:
    """How likely a model was to begin its reply with each option (log-probabilities that
    sum, as probabilities, to one over the options)."""

    logprobs: Mapping[str, float]
    model: str
    tokens_in: int = 0
    ms: float = 0.0

    def probability(self, option: str) -> float:
        return math.exp(self.logprobs[option])


@runtime_checkable
class Backend(Protocol):
    """A model engine. ``model_id`` names the model in journals and call records."""

    model_id: str

    def complete(self, request: ChatRequest) -> ChatReply: ...

    def close(self) -> None: ...


@runtime_checkable
class Chooser(Protocol):
    """A model that can say how likely it was to begin its reply with each of a few options
    (the embedded engine; the verifier's judge)."""

    model_id: str

    def choose(self, request: ChatRequest, options: Sequence[str]) -> Choice: ...


def stream_reply(backend: Backend, request: ChatRequest) -> Iterator[str]:
    """The reply in pieces as the backend produces them (one piece if it cannot stream)."""
    stream = getattr(backend, "stream", None)
    if stream is None:
        yield backend.complete(request).text
        return
    yield from stream(request)


def key_seed(key: str) -> int:
    """A sampling seed derived from a call's key: the same question gets the same sampling."""
    return sum(ord(c) * (i + 1) for i, c in enumerate(key)) % 2**31


def request_hash(request: ChatRequest) -> str:
    """A stable hash of what was asked (prompt, schema, sampling), for call records."""
    canonical = json.dumps(
        {
            "messages": [dict(m) for m in request.messages],
            "schema": request.schema,
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "seed": request.seed,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def call_record(
    request: ChatRequest,
    reply: ChatReply | Choice,
    *,
    role: str,
    sleep_id: str | None = None,
    stage: str | None = None,
    key: str | None = None,
    error: str | None = None,
) -> ModelCall:
    """What the store keeps of one call: the reply's text (a choice's log-probabilities as
    JSON), its model and cost, the request's hash."""
    if isinstance(reply, Choice):
        response, tokens_out = json.dumps(dict(reply.logprobs)), 0
    else:
        response, tokens_out = reply.text, reply.tokens_out
    return ModelCall(
        role=role,
        model=reply.model,
        prompt_hash=request_hash(request),
        response=response,
        tokens_in=reply.tokens_in,
        tokens_out=tokens_out,
        ms=reply.ms,
        sleep_id=sleep_id,
        stage=stage,
        key=key,
        error=error,
    )
