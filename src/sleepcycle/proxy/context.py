"""What the proxy adds to a chat: the persona and the memories that matter, within a budget.

The block goes into the system prompt of the request forwarded to the model, never into the
recorded episodes. Tokens are estimated at four characters each; lines are added in order
(persona first, then memories best first) until the next one would pass the budget.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..mind import Mind
from ..times import format_time

__all__ = ["inject", "memory_block"]

HEADER = "[Long-term memory. Use it when it helps; do not mention it unless asked.]"


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


def memory_block(mind: Mind, query: str, *, memories: int, budget: int) -> tuple[str, list[str]]:
    """The block for ``query`` and the ids of the memories in it."""
    if budget <= 0:
        return "", []
    lines = [HEADER]
    used = _tokens(HEADER)
    persona = mind.persona()
    if persona is not None and persona.text.strip():
        text = f"Who you are: {persona.text.strip()}"
        if used + _tokens(text) <= budget:
            lines.append(text)
            used += _tokens(text)
    ids: list[str] = []
    if query.strip() and memories > 0:
        for hit in mind.recall(query, k=memories).hits:
            memory = hit.memory
            assert memory is not None
            since = f" (since {format_time(memory.valid_from)[:10]})" if memory.valid_from else ""
            line = f"- {memory.text}{since}"
            if used + _tokens(line) > budget:
                break
            lines.append(line)
            used += _tokens(line)
            ids.append(memory.id)
    if len(lines) == 1:
        return "", []
    return "\n".join(lines), ids


def inject(messages: Sequence[Mapping[str, Any]], block: str) -> list[dict[str, Any]]:
    """The messages with ``block`` at the end of the (first) system message, or in a new one."""
    out = [dict(m) for m in messages]
    if not block:
        return out
    for message in out:
        if message.get("role") == "system" and isinstance(message.get("content"), str):
            message["content"] = f"{message['content']}\n\n{block}"
            return out
    return [{"role": "system", "content": block}, *out]
