"""Proposals: the memory operations a sleep considers, and how models write them.

Models never see real ids. A cluster's episodes, memories and thoughts are labelled ``e1``,
``m1``, ``t1`` in the prompt, and the reply schema only admits those labels (enums), so a
grammar-constrained model cannot cite something that does not exist and a free model's stray
labels are dropped when the reply is read back. Every schema is bounded (``maxItems``,
``maxLength``, enums) so a small model cannot run on until ``max_tokens``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..records import Episode, Memory, MemoryKind, Thought
from ..times import format_time

__all__ = ["OPS", "Labels", "ModelOp", "Proposal", "operation_schema", "reply_schema"]

OpName = Literal[
    "add", "edit", "amend", "retract", "supersede", "merge", "link", "park", "insight", "resolve"
]
OPS: tuple[str, ...] = (
    "add", "edit", "amend", "retract", "supersede", "merge", "link", "park", "insight", "resolve",
)  # fmt: skip
NEEDS_TARGETS = {"edit": 1, "amend": 1, "retract": 1, "supersede": 1, "merge": 2, "link": 2}
NEEDS_TEXT = {"add", "edit", "amend", "supersede", "merge", "park", "insight"}
NEEDS_SOURCES = {"add", "edit", "amend", "supersede", "insight"}
TEXT_LIMIT = 240


class Proposal(BaseModel):
    """One operation, in real ids. ``round`` 0 is the dreamer's; later rounds are rewrites."""

    model_config = ConfigDict(frozen=True)

    id: str
    cluster: str
    op: OpName
    kind: MemoryKind = MemoryKind.FACT
    text: str = ""
    sources: list[str] = []
    targets: list[str] = []
    thought: str | None = None
    relation: str = "related"
    reason: str = ""
    round: int = 0
    parent: str | None = None
    role: str = "dreamer"  # or "reshaper", or "drafter" (code: ``draft.py``)
    superseded_by: str | None = None  # a later proposal of tonight that replaces this one

    def describe(self, labels: Labels | None = None) -> str:
        """The operation in one line, with labels when given (for prompts and the journal)."""
        name = labels.label if labels else (lambda x: x)
        parts: list[str] = [self.op]
        if self.op in ("add", "insight"):
            parts.append(f"({self.kind.value})")
        if self.targets:
            parts.append(" + ".join(name(t) for t in self.targets))
        if self.thought:
            parts.append(f"thought {name(self.thought)}")
        if self.text:
            parts.append(f'"{self.text}"')
        if self.sources:
            parts.append("from " + ", ".join(name(s) for s in self.sources))
        return " ".join(parts)


class ModelOp(BaseModel):
    """One operation as a model writes it (labels, not ids)."""

    op: OpName
    kind: MemoryKind = MemoryKind.FACT
    text: str = Field("", max_length=TEXT_LIMIT * 2)
    sources: list[str] = []
    targets: list[str] = []
    thought: str = ""
    reason: str = ""


class ModelOps(BaseModel):
    operations: list[ModelOp] = Field(default_factory=list, max_length=20)


