"""Documented fake models for tests and examples: no engine, no network, no weights.

``ScriptedModel`` returns the replies it was given, in order; ``FunctionModel`` calls a function
of the request. Replies may be strings or JSON-able values (dicts and lists are serialised), so
a test can script exactly what the dreamer, verifier or reshaper says::

    dreamer = ScriptedModel([{"operations": [{"op": "add", "text": "...", ...}]}])
    verifier = FunctionModel(lambda req: {"score": 1, "reasons": "grounded", "feedback": ""})

``ChoiceModel`` stands in for a judge read by its token probabilities (``verify.judge =
choice``): ``fn(request)`` gives the probability of each option::

    judge = ChoiceModel(lambda req: {"Yes": 0.2, "No": 0.8})

Token counts are words, latency is the time the call took.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from ..errors import ModelError
from .base import ChatReply, ChatRequest, Choice

__all__ = ["ChoiceModel", "FunctionModel", "ScriptedModel"]

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


class ChoiceModel:
    """A judge: ``choose`` answers with the probabilities ``fn(request)`` gives each option
    (normalised over the options asked about); ``complete`` replies with the likeliest."""

    def __init__(self, fn: Callable[[ChatRequest], Mapping[str, float]], model_id: str = "choice"):
        self.model_id = model_id
        self.fn = fn
        self.requests: list[ChatRequest] = []

    def choose(self, request: ChatRequest, options: Sequence[str]) -> Choice:
        self.requests.append(request)
        given = self.fn(request)
        weights = [max(float(given.get(o, 0.0)), 1e-12) for o in options]
        total = sum(weights)
        return Choice(
            {o: math.log(w / total) for o, w in zip(options, weights, strict=True)},
            self.model_id,
            tokens_in=_words(request),
        )

    def complete(self, request: ChatRequest) -> ChatReply:
        given = self.fn(request)
        best = max(given, key=lambda o: given[o])
        return ChatReply(best, self.model_id, tokens_in=_words(request), tokens_out=1)

    def close(self) -> None:
        pass
