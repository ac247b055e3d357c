"""The records sleepcycle stores and returns: frozen dataclasses and their enums.

Untrusted data (files, model output, HTTP bodies) is validated with pydantic where it enters;
inside the library everything is one of these.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from .times import format_time, parse_time_or_none

__all__ = [
    "Activation",
    "Adapter",
    "AdapterStatus",
    "Association",
    "Author",
    "AuthorKind",
    "Episode",
    "ItemType",
    "JournalEntry",
    "Memory",
    "MemoryChange",
    "MemoryKind",
    "MemoryState",
    "MemoryStatus",
    "MemoryVersion",
    "ModelCall",
    "Op",
    "Outcome",
    "PersonaVersion",
    "ReviewItem",
    "ReviewStatus",
    "Role",
    "Sleep",
    "SleepStatus",
    "Thought",
    "ThoughtKind",
    "ThoughtStatus",
    "episode_text",
]


class ItemType(StrEnum):
    """What recall searches: memories, episodes, or both."""

    MEMORY = "memory"
    EPISODE = "episode"


class Role(StrEnum):
    """Who produced an episode."""

    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"
    TOOL = "tool"
    THINKING = "thinking"
    EVENT = "event"


class ThoughtKind(StrEnum):
    """Background thoughts: parked for later, dismissed, or internal (never shown in chat)."""

    PARKED = "parked"
    DISMISSED = "dismissed"
    INTERNAL = "internal"


class ThoughtStatus(StrEnum):
    OPEN = "open"
    DREAMT = "dreamt"
    RESOLVED = "resolved"
    DISCARDED = "discarded"


class MemoryKind(StrEnum):
    FACT = "fact"
    PREFERENCE = "preference"
    EVENT = "event"
    PLAN = "plan"
    INSIGHT = "insight"
    SKILL = "skill"
    PERSONA = "persona"


class MemoryStatus(StrEnum):
    """``superseded``: replaced by a newer memory; ``retracted``: withdrawn (a tombstone)."""

    ACTIVE = "active"
    SUPERSEDED = "superseded"
    RETRACTED = "retracted"


class Op(StrEnum):
    """What a memory version did."""

    ADD = "add"
    EDIT = "edit"
    AMEND = "amend"
    RETRACT = "retract"
    SUPERSEDE = "supersede"
    MERGE = "merge"
    LINK = "link"
    UNLINK = "unlink"
    RESTORE = "restore"
    IMPORT = "import"


class AuthorKind(StrEnum):
    USER = "user"
    AGENT = "agent"
    SLEEP = "sleep"


@dataclass(frozen=True, slots=True)
class Author:
    """Who made a change: a person, the agent itself, or a sleep (with its stage and model)."""

    kind: AuthorKind
    name: str
    stage: str | None = None
    model: str | None = None

    @classmethod
    def user(cls, name: str = "user") -> Author:
        return cls(AuthorKind.USER, name)

    @classmethod
    def agent(cls, name: str) -> Author:
        return cls(AuthorKind.AGENT, name)

    @classmethod
    def sleep(cls, sleep_id: str, stage: str, model: str | None = None) -> Author:
        return cls(AuthorKind.SLEEP, sleep_id, stage, model)

    def __str__(self) -> str:
        if self.kind is AuthorKind.SLEEP:
            extra = ", ".join(x for x in (self.stage, self.model) if x)
            return f"sleep {self.name} ({extra})" if extra else f"sleep {self.name}"
        return f"{self.kind.value} {self.name}" if self.name != self.kind.value else self.name


@dataclass(frozen=True, slots=True)
class Association:
    """A link from one memory to another, with a relation such as ``related`` or ``supersedes``."""

    id: str
    relation: str = "related"


@dataclass(frozen=True, slots=True)
class Episode:
    """Something that happened while awake: a chat turn, an event, a thinking message.

    Immutable once stored. ``consolidated_in`` is the sleep that consolidated it (the seed's
    "parsed" flag); ``None`` until a sleep commits it.
    """

    id: str
    agent: str
    session: str
    role: Role
    content: str
    time: datetime
    recorded_at: datetime
    name: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    source: str | None = None
    consolidated_in: str | None = None

    @property
    def search_text(self) -> str:
        """The text that recall indexes: the speaker's name, when known, then the content."""
        return episode_text(self.name, self.content)


def episode_text(name: str | None, content: str) -> str:
    """An episode as recall indexes it."""
    return f"{name}: {content}" if name else content


