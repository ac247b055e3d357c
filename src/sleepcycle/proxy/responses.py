"""The OpenAI Responses API (``POST /v1/responses``) translated to chat completions and back.

The OpenAI SDKs and the Agents SDK default to Responses; the models behind the proxy speak
chat completions. A request's ``instructions`` become the system message, its ``input`` items
the messages (``function_call`` items an assistant message with ``tool_calls``,
``function_call_output`` items ``tool`` messages), its function tools chat tools, its
``text.format`` a ``response_format``, ``max_output_tokens`` ``max_tokens``. The reply comes back
as a response object (``message`` and ``function_call`` output items, usage in input and output
tokens), and a stream as Responses events (``response.created`` ... ``response.completed``;
``error`` when the upstream breaks off).

The proxy keeps no responses: ``previous_response_id`` is refused (send the whole input), and
so are built-in tools (web search, file search, computer use) that only OpenAI runs.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

from ..errors import UsageError
from ..models.relay import ReplyBuilder

__all__ = ["ResponseStream", "to_chat", "to_response"]

# Responses fields with a chat-completions twin of the same name and meaning.
_SAME = ("temperature", "top_p", "parallel_tool_calls", "metadata", "store", "user", "seed")
_IGNORED = ("model", "stream", "include", "reasoning", "truncation", "background", "service_tier")


def _new(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, Mapping) and part.get("type") not in (None, "refusal"):
                raise UsageError(
                    f"input content of type {part.get('type')!r} cannot go through the proxy's "
                    "chat models; send text"
                )
        return "".join(parts)
    return ""


def _call_of(item: Mapping[str, Any]) -> dict[str, Any]:
    """A ``function_call`` input item as a chat tool call."""
    return {
        "id": str(item.get("call_id") or item.get("id") or _new("call")),
        "type": "function",
        "function": {
            "name": str(item.get("name", "")),
            "arguments": str(item.get("arguments", "")),
        },
    }


def _message_of(item: Mapping[str, Any], number: int) -> dict[str, Any] | None:
    """An input item (other than a function call) as a chat message; None for reasoning."""
    kind = item.get("type", "message")
    if kind == "function_call_output":
        output = item.get("output")
        text = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
        return {"role": "tool", "tool_call_id": str(item.get("call_id", "")), "content": text}
    if kind == "message":
        role = item.get("role", "user")
        if role not in ("user", "assistant", "system", "developer"):
            raise UsageError(f"input item {number}: unknown role {role!r}")
        content = _text_of(item.get("content"))
        return {"role": "system" if role == "developer" else role, "content": content}
    if kind == "reasoning":
        return None  # a model's own reasoning summary: nothing for the next model to read
    raise UsageError(
        f"input item {number}: {kind!r} items cannot go through the proxy's chat models; "
        "send messages, function calls and their outputs"
    )


def _messages(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if isinstance(body.get("instructions"), str) and body["instructions"].strip():
        messages.append({"role": "system", "content": body["instructions"]})
    given = body.get("input")
    if isinstance(given, str):
        return [*messages, {"role": "user", "content": given}]
    if not isinstance(given, list) or not given:
        raise UsageError('"input" must be a string or a list of items; it is missing or empty')
    calls: list[dict[str, Any]] = []

    def flush() -> None:
        if calls:
            messages.append({"role": "assistant", "content": None, "tool_calls": list(calls)})
            calls.clear()

    for number, item in enumerate(given, start=1):
        if not isinstance(item, Mapping):
            raise UsageError(f"input item {number} is not an object")
        if item.get("type") == "function_call":
            calls.append(_call_of(item))
            continue
        flush()
        message = _message_of(item, number)
        if message is not None:
            messages.append(message)
    flush()
    return messages


def _tools(tools: Any) -> list[dict[str, Any]]:
    out = []
    for tool in tools or []:
        if not isinstance(tool, Mapping) or tool.get("type") != "function":
            kind = tool.get("type") if isinstance(tool, Mapping) else type(tool).__name__
            raise UsageError(
                f"the {kind!r} tool runs only on OpenAI's servers; the proxy's models can take "
                "function tools"
            )
        function = {k: tool[k] for k in ("name", "description", "parameters") if k in tool}
        if "strict" in tool and tool["strict"] is not None:
            function["strict"] = tool["strict"]
        out.append({"type": "function", "function": function})
    return out


def to_chat(body: Mapping[str, Any]) -> dict[str, Any]:
    """A chat-completions body for a Responses request body."""
    if body.get("previous_response_id"):
        raise UsageError(
            "previous_response_id needs responses stored on the server, and the proxy keeps "
            "none; send the whole conversation in input"
        )
    chat: dict[str, Any] = {"messages": _messages(body)}
    for key in _SAME:
        if body.get(key) is not None:
            chat[key] = body[key]
    if body.get("max_output_tokens") is not None:
        chat["max_tokens"] = body["max_output_tokens"]
    if body.get("tools"):
        chat["tools"] = _tools(body["tools"])
    choice = body.get("tool_choice")
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        chat["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    elif isinstance(choice, str):
        chat["tool_choice"] = choice
    fmt = (body.get("text") or {}).get("format") if isinstance(body.get("text"), Mapping) else None
    if isinstance(fmt, Mapping) and fmt.get("type") == "json_schema":
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
        chat["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif isinstance(fmt, Mapping) and fmt.get("type") == "json_object":
        chat["response_format"] = {"type": "json_object"}
    unknown = sorted(
        k for k in body if k not in chat and k not in _IGNORED and k not in _KNOWN_INPUT
    )
    if unknown:
        raise UsageError(
            f"the proxy cannot translate {', '.join(unknown)} to a chat completion; leave it out"
        )
    return chat


_KNOWN_INPUT = frozenset(
    {"instructions", "input", "max_output_tokens", "tools", "tool_choice", "text",
     "previous_response_id", *_SAME}
)  # fmt: skip


def _usage(usage: Any) -> dict[str, Any]:
    usage = usage if isinstance(usage, Mapping) else {}
    given, made = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    return {
        "input_tokens": given,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": made,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": given + made,
    }


def _message_item(text: str, item_id: str, status: str = "completed") -> dict[str, Any]:
    return {
        "type": "message",
        "id": item_id,
        "status": status,
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def _call_item(call: Mapping[str, Any], item_id: str, status: str = "completed") -> dict[str, Any]:
    function = call.get("function") or {}
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": str(call.get("id", "")),
        "name": str(function.get("name", "")),
        "arguments": str(function.get("arguments", "")),
        "status": status,
    }


def _shell(body: Mapping[str, Any], model: str, response_id: str, created: int) -> dict[str, Any]:
    return {
        "id": response_id,
        "object": "response",
        "created_at": created,
        "status": "in_progress",
        "model": model,
        "output": [],
        "instructions": body.get("instructions"),
        "tools": list(body.get("tools") or []),
        "tool_choice": body.get("tool_choice", "auto"),
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "temperature": body.get("temperature"),
        "top_p": body.get("top_p"),
        "max_output_tokens": body.get("max_output_tokens"),
        "metadata": body.get("metadata") or {},
        "text": body.get("text") or {"format": {"type": "text"}},
        "truncation": "disabled",
        "error": None,
        "incomplete_details": None,
        "usage": None,
    }


def _finish(response: dict[str, Any], finish_reason: str | None) -> None:
    if finish_reason == "length":
        response["status"] = "incomplete"
        response["incomplete_details"] = {"reason": "max_output_tokens"}
    else:
        response["status"] = "completed"


def to_response(
    body: Mapping[str, Any], message: Mapping[str, Any], completion: Mapping[str, Any]
) -> dict[str, Any]:
    """A response object for a chat completion's reply ``message``."""
    response = _shell(
        body,
        str(completion.get("model") or body.get("model") or ""),
        _new("resp"),
        int(completion.get("created") or time.time()),
    )
    if isinstance(message.get("content"), str) and message["content"]:
        response["output"].append(_message_item(message["content"], _new("msg")))
    for call in message.get("tool_calls") or []:
        response["output"].append(_call_item(call, _new("fc")))
    choices = completion.get("choices") or [{}]
    _finish(response, (choices[0] or {}).get("finish_reason"))
    response["usage"] = _usage(completion.get("usage"))
    return response


