"""What the memory pages show, shaped from the Mind API: the browser's list (recalled or
filtered), a memory's versions as diffs, its source episodes, and the persona's history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from ..errors import InputError, NotFoundError
from ..mind import Mind
from ..records import (
    Episode,
    Memory,
    MemoryKind,
    MemoryState,
    MemoryStatus,
    MemoryVersion,
    PersonaVersion,
)
from .render import when
from .textdiff import Segment, lines, words

__all__ = [
    "Listing",
    "PersonaView",
    "VersionView",
    "browse",
    "choice",
    "history",
    "persona_history",
    "sources",
]

SHOWN = 500  # memories listed at most; search or filter to see others
RECALLED = 50
FIELDS = ("kind", "status", "score", "deep", "valid_from", "valid_to", "tags", "sources")

E = TypeVar("E", bound=StrEnum)


def choice(enum: type[E], value: str, what: str) -> E | None:
    """A filter's value from a form: empty for any, else one of the enum's values."""
    if not value:
        return None
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise InputError(f"unknown {what} {value!r}; use one of {allowed}") from None


@dataclass(frozen=True)
class Listing:
    """Memories to list, best first when recalled (with scores), newest first otherwise."""

    rows: Sequence[tuple[Memory, float | None]]
    total: int
    query: str

    @property
    def cut(self) -> bool:
        return self.total > len(self.rows)


def browse(
    mind: Mind, query: str, kind: MemoryKind | None, statuses: Sequence[MemoryStatus]
) -> Listing:
    kinds = (kind,) if kind else ()
    if query.strip():
        hits = mind.recall(query, k=RECALLED, kinds=kinds, statuses=statuses).hits
        rows = [(h.memory or mind.memory(h.id), h.score) for h in hits]
        return Listing(rows, len(rows), query)
    found = mind.memories(kinds=kinds, statuses=statuses)
    newest = sorted(found, key=lambda m: m.updated, reverse=True)[:SHOWN]
    return Listing([(m, None) for m in newest], len(found), "")


def sources(mind: Mind, ids: Sequence[str]) -> list[tuple[str, Episode | None]]:
    """Each source id with its episode (``None`` if it is not in the store)."""
    out: list[tuple[str, Episode | None]] = []
    for episode_id in ids:
        try:
            out.append((episode_id, mind.episode(episode_id)))
        except NotFoundError:
            out.append((episode_id, None))
    return out


def _shown(state: MemoryState | None, name: str) -> str:
    if state is None:
        return ""
    value = getattr(state, name)
    if isinstance(value, datetime):
        return when(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


@dataclass(frozen=True)
class VersionView:
    """One version: who made it, why, the verdict, its text as a diff against the version
    before, and the other fields it changed as (field, before, after)."""

    version: MemoryVersion
    text: list[Segment]
    fields: list[tuple[str, str, str]]
    links: list[tuple[str, str]]


def _version(v: MemoryVersion) -> VersionView:
    before = v.before.text if v.before else ""
    fields = [
        (name, _shown(v.before, name), _shown(v.after, name))
        for name in FIELDS
        if _shown(v.before, name) != _shown(v.after, name)
    ]
    old = set(v.before.associations) if v.before else set()
    links = [(a.id, a.relation) for a in v.after.associations if a not in old]
    return VersionView(v, words(before, v.after.text), fields, links)


def history(mind: Mind, memory_id: str) -> list[VersionView]:
    """A memory's versions, newest first."""
    return [_version(v) for v in reversed(mind.history(memory_id))]


@dataclass(frozen=True)
class PersonaView:
    version: PersonaVersion
    text: list[Segment]


def persona_history(mind: Mind) -> list[PersonaView]:
    """The persona's versions, newest first, each as a line diff against the one before."""
    out: list[PersonaView] = []
    previous = ""
    for version in mind.persona_history():
        out.append(PersonaView(version, lines(previous, version.text)))
        previous = version.text
    return out[::-1]