@dataclass(frozen=True, slots=True)
class Thought:
    """A background thought: parked for later, dismissed, or internal."""

    id: str
    agent: str
    kind: ThoughtKind
    text: str
    created: datetime
    updated: datetime
    status: ThoughtStatus = ThoughtStatus.OPEN
    sources: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)
    resolved_in: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryState:
    """Everything about a memory that a version can change: the snapshot kept in its history."""

    kind: MemoryKind
    text: str
    status: MemoryStatus = MemoryStatus.ACTIVE
    score: int | None = None
    deep: bool = False
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    sources: tuple[str, ...] = ()
    associations: tuple[Association, ...] = ()
    tags: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "text": self.text,
            "status": self.status.value,
            "score": self.score,
            "deep": self.deep,
            "valid_from": format_time(self.valid_from) if self.valid_from else None,
            "valid_to": format_time(self.valid_to) if self.valid_to else None,
            "sources": list(self.sources),
            "associations": [{"id": a.id, "relation": a.relation} for a in self.associations],
            "tags": list(self.tags),
            "meta": dict(self.meta),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MemoryState:
        return cls(
            kind=MemoryKind(data["kind"]),
            text=data["text"],
            status=MemoryStatus(data.get("status", "active")),
            score=data.get("score"),
            deep=bool(data.get("deep", False)),
            valid_from=parse_time_or_none(data.get("valid_from")),
            valid_to=parse_time_or_none(data.get("valid_to")),
            sources=tuple(data.get("sources", ())),
            associations=tuple(
                Association(a["id"], a.get("relation", "related"))
                for a in data.get("associations", ())
            ),
            tags=tuple(data.get("tags", ())),
            meta=dict(data.get("meta", {})),
        )

    def but(self, **changes: Any) -> MemoryState:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


_STATE_FIELDS = tuple(f.name for f in dataclasses.fields(MemoryState))


@dataclass(frozen=True, slots=True, kw_only=True)
class Memory(MemoryState):
    """A memory as stored now: its current state plus identity and bookkeeping."""

    id: str
    agent: str
    version: int
    created: datetime
    updated: datetime

    @property
    def state(self) -> MemoryState:
        return MemoryState(**{name: getattr(self, name) for name in _STATE_FIELDS})

    def to_json(self) -> dict[str, Any]:
        """Identity, bookkeeping and state, as plain JSON values."""
        return {
            "id": self.id,
            "agent": self.agent,
            "version": self.version,
            "created": format_time(self.created),
            "updated": format_time(self.updated),
            **self.state.to_json(),
        }


@dataclass(frozen=True, slots=True)
class MemoryChange:
    """One change to write: the new state of a memory, with who made it and why.

    ``base_version`` is the version the change was computed from (``None`` for a new memory);
    the store refuses the change if the memory has moved on since.
    """

    memory_id: str
    op: Op
    after: MemoryState
    author: Author
    base_version: int | None = None
    reason: str | None = None
    verdict: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class MemoryVersion:
    """One entry of a memory's append-only history."""

    memory_id: str
    agent: str
    version: int
    op: Op
    before: MemoryState | None
    after: MemoryState
    author: Author
    created: datetime
    reason: str | None = None
    verdict: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class PersonaVersion:
    """One version of the persona document (the core memory block)."""

    agent: str
    version: int
    text: str
    author: Author
    created: datetime
    pinned: tuple[str, ...] = ()
    reason: str | None = None


class SleepStatus(StrEnum):
    """Where a sleep is: ``stopping`` is a wake request not yet acted on."""

    RUNNING = "running"
    STOPPING = "stopping"
    INTERRUPTED = "interrupted"
    DONE = "done"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"


class Outcome(StrEnum):
    DONE = "done"
    NOTHING_TO_DO = "nothing-to-do"
    INTERRUPTED = "interrupted"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Sleep:
    """One sleep of one agent."""

    id: str
    agent: str
    status: SleepStatus
    started: datetime
    trigger: str = "manual"
    dry_run: bool = False
    outcome: Outcome | None = None
    ended: datetime | None = None
    stats: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One line of the dream journal: what a stage considered, proposed, kept or rejected."""

    sleep_id: str
    stage: str
    kind: str
    text: str
    created: datetime
    refs: Mapping[str, Any] = field(default_factory=dict)
    seq: int = 0


@dataclass(frozen=True, slots=True)
class ModelCall:
    """One model call as recorded: who asked (role), which model, what was asked (its hash),
    what came back and what it cost. ``sleep_id``, ``stage`` and ``key`` place it in a sleep: a
    keyed call's reply is what a resumed sleep replays instead of asking again."""

    role: str
    model: str
    prompt_hash: str
    response: str
    tokens_in: int = 0
    tokens_out: int = 0
    ms: float = 0.0
    sleep_id: str | None = None
    stage: str | None = None
    key: str | None = None
    error: str | None = None


class ReviewStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """An operation a sleep proposed instead of applying (``[review]`` in config.toml)."""

    id: str
    agent: str
    sleep_id: str | None
    op: str
    summary: str
    payload: Mapping[str, Any]
    status: ReviewStatus
    created: datetime
    decided_at: datetime | None = None
    decided_by: str | None = None
    note: str | None = None
    result: Mapping[str, Any] | None = None


class AdapterStatus(StrEnum):
    """Where an adapter is: being trained, kept by the probe gate, rejected by it, or failed."""

    TRAINING = "training"
    KEPT = "kept"
    REJECTED = "rejected"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Adapter:
    """A LoRA adapter trained for an agent on a base model, with the gate's report.

    ``path`` is its directory relative to the home: the PEFT adapter and ``adapter.gguf``."""

    id: str
    agent: str
    version: int
    base: str
    status: AdapterStatus
    path: str
    created: datetime
    sleep_id: str | None = None
    finished: datetime | None = None
    report: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Activation:
    """One change of an agent's active adapter (``adapter_id`` None: the base model alone).

    ``replaces`` is the activation it replaced, so rollback walks back one step at a time."""

    seq: int
    agent: str
    adapter_id: str | None
    at: datetime
    by: str
    reason: str | None = None
    replaces: int | None = None
