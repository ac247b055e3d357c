"""Documented fake models for tests and examples: no engine, no network, no weights.

``ScriptedModel`` returns the replies it was given, in order; ``FunctionModel`` calls a function
of the request. Replies may be strings or JSON-able values (dicts and lists are serialised), so
a test can script exactly what the dreamer, verifier or reshaper says::

    dreamer = ScriptedModel([{"operations": [{"op": "add", "text": "...", ...}]}])
    verifier = FunctionModel(lambda req: {"score": 1, "reasons": "grounded", "feedback": ""})

Token counts are words, latency is the time the call took.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..errors import ModelError
from .base import ChatReply, ChatRequest

__all__ = ["FunctionModel", "ScriptedModel"]

Reply = str | dict[str, Any] | list[Any]


def _text(reply: Reply) -> str:
    return reply if isinstance(reply, str) else json.dumps(reply, ensure_ascii=False)


def _words(request: ChatRequest) -> int:
    return sum(len(str(m.get("content", "")).split()) for m in request.messages)


class ScriptedModel:
    """Returns scripted replies in order; raises ``ModelError`` when they run out."""

    def __init__(self, replies: Iterable[Reply], model_id: str = "scripted"):
        self.model_id = model_id
        self._replies = list(replies)
        self._lock = threading.Lock()
        self.requests: list[ChatRequest] = []

    def complete(self, request: ChatRequest) -> ChatReply:
        started = time.perf_counter()
        with self._lock:
            self.requests.append(request)
            if not self._replies:
                raise ModelError(
                    f"{self.model_id} ran out of scripted replies after {len(self.requests) - 1}"
                    " calls; script one reply per expected call"
                )
            reply = _text(self._replies.pop(0))
        return ChatReply(
            reply,
            self.model_id,
            tokens_in=_words(request),
            tokens_out=len(reply.split()),
            ms=(time.perf_counter() - started) * 1000,
            finish_reason="stop",
        )

    def stream(self, request: ChatRequest) -> Iterator[str]:
        """The scripted reply, word by word."""
        yield from _pieces(self.complete(request).text)

    def close(self) -> None:
        pass


def _pieces(text: str) -> Iterator[str]:
    words = text.split(" ")
    for i, word in enumerate(words):
        yield word if i == len(words) - 1 else word + " "


class FunctionModel:
    """Replies with ``fn(request)``: a fake whose answer depends on what it was asked."""

    def __init__(self, fn: Callable[[ChatRequest], Reply], model_id: str = "function"):
        self.model_id = model_id
        self.fn = fn
        self.requests: list[ChatRequest] = []

    def complete(self, request: ChatRequest) -> ChatReply:
        started = time.perf_counter()
        self.requests.append(request)
        reply = _text(self.fn(request))
        return ChatReply(
            reply,
            self.model_id,
            tokens_in=_words(request),
            tokens_out=len(reply.split()),
            ms=(time.perf_counter() - started) * 1000,
            finish_reason="stop",
        )

    def stream(self, request: ChatRequest) -> Iterator[str]:
        """The function's reply, word by word."""
        yield from _pieces(self.complete(request).text)

    def close(self) -> None:
        pass