@dataclass
class Labels:
    """The prompt labels of one cluster: e1.. for episodes, m1.. memories, t1.. thoughts."""

    episodes: list[Episode]
    memories: list[Memory]
    thoughts: list[Thought]

    def __post_init__(self) -> None:
        self.to_id: dict[str, str] = {}
        self.to_label: dict[str, str] = {}
        groups: list[tuple[str, Sequence[Episode | Memory | Thought]]] = [
            ("e", self.episodes),
            ("m", self.memories),
            ("t", self.thoughts),
        ]
        for prefix, items in groups:
            for n, item in enumerate(items, start=1):
                self.to_id[f"{prefix}{n}"] = item.id
                self.to_label[item.id] = f"{prefix}{n}"

    def label(self, item_id: str) -> str:
        return self.to_label.get(item_id, item_id)

    def relabel(self, text: str) -> str:
        for item_id, label in self.to_label.items():
            text = text.replace(item_id, label)
        return text

    def episode_block(self) -> str:
        return (
            "\n".join(
                f"e{n}. [{format_time(e.time)[:16].replace('T', ' ')}] {e.search_text}"
                if e.role.value in ("user", "assistant")
                else f"e{n}. [{format_time(e.time)[:16].replace('T', ' ')}] ({e.role.value}) "
                f"{e.search_text}"
                for n, e in enumerate(self.episodes, start=1)
            )
            or "(none)"
        )

    def memory_block(self) -> str:
        return (
            "\n".join(
                f"m{n}. ({m.kind.value}) {m.text}" for n, m in enumerate(self.memories, start=1)
            )
            or "(none)"
        )

    def thought_block(self) -> str:
        return (
            "\n".join(
                f"t{n}. ({t.kind.value}) {t.text}" for n, t in enumerate(self.thoughts, start=1)
            )
            or "(none)"
        )

    def ops(self) -> list[str]:
        """The operations that make sense for what this cluster holds."""
        allowed = []
        for op in OPS:
            if NEEDS_TARGETS.get(op, 0) > len(self.memories):
                continue
            if op in NEEDS_SOURCES and not self.episodes:
                continue
            if op == "resolve" and not self.thoughts:
                continue
            allowed.append(op)
        return allowed

    def to_proposal(self, op: ModelOp, pid: str, cluster: str, **extra: Any) -> Proposal:
        """A proposal in real ids; labels that name nothing in this cluster are dropped."""

        def ids(labels: Sequence[str], prefix: str) -> list[str]:
            found = [self.to_id[x] for x in labels if x.startswith(prefix) and x in self.to_id]
            return list(dict.fromkeys(found))

        thought = self.to_id.get(op.thought) if op.thought.startswith("t") else None
        return Proposal(
            id=pid,
            cluster=cluster,
            op=op.op,
            kind=MemoryKind.INSIGHT if op.op == "insight" else op.kind,
            text=" ".join(op.text.split())[:TEXT_LIMIT],
            sources=ids(op.sources, "e"),
            targets=ids(op.targets, "m"),
            thought=thought,
            reason=" ".join(op.reason.split())[:200],
            **extra,
        )


def _enum_array(values: list[str], most: int) -> dict[str, Any]:
    if not values:
        return {"type": "array", "items": {"type": "string"}, "maxItems": 0}
    return {
        "type": "array",
        "items": {"type": "string", "enum": values},
        "maxItems": min(most, len(values)),
    }


def operation_schema(labels: Labels, ops: Sequence[str] | None = None) -> dict[str, Any]:
    """The JSON schema of one operation for this cluster (fields in the order models write)."""
    return {
        "type": "object",
        "properties": {
            "op": {"type": "string", "enum": list(ops or labels.ops())},
            "kind": {"type": "string", "enum": [k.value for k in MemoryKind]},
            "text": {"type": "string", "maxLength": TEXT_LIMIT},
            "sources": _enum_array([f"e{n}" for n in range(1, len(labels.episodes) + 1)], 4),
            "targets": _enum_array([f"m{n}" for n in range(1, len(labels.memories) + 1)], 3),
            "thought": {
                "type": "string",
                "enum": ["", *(f"t{n}" for n in range(1, len(labels.thoughts) + 1))],
            },
            "reason": {"type": "string", "maxLength": 120},
        },
        "required": ["op", "kind", "text", "sources", "targets", "thought", "reason"],
        "additionalProperties": False,
    }


def reply_schema(labels: Labels, most: int) -> dict[str, Any]:
    """The dreamer's reply: up to ``most`` operations."""
    return {
        "type": "object",
        "properties": {
            "operations": {"type": "array", "items": operation_schema(labels), "maxItems": most}
        },
        "required": ["operations"],
        "additionalProperties": False,
    }
