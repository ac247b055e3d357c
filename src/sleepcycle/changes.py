"""Memory operations as pure functions: the current memory in, a ``MemoryChange`` out.

Nothing here touches the store; ``Mind`` applies the changes (one transaction) and a sleep's
commit stage will apply its own the same way. Nothing is ever deleted: ``retract`` leaves a
tombstone, ``restore`` brings back an earlier state as a new version.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from .errors import InputError
from .ids import random_id
from .limits import check_text
from .records import (
    Association,
    Author,
    Memory,
    MemoryChange,
    MemoryKind,
    MemoryState,
    MemoryStatus,
    MemoryVersion,
    Op,
)
from .times import now

__all__ = [
    "MAX_TEXT",
    "UNSET",
    "Unset",
    "add",
    "amend",
    "clean_tags",
    "clean_text",
    "edit",
    "link",
    "restore",
    "retract",
    "unlink",
]

MAX_TEXT = 20_000


def clean_text(text: str, what: str = "memory text") -> str:
    cleaned = text.strip()
    if not cleaned:
        raise InputError(f"empty {what}; give some text")
    check_text(cleaned, what)  # valid Unicode
    if len(cleaned) > MAX_TEXT:
        raise InputError(
            f"{what} is {len(cleaned)} characters, over the {MAX_TEXT} limit; split it into "
            "several memories"
        )
    return cleaned


def clean_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """Tags trimmed, without blanks or repeats, in the order given."""
    seen: dict[str, None] = {}
    for tag in tags:
        cleaned = tag.strip()
        if cleaned:
            seen.setdefault(cleaned, None)
    return tuple(seen)


def _check_window(valid_from: datetime | None, valid_to: datetime | None) -> None:
    if valid_from is not None and valid_to is not None and valid_to < valid_from:
        raise InputError("valid_to is before valid_from; swap them or leave one out")


def add(
    text: str,
    *,
    author: Author,
    kind: MemoryKind = MemoryKind.FACT,
    tags: Iterable[str] = (),
    sources: Sequence[str] = (),
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
    score: int | None = None,
    deep: bool = False,
    meta: Mapping[str, Any] | None = None,
    reason: str | None = None,
    memory_id: str | None = None,
) -> MemoryChange:
    """A new memory."""
    _check_window(valid_from, valid_to)
    state = MemoryState(
        kind=kind,
        text=clean_text(text),
        score=score,
        deep=deep,
        valid_from=valid_from,
        valid_to=valid_to,
        sources=tuple(dict.fromkeys(sources)),
        tags=clean_tags(tags),
        meta=dict(meta or {}),
    )
    return MemoryChange(memory_id or random_id("mem"), Op.ADD, state, author, None, reason)


def _change(
    memory: Memory, op: Op, after: MemoryState, author: Author, reason: str | None
) -> MemoryChange:
    if after == memory.state:
        raise InputError(f"memory {memory.id} already says that; nothing to change")
    return MemoryChange(memory.id, op, after, author, memory.version, reason)


def _require_active(memory: Memory, action: str) -> None:
    if memory.status is not MemoryStatus.ACTIVE:
        raise InputError(
            f"memory {memory.id} is {memory.status.value}; restore it before you {action} it"
        )


class Unset(enum.Enum):
    """Marks an argument that was not given (``None`` means "clear it")."""

    UNSET = 0


UNSET = Unset.UNSET


def edit(
    memory: Memory,
    *,
    author: Author,
    text: str | None = None,
    kind: MemoryKind | None = None,
    tags: Iterable[str] | None = None,
    valid_from: datetime | Unset | None = UNSET,
    valid_to: datetime | Unset | None = UNSET,
    reason: str | None = None,
) -> MemoryChange:
    """Rewrite a memory: any of its text, kind, tags and validity window."""
    _require_active(memory, "edit")
    changes: dict[str, Any] = {}
    if text is not None:
        changes["text"] = clean_text(text)
    if kind is not None:
        changes["kind"] = kind
    if tags is not None:
        changes["tags"] = clean_tags(tags)
    if not isinstance(valid_from, Unset):
        changes["valid_from"] = valid_from
    if not isinstance(valid_to, Unset):
        changes["valid_to"] = valid_to
    if not changes:
        raise InputError("nothing to edit; give new text, a kind, tags or a validity time")
    after = memory.state.but(**changes)
    _check_window(after.valid_from, after.valid_to)
    return _change(memory, Op.EDIT, after, author, reason)


def amend(
    memory: Memory,
    addition: str,
    *,
    author: Author,
    sources: Sequence[str] = (),
    reason: str | None = None,
) -> MemoryChange:
    """Add to a memory without rewriting it: the text is appended, new sources are cited."""
    _require_active(memory, "amend")
    extra = clean_text(addition, "amendment")
    separator = "\n" if "\n" in memory.text or "\n" in extra else " "
    after = memory.state.but(
        text=clean_text(memory.text + separator + extra),
        sources=tuple(dict.fromkeys((*memory.sources, *sources))),
    )
    return _change(memory, Op.AMEND, after, author, reason)


def retract(
    memory: Memory, *, author: Author, reason: str | None = None, at: datetime | None = None
) -> MemoryChange:
    """Withdraw a memory: a tombstone that keeps its text and history; it leaves recall."""
    if memory.status is MemoryStatus.RETRACTED:
        raise InputError(f"memory {memory.id} is already retracted")
    after = memory.state.but(status=MemoryStatus.RETRACTED, valid_to=memory.valid_to or at or now())
    return _change(memory, Op.RETRACT, after, author, reason)


def restore(
    memory: Memory,
    history: Sequence[MemoryVersion],
    *,
    author: Author,
    version: int | None = None,
    reason: str | None = None,
) -> MemoryChange:
    """Bring back the state a memory had at ``version`` (default: before its last change)."""
    if version is None:
        last = history[-1]
        if last.before is None:
            raise InputError(
                f"memory {memory.id} has no earlier version; retract it to withdraw it"
            )
        state = last.before
    else:
        match = [v for v in history if v.version == version]
        if not match:
            raise InputError(
                f"memory {memory.id} has no version {version}; it has 1 to {memory.version}"
            )
        state = match[0].after
    return _change(memory, Op.RESTORE, state, author, reason)


def link(
    memory: Memory,
    other: Memory,
    *,
    author: Author,
    relation: str = "related",
    reason: str | None = None,
) -> MemoryChange:
    """Associate ``memory`` with ``other`` under ``relation`` (one link per pair)."""
    relation = relation.strip()
    if not relation:
        raise InputError("empty relation; use a word such as related, supports or contradicts")
    if other.id == memory.id:
        raise InputError("a memory cannot be linked to itself")
    kept = tuple(a for a in memory.associations if a.id != other.id)
    after = memory.state.but(associations=(*kept, Association(other.id, relation)))
    return _change(memory, Op.LINK, after, author, reason)


def unlink(
    memory: Memory, other_id: str, *, author: Author, reason: str | None = None
) -> MemoryChange:
    """Remove the link from ``memory`` to ``other_id`` (the history keeps it)."""
    kept = tuple(a for a in memory.associations if a.id != other_id)
    if len(kept) == len(memory.associations):
        raise InputError(f"memory {memory.id} has no link to {other_id}")
    return _change(memory, Op.UNLINK, memory.state.but(associations=kept), author, reason)
