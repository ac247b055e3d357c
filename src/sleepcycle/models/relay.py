"""Pass-through chat completions: an OpenAI request body in, OpenAI's shapes out.

The chat proxy must not narrow what an agent sends: tools, ``tool_choice``,
``response_format``, ``stop``, ``seed``, ``logprobs`` and whatever else the upstream accepts go on
unchanged, and the upstream's reply comes back unchanged in shape (``tool_calls``,
``finish_reason``, ``usage``, refusals), streamed chunk by chunk. A backend that can do this is
a :class:`Relay`; the proxy falls back to a plain ``ChatRequest`` for one that cannot, and
refuses (400) the fields it would have to drop.

Errors: :class:`UpstreamError` carries the upstream's own status and body (the proxy answers
with them); :class:`StreamCut` says a stream ended before the upstream finished it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol, runtime_checkable

from ..errors import ModelError

__all__ = [
    "HARMLESS",
    "Relay",
    "RelayRefused",
    "ReplyBuilder",
    "StreamCut",
    "UpstreamError",
    "message_of",
]


# OpenAI request fields that change no answer: any backend may let them through.
HARMLESS = frozenset(
    {"model", "stream", "user", "metadata", "store", "stream_options", "parallel_tool_calls",
     "service_tier", "reasoning_effort"}
)  # fmt: skip


class UpstreamError(ModelError):
    """The upstream answered with an error: its status and its body, passed on as they are."""

    def __init__(self, status: int, body: Any, message: str):
        super().__init__(message)
        self.status = status
        self.body = body


class RelayRefused(ModelError):
    """The backend cannot do what the request asks (tools on a model that cannot call them, a
    field it has no way to honour): a 400 for the client, naming the reason."""


class StreamCut(ModelError):
    """A streamed reply ended before the upstream said it was done."""


@runtime_checkable
class Relay(Protocol):
    """A backend that takes an OpenAI chat-completions body as it stands."""

    model_id: str

    def check(self, body: Mapping[str, Any]) -> None:
        """Raise :class:`RelayRefused` for what it cannot take, before anything is sent."""
        ...

    def relay(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The upstream's chat completion for ``body`` (``model`` is the backend's own)."""
        ...

    def relay_stream(self, body: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """The upstream's chunks for ``body``, in order; raises :class:`UpstreamError` before
        the first chunk when the upstream refuses, :class:`StreamCut` when it stops early."""
        ...


def message_of(completion: Mapping[str, Any]) -> dict[str, Any]:
    """The assistant message of a chat completion (its first choice)."""
    try:
        message = completion["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        return {"role": "assistant", "content": ""}
    return dict(message) if isinstance(message, Mapping) else {"role": "assistant", "content": ""}


class ReplyBuilder:
    """Puts a streamed reply back together from its chunks: the text, the reasoning, the tool
    calls (whose ids, names and arguments arrive in pieces, by index), the finish reason."""

    def __init__(self) -> None:
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None
        self.usage: Mapping[str, Any] | None = None

    def add(self, chunk: Mapping[str, Any]) -> None:
        if isinstance(chunk.get("usage"), Mapping):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, Mapping) or choice.get("index", 0) != 0:
                continue
            if choice.get("finish_reason"):
                self.finish_reason = str(choice["finish_reason"])
            delta = choice.get("delta") or {}
            if not isinstance(delta, Mapping):
                continue
            if isinstance(delta.get("content"), str):
                self.content.append(delta["content"])
            if isinstance(delta.get("reasoning_content"), str):
                self.reasoning.append(delta["reasoning_content"])
            for call in delta.get("tool_calls") or []:
                if isinstance(call, Mapping):
                    self._call(call)

    def _call(self, piece: Mapping[str, Any]) -> None:
        index = int(piece.get("index", len(self.calls)))
        call = self.calls.setdefault(
            index, {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
        )
        if piece.get("id"):
            call["id"] = str(piece["id"])
        if piece.get("type"):
            call["type"] = str(piece["type"])
        function = piece.get("function") or {}
        if isinstance(function, Mapping):
            name = str(function.get("name") or "")
            if name and name != call["function"]["name"]:  # llama.cpp repeats it every chunk
                call["function"]["name"] += name
            if function.get("arguments"):
                call["function"]["arguments"] += str(function["arguments"])

    def message(self) -> dict[str, Any]:
        """The assistant message the chunks so far make."""
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self.content)}
        if self.calls:
            message["tool_calls"] = [self.calls[i] for i in sorted(self.calls)]
        if self.reasoning:
            message["reasoning_content"] = "".join(self.reasoning)
        return message
