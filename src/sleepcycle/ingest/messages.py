"""OpenAI-style chat messages, one JSON object per line (JSONL) or a JSON array.

A line is a chat message (``role``, ``content``, optional ``name``, ``time`` and ``session``),
an event (``"role": "event"`` or ``"type": "event"``) or a thought (``"type": "thought"``
with ``kind`` parked / dismissed / internal). Content may be a string or a list of parts;
``reasoning_content`` on an assistant message becomes a thinking episode before it, and
``tool_calls`` are kept in ``meta`` (and described in the content when there is no text).
Every other field is kept in ``meta``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import InputError
from ..limits import check_value
from ..records import Role, ThoughtKind
from ..times import parse_time
from .drafts import Draft, EpisodeDraft, ThoughtDraft

__all__ = ["ROLE_ALIASES", "LineError", "parse_json_array", "parse_jsonl", "parse_message"]

ROLE_ALIASES: dict[str, Role] = {
    "human": Role.USER,
    "ai": Role.ASSISTANT,
    "bot": Role.ASSISTANT,
    "model": Role.ASSISTANT,
    "developer": Role.SYSTEM,
    "function": Role.TOOL,
    "reasoning": Role.THINKING,
    "think": Role.THINKING,
}
_KNOWN = {
    "type",
    "role",
    "content",
    "text",
    "name",
    "time",
    "timestamp",
    "session",
    "kind",
    "sources",
    "meta",
    "reasoning_content",
    "tool_calls",
}


_EXPECTED = {
    "content": "a string or a list of content parts",
    "text": "a string",
    "time": "ISO 8601 text like 2026-03-01T09:14:00Z or epoch seconds",
    "timestamp": "ISO 8601 text like 2026-03-01T09:14:00Z or epoch seconds",
    "kind": "one of parked, dismissed, internal",
    "type": "one of message, event, thought",
    "sources": "a list of episode ids",
    "meta": "an object",
    "session": "a non-empty string",
    "name": "a string",
}


class LineError(ValueError):
    """A problem with one line or message; the caller adds the file name."""

    def __init__(self, message: str, line: int | None = None):
        self.line = line
        super().__init__(message)


class _Line(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Literal["message", "event", "thought"] = "message"
    role: str | None = None
    content: str | list[dict[str, Any]] | None = None
    text: str | None = None
    name: str | None = Field(None, max_length=200)
    time: datetime | None = None
    timestamp: datetime | None = None
    session: str | None = Field(None, min_length=1, max_length=200)
    kind: ThoughtKind | None = None
    sources: list[str] | None = None
    meta: dict[str, Any] | None = None
    reasoning_content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None

    @field_validator("time", "timestamp", mode="before")
    @classmethod
    def _time(cls, value: Any) -> Any:
        if value is None or isinstance(value, datetime):
            return value
        if isinstance(value, str | int | float):
            return parse_time(value)
        raise ValueError("give ISO 8601 like 2026-03-01T09:14:00Z or epoch seconds")


def _role(value: str | None, kind: str) -> Role:
    if kind == "event":
        return Role.EVENT
    if value is None:
        raise LineError(
            'missing "role"; give one of user, assistant, system, tool, thinking, event'
        )
    lowered = value.strip().lower()
    if lowered in ROLE_ALIASES:
        return ROLE_ALIASES[lowered]
    try:
        return Role(lowered)
    except ValueError:
        raise LineError(
            f'unknown role "{value}"; use user, assistant, system, tool, thinking or event'
        ) from None


def _text_of(content: str | list[dict[str, Any]] | None) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for part in content:
        if part.get("type") in ("text", "input_text", "output_text") and "text" in part:
            parts.append(str(part["text"]))
        elif "type" in part:
            parts.append(f"[{part['type']}]")
    return "\n".join(parts)


def _describe_calls(calls: list[dict[str, Any]]) -> str:
    described = []
    for call in calls:
        function = call.get("function", call)
        described.append(f"called {function.get('name', '?')}({function.get('arguments', '')})")
    return "\n".join(described)


def parse_message(data: Any, default_session: str, source: str) -> list[Draft]:
    """The drafts one JSON object stands for (a message may carry a thinking episode too)."""
    if not isinstance(data, dict):
        raise LineError(f"expected a JSON object, got {type(data).__name__}")
    try:
        line = _Line.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "line"
        expected = _EXPECTED.get(field)
        message = f"should be {expected}" if expected else first["msg"]
        if first["type"] == "value_error":  # our own validator's words say more
            message = first["msg"].removeprefix("Value error, ")
        raise LineError(f'field "{field}": {message}') from None
    when = line.time or line.timestamp
    extra = {k: v for k, v in data.items() if k not in _KNOWN}
    meta = {**(line.meta or {}), **extra}
    session = line.session or default_session
    if line.type == "thought":
        text = (line.text or _text_of(line.content)).strip()
        if not text:
            raise LineError('a thought needs "content" (or "text"); it is empty')
        return [
            ThoughtDraft(
                kind=line.kind or ThoughtKind.PARKED,
                text=text,
                time=when,
                sources=tuple(line.sources) if line.sources is not None else None,
                meta=meta,
                source=source,
            )
        ]
    role = _role(line.role, line.type)
    content = _text_of(line.content if line.content is not None else line.text)
    if line.tool_calls:
        meta["tool_calls"] = line.tool_calls
        if not content.strip():
            content = _describe_calls(line.tool_calls)
    if not content.strip():
        raise LineError('empty "content"; every message needs text')
    drafts: list[Draft] = []
    if line.reasoning_content and line.reasoning_content.strip():
        drafts.append(
            EpisodeDraft(
                Role.THINKING, line.reasoning_content, session, when, line.name, {}, source
            )
        )
    drafts.append(EpisodeDraft(role, content, session, when, line.name, meta, source))
    return drafts


def _loads(text: str, max_depth: int) -> Any:
    """JSON, refusing what nests deeper than ``max_depth`` (or than Python can parse)."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise LineError(f"JSON nested too deeply; keep it under {max_depth} levels") from None
    try:
        check_value(data, "the JSON", max_depth=max_depth)
    except InputError as exc:
        raise LineError(str(exc)) from None
    return data