class ResponseStream:
    """Chat-completion chunks as Responses events, item by item as they open and grow."""

    def __init__(self, body: Mapping[str, Any], model: str):
        self.body = body
        self.response = _shell(body, model, _new("resp"), int(time.time()))
        self.sequence = 0
        self.text_item: tuple[int, str] | None = None  # (output index, item id)
        self.call_items: dict[int, tuple[int, str]] = {}  # call index -> (output index, id)
        self.opened = 0

    def _event(self, kind: str, **fields: Any) -> bytes:
        data = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()

    async def stream(self, events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """``response.created`` and ``response.in_progress``, then ``events``."""
        yield self._event("response.created", response=dict(self.response))
        yield self._event("response.in_progress", response=dict(self.response))
        async for event in events:
            yield event

    def render(self, chunk: Mapping[str, Any], builder: ReplyBuilder) -> list[bytes]:
        events: list[bytes] = []
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {} if isinstance(choice, Mapping) else {}
            text = delta.get("content") if isinstance(delta, Mapping) else None
            if isinstance(text, str) and text:
                events += self._text(text)
            for piece in delta.get("tool_calls") or [] if isinstance(delta, Mapping) else []:
                events += self._call(piece, builder)
        return events

    def _text(self, text: str) -> list[bytes]:
        events = []
        if self.text_item is None:
            self.text_item = (self.opened, _new("msg"))
            self.opened += 1
            index, item_id = self.text_item
            item = _message_item("", item_id, "in_progress")
            item["content"] = []
            events.append(self._event("response.output_item.added", output_index=index, item=item))
            events.append(
                self._event(
                    "response.content_part.added",
                    item_id=item_id,
                    output_index=index,
                    content_index=0,
                    part={"type": "output_text", "text": "", "annotations": []},
                )
            )
        index, item_id = self.text_item
        events.append(
            self._event(
                "response.output_text.delta",
                item_id=item_id,
                output_index=index,
                content_index=0,
                delta=text,
                logprobs=[],
            )
        )
        return events

    def _call(self, piece: Mapping[str, Any], builder: ReplyBuilder) -> list[bytes]:
        number = int(piece.get("index", 0))
        events = []
        if number not in self.call_items:
            self.call_items[number] = (self.opened, _new("fc"))
            self.opened += 1
            index, item_id = self.call_items[number]
            call = builder.calls.get(number, {})
            item = _call_item(call, item_id, "in_progress")
            item["arguments"] = ""
            events.append(self._event("response.output_item.added", output_index=index, item=item))
        index, item_id = self.call_items[number]
        arguments = (piece.get("function") or {}).get("arguments")
        if arguments:
            events.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=item_id,
                    output_index=index,
                    delta=arguments,
                )
            )
        return events

    def _items(self, builder: ReplyBuilder) -> list[tuple[int, dict[str, Any]]]:
        message = builder.message()
        items = []
        if self.text_item is not None:
            index, item_id = self.text_item
            items.append((index, _message_item(message["content"], item_id)))
        for number, (index, item_id) in self.call_items.items():
            items.append((index, _call_item(builder.calls.get(number, {}), item_id)))
        return sorted(items, key=lambda pair: pair[0])

    def done(self, builder: ReplyBuilder) -> list[bytes]:
        events = []
        for index, item in self._items(builder):
            if item["type"] == "message":
                text = item["content"][0]["text"]
                events.append(
                    self._event(
                        "response.output_text.done",
                        item_id=item["id"],
                        output_index=index,
                        content_index=0,
                        text=text,
                        logprobs=[],
                    )
                )
                events.append(
                    self._event(
                        "response.content_part.done",
                        item_id=item["id"],
                        output_index=index,
                        content_index=0,
                        part=item["content"][0],
                    )
                )
            else:
                events.append(
                    self._event(
                        "response.function_call_arguments.done",
                        item_id=item["id"],
                        output_index=index,
                        name=item["name"],
                        arguments=item["arguments"],
                    )
                )
            events.append(self._event("response.output_item.done", output_index=index, item=item))
        response = self.response
        response["output"] = [item for _, item in self._items(builder)]
        _finish(response, builder.finish_reason)
        response["usage"] = _usage(builder.usage)
        events.append(self._event("response.completed", response=response))
        return events

    def failed(self, exc: Exception, builder: ReplyBuilder) -> list[bytes]:
        return [self._event("error", code="upstream_error", message=str(exc), param=None)]
