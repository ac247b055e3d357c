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

``engine = "fake"`` makes a configured model of a fixed reply, for what runs a whole process
from config alone (a fleet worker, ``sleepcycle sleep``) in tests and benchmarks: never for a
real night. ``delay_ms`` stands in for a model's latency; ``log`` names a file that gets one
line per call (the model and the request's hash), to count calls across processes::

    [models.fake-verifier]
    engine = "fake"
    reply = '{"score": 1, "reasons": "supported", "feedback": ""}'
    delay_ms = 50

``FakeUpstream`` is an OpenAI-compatible server inside an ``httpx`` transport, for what sits in
front of one (the chat proxy): it answers ``/chat/completions`` in OpenAI's documented shapes,
tool calls and streamed tool-call deltas included, and can refuse or break off a stream::

    upstream = FakeUpstream(lambda body: {"content": "Hi!"})
    backend = OpenAIBackend("http://upstream/v1", "up-model", transport=upstream.transport)
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import Field

from ..config import EngineSettings
from ..errors import ModelError
from ..plugins import Engine, EngineBuild
from .base import ChatReply, ChatRequest, Choice, request_hash

__all__ = [
    "ENGINE",
    "ChoiceModel",
    "FakeSettings",
    "FakeUpstream",
    "FixedModel",
    "FunctionModel",
    "ScriptedModel",
]

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


class FakeUpstream:
    """An OpenAI-compatible ``/chat/completions`` in an ``httpx`` transport (``transport``).

    ``reply(body)`` gives the assistant message for a request body (``content``, and
    ``tool_calls`` as OpenAI writes them, without ids if you like: they are added). A streamed
    request gets it in chunks: the text a word at a time, each call's name first and its
    arguments in pieces of ``piece`` characters, the finish reason last, and usage when
    ``stream_options.include_usage`` asks. ``error = (status, body)`` answers every request
    with that; ``cut_after = N`` drops the connection after N chunks (no ``[DONE]``);
    ``delay`` seconds pass before each chunk. Every body received is in ``requests``.
    """

    def __init__(
        self,
        reply: Callable[[dict[str, Any]], Mapping[str, Any]],
        *,
        error: tuple[int, Any] | None = None,
        cut_after: int | None = None,
        delay: float = 0.0,
        piece: int = 4,
    ):
        self.reply = reply
        self.error = error
        self.cut_after = cut_after
        self.delay = delay
        self.piece = piece
        self.requests: list[dict[str, Any]] = []
        self.transport = httpx.MockTransport(self._handle)

    def _message(self, body: dict[str, Any]) -> dict[str, Any]:
        given = dict(self.reply(body))
        message: dict[str, Any] = {
            "role": "assistant",
            "content": given.get("content"),
            "refusal": given.get("refusal"),
        }
        calls = [
            {"id": call.get("id") or f"call_{uuid.uuid4().hex[:12]}", "type": "function",
             "function": dict(call["function"])}
            for call in given.get("tool_calls") or []
        ]  # fmt: skip
        if calls:
            message["tool_calls"] = calls
        return message

    def _handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        if self.error is not None:
            return httpx.Response(self.error[0], json=self.error[1])
        message = self._message(body)
        words = sum(len(str(m.get("content") or "").split()) for m in body["messages"])
        made = len(str(message.get("content") or "").split())
        usage = {"prompt_tokens": words, "completion_tokens": made, "total_tokens": words + made}
        finish = "tool_calls" if message.get("tool_calls") else "stop"
        base = {"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "created": int(time.time()),
                "model": body.get("model"), "system_fingerprint": "fake"}  # fmt: skip
        if not body.get("stream"):
            choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            return httpx.Response(
                200, json={**base, "object": "chat.completion", "choices": [choice], "usage": usage}
            )
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        chunks = self._chunks(message, finish, usage if include_usage else None)
        return httpx.Response(
            200,
            headers={"content-type": "text/event-stream"},
            content=self._events(base, chunks),
        )

    def _chunks(
        self, message: Mapping[str, Any], finish: str, usage: Mapping[str, Any] | None
    ) -> list[tuple[dict[str, Any] | None, str | None, Mapping[str, Any] | None]]:
        out: list[tuple[dict[str, Any] | None, str | None, Mapping[str, Any] | None]] = [
            ({"role": "assistant", "content": ""}, None, None)
        ]
        text = str(message.get("content") or "")
        for n, word in enumerate(text.split(" ")):
            out.append(({"content": word if n == 0 else " " + word}, None, None))
        for index, call in enumerate(message.get("tool_calls") or []):
            function = call["function"]
            head = {"index": index, "id": call["id"], "type": "function",
                    "function": {"name": function["name"], "arguments": ""}}  # fmt: skip
            out.append(({"tool_calls": [head]}, None, None))
            arguments = str(function.get("arguments") or "")
            for start in range(0, len(arguments), self.piece):
                part = arguments[start : start + self.piece]
                out.append(({"tool_calls": [{"index": index, "function": {"arguments": part}}]},
                            None, None))  # fmt: skip
        out.append(({}, finish, None))
        if usage is not None:
            out.append((None, None, usage))
        return out

    def _events(
        self,
        base: Mapping[str, Any],
        chunks: list[tuple[dict[str, Any] | None, str | None, Mapping[str, Any] | None]],
    ) -> Iterator[bytes]:
        for sent, (delta, finish, usage) in enumerate(chunks):
            if self.cut_after is not None and sent >= self.cut_after:
                raise httpx.ReadError("the upstream dropped the connection")
            if self.delay:
                time.sleep(self.delay)
            chunk: dict[str, Any] = {**base, "object": "chat.completion.chunk"}
            if delta is None:
                chunk["choices"], chunk["usage"] = [], dict(usage or {})
            else:
                chunk["choices"] = [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ]
            yield f"data: {json.dumps(chunk)}\n\n".encode()
        yield b"data: [DONE]\n\n"


class FakeSettings(EngineSettings):
    """``[models.NAME]`` with ``engine = "fake"``: a fixed reply (a documented fake)."""

    engine: Literal["fake"] = "fake"
    reply: str = Field("", description="what every call replies")
    delay_ms: int = Field(0, ge=0, le=600_000, description="how long each call takes")
    log: str = Field("", description="a file that gets a line per call; empty = none")


class FixedModel:
    """Replies ``reply`` to everything after ``delay_ms``; appends each call to ``log`` as
    ``model<TAB>request hash<TAB>pid`` (the pid tells which process asked)."""

    def __init__(self, name: str, reply: str, delay_ms: int = 0, log: Path | None = None):
        self.model_id = f"fake-{name}"
        self.reply = reply
        self.delay_ms = delay_ms
        self.log = log

    def complete(self, request: ChatRequest) -> ChatReply:
        started = time.perf_counter()
        time.sleep(self.delay_ms / 1000)
        if self.log is not None:
            with self.log.open("a") as out:
                out.write(f"{self.model_id}\t{request_hash(request)}\t{os.getpid()}\n")
        return ChatReply(
            self.reply,
            self.model_id,
            tokens_in=_words(request),
            tokens_out=len(self.reply.split()),
            ms=(time.perf_counter() - started) * 1000,
            finish_reason="stop",
        )

    def close(self) -> None:
        pass


def _build_fixed(build: EngineBuild) -> FixedModel:
    settings = build.settings
    assert isinstance(settings, FakeSettings)
    log = None
    if settings.log:
        log = Path(settings.log).expanduser()
        log = log if log.is_absolute() else build.home / log
    return FixedModel(build.name, settings.reply, settings.delay_ms, log)


ENGINE = Engine("fake", FakeSettings, _build_fixed)