def parse_jsonl(
    text: str, default_session: str, path: str, max_depth: int = 32
) -> Iterator[tuple[int, list[Draft]]]:
    """(line number, drafts) for each non-blank line; raises LineError with the number. Lines
    end at a newline only: U+2028, U+0085 and the like are text inside a JSON string."""
    for number, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            data = _loads(raw.removesuffix("\r"), max_depth)
        except json.JSONDecodeError as exc:
            raise LineError(f"not valid JSON ({exc.msg} at column {exc.colno})", number) from None
        except LineError as exc:
            raise LineError(str(exc), number) from None
        try:
            yield number, parse_message(data, default_session, f"{path}:{number}")
        except LineError as exc:
            raise LineError(str(exc), number) from None


def parse_json_array(
    text: str, default_session: str, path: str, max_depth: int = 32
) -> Iterator[tuple[int, list[Draft]]]:
    """A JSON array of messages, or an object with a ``messages`` array."""
    try:
        data = _loads(text, max_depth + 2)  # the array and its wrapper object
    except json.JSONDecodeError as exc:
        raise LineError(f"not valid JSON ({exc.msg} at column {exc.colno})", exc.lineno) from None
    if isinstance(data, dict) and isinstance(data.get("messages"), list):
        default_session = str(data.get("session") or default_session)
        data = data["messages"]
    if not isinstance(data, list):
        raise LineError('expected a JSON array of messages or an object with "messages"')
    for number, item in enumerate(data, start=1):
        try:
            yield number, parse_message(item, default_session, f"{path}#{number}")
        except LineError as exc:
            raise LineError(f"message {number}: {exc}") from None
