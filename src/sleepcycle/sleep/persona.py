"""Persona (REM, the seed's "undeep sleep"): the persona model looks at the night's memories.

The foreground model, speaking as the agent, is shown its persona and tonight's accepted
memories and proposes updates (add, replace or remove a line). A drift guard keeps one night
from rewriting who the agent is: at most ``sleep.persona_drift`` of the lines change (at least
one; an empty persona may gain up to ``sleep.persona_updates`` lines), pinned lines are never
touched, and a new line must be grounded in tonight's memories or the persona itself.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..grounding import ungrounded
from ..models import ReplyError, parse_reply
from ..prompts import render
from .context import SleepContext
from .proposals import Proposal

__all__ = ["PersonaOutput", "apply_updates", "run"]


class PersonaUpdate(BaseModel):
    action: Literal["add", "replace", "remove"]
    line: str = Field("", max_length=400)
    new: str = Field("", max_length=400)
    note: str = Field("", max_length=400)


class _Reply(BaseModel):
    updates: list[PersonaUpdate] = Field(default_factory=list, max_length=20)


class PersonaOutput(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str | None = None  # the new persona, when it changes
    applied: list[str] = []
    refused: list[str] = []
    notes: list[str] = []


def _schema(most: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "updates": {
                "type": "array",
                "maxItems": most,
                "items": {
                    "type": "object",
                    "properties": {
                        "action": {"type": "string", "enum": ["add", "replace", "remove"]},
                        "line": {"type": "string", "maxLength": 200},
                        "new": {"type": "string", "maxLength": 200},
                        "note": {"type": "string", "maxLength": 160},
                    },
                    "required": ["action", "line", "new", "note"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["updates"],
        "additionalProperties": False,
    }


def apply_updates(
    lines: list[str],
    updates: list[PersonaUpdate],
    *,
    pinned: tuple[str, ...],
    evidence: list[str],
    drift: float,
    most_new: int,
) -> tuple[list[str], list[str], list[str]]:
    """The persona lines after the updates the guard allows; (lines, applied, refused)."""
    budget = max(1, math.floor(drift * len(lines))) if lines else most_new
    result = list(lines)
    applied: list[str] = []
    refused: list[str] = []
    for u in updates:
        line, new = " ".join(u.line.split()), " ".join(u.new.split())
        if len(applied) >= budget:
            refused.append(f"{u.action} {line!r}: over tonight's drift limit")
            continue
        if u.action in ("replace", "remove") and line in pinned:
            refused.append(f"{u.action} {line!r}: the line is pinned")
            continue
        if u.action in ("replace", "remove") and line not in result:
            refused.append(f"{u.action} {line!r}: no such line")
            continue
        added = line if u.action == "add" else new if u.action == "replace" else ""
        if u.action != "remove":
            if len(added) < 4:
                refused.append(f"{u.action}: the new line is empty")
                continue
            if added in result:
                refused.append(f"{u.action} {added!r}: already there")
                continue
            missing = ungrounded(added, [*evidence, *result])
            if missing:
                refused.append(
                    f"{u.action} {added!r}: not in tonight's memories: {', '.join(missing)}"
                )
                continue
        if u.action == "add":
            result.append(added)
        elif u.action == "replace":
            result[result.index(line)] = added
        else:
            result.remove(line)
        applied.append(f"{u.action} {line!r}" + (f" -> {new!r}" if u.action == "replace" else ""))
    return result, applied, refused


def run(ctx: SleepContext, accepted: list[Proposal]) -> PersonaOutput:
    memories = [p.text for p in accepted if p.text and p.op not in ("park",)]
    if not memories or ctx.settings.persona_updates == 0:
        ctx.note("considered", "no new memories to reflect on")
        return PersonaOutput()
    current = ctx.host.persona()
    lines = [x.strip() for x in current.text.splitlines() if x.strip()] if current else []
    prompt = render(
        "persona",
        persona="\n".join(lines) or "(no description yet)",
        memories="\n".join(f"- {m}" for m in memories),
        max_updates=ctx.settings.persona_updates,
    )
    try:
        reply = ctx.ask(
            "foreground",
            "persona",
            [{"role": "user", "content": prompt}],
            _schema(ctx.settings.persona_updates),
            lambda text: parse_reply(text, _Reply),
        )
    except ReplyError as exc:
        ctx.note("error", f"the persona model gave no usable reply ({exc})")
        return PersonaOutput()
    new_lines, applied, refused = apply_updates(
        lines,
        reply.updates[: ctx.settings.persona_updates],
        pinned=current.pinned if current else (),
        evidence=memories,
        drift=ctx.settings.persona_drift,
        most_new=ctx.settings.persona_updates,
    )
    notes = [u.note.strip() for u in reply.updates if u.note.strip()]
    for note in notes:
        ctx.note("note", f"the persona model: {note}")
    for item in applied:
        ctx.note("proposed", f"persona: {item}")
    for item in refused:
        ctx.note("refused", f"persona: {item}")
    changed = new_lines != lines
    return PersonaOutput(
        text="\n".join(new_lines) if changed else None,
        applied=applied,
        refused=refused,
        notes=notes,
    )
