"""Reading and editing memories by hand, memory files, and the persona."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from .. import changes
from ..changes import UNSET, Unset
from ..errors import InputError
from ..memfiles import FileFormat, ImportReport, export_memories, import_memories, read_memory_files
from ..records import (
    Author,
    Memory,
    MemoryChange,
    MemoryKind,
    MemoryStatus,
    MemoryVersion,
    PersonaVersion,
)
from ..store import MemoryFilter
from ..times import parse_time_or_none
from .base import MindBase, TimeLike

__all__ = ["Memories"]


class Memories(MindBase):
    def _apply(self, change: MemoryChange) -> Memory:
        with self.store.write() as tx:
            tx.ensure_agent(self.agent)
            return tx.memories.apply(self.agent, [change])[0]

    def _resolve_episodes(self, ids: Sequence[str]) -> tuple[str, ...]:
        return tuple(self.store.episodes.resolve(self.agent, i) for i in ids)

    def memory(self, memory_id: str) -> Memory:
        """One memory, by id or unique id prefix."""
        return self.store.memories.get(
            self.agent, self.store.memories.resolve(self.agent, memory_id)
        )

    def memories(
        self,
        *,
        kinds: Sequence[MemoryKind] = (),
        statuses: Sequence[MemoryStatus] = (MemoryStatus.ACTIVE,),
        since: TimeLike = None,
        until: TimeLike = None,
        limit: int | None = None,
    ) -> list[Memory]:
        where = MemoryFilter(
            tuple(kinds), tuple(statuses), parse_time_or_none(since), parse_time_or_none(until)
        )
        return self.store.memories.find(self.agent, where, limit=limit)

    def history(self, memory_id: str) -> list[MemoryVersion]:
        """Every version of a memory, oldest first, with author, reason and verdict."""
        return self.store.memories.versions(self.agent, self.memory(memory_id).id)

    def linked_from(self, memory_id: str) -> list[tuple[str, str]]:
        return self.store.memories.linked_from(self.agent, self.memory(memory_id).id)

    def add(
        self,
        text: str,
        *,
        kind: MemoryKind | str = MemoryKind.FACT,
        tags: Iterable[str] = (),
        sources: Sequence[str] = (),
        valid_from: TimeLike = None,
        valid_to: TimeLike = None,
        reason: str | None = None,
        author: Author | None = None,
    ) -> Memory:
        """Add a memory (not yet dreamt upon: ``deep`` is false until a sleep passes it)."""
        change = changes.add(
            text,
            author=author or self.author,
            kind=MemoryKind(kind),
            tags=tags,
            sources=self._resolve_episodes(sources),
            valid_from=parse_time_or_none(valid_from),
            valid_to=parse_time_or_none(valid_to),
            reason=reason,
        )
        return self._apply(change)

    def edit(
        self,
        memory_id: str,
        *,
        text: str | None = None,
        kind: MemoryKind | str | None = None,
        tags: Iterable[str] | None = None,
        valid_from: TimeLike | Unset = UNSET,
        valid_to: TimeLike | Unset = UNSET,
        reason: str | None = None,
        author: Author | None = None,
    ) -> Memory:
        """Rewrite a memory's text, kind, tags or validity (``None`` clears a time)."""
        change = changes.edit(
            self.memory(memory_id),
            author=author or self.author,
            text=text,
            kind=MemoryKind(kind) if kind is not None else None,
            tags=tags,
            valid_from=valid_from
            if isinstance(valid_from, Unset)
            else parse_time_or_none(valid_from),
            valid_to=valid_to if isinstance(valid_to, Unset) else parse_time_or_none(valid_to),
            reason=reason,
        )
        return self._apply(change)

    def amend(
        self,
        memory_id: str,
        addition: str,
        *,
        sources: Sequence[str] = (),
        reason: str | None = None,
        author: Author | None = None,
    ) -> Memory:
        """Add to a memory's text (and evidence) without rewriting it."""
        change = changes.amend(
            self.memory(memory_id),
            addition,
            author=author or self.author,
            sources=self._resolve_episodes(sources),
            reason=reason,
        )
        return self._apply(change)

    def retract(
        self, memory_id: str, *, reason: str | None = None, author: Author | None = None
    ) -> Memory:
        """Withdraw a memory: a tombstone; its text and history stay."""
        change = changes.retract(
            self.memory(memory_id), author=author or self.author, reason=reason
        )
        return self._apply(change)

    def restore(
        self,
        memory_id: str,
        *,
        version: int | None = None,
        reason: str | None = None,
        author: Author | None = None,
    ) -> Memory:
        """Bring back an earlier state (default: the one before the last change)."""
        memory = self.memory(memory_id)
        history = self.store.memories.versions(self.agent, memory.id)
        change = changes.restore(
            memory, history, author=author or self.author, version=version, reason=reason
        )
        return self._apply(change)

    def link(
        self,
        memory_id: str,
        other_id: str,
        *,
        relation: str = "related",
        reason: str | None = None,
        author: Author | None = None,
    ) -> Memory:
        """Associate two memories; the link is kept on the first."""
        change = changes.link(
            self.memory(memory_id),
            self.memory(other_id),
            author=author or self.author,
            relation=relation,
            reason=reason,
        )
        return self._apply(change)

    def unlink(
        self,
        memory_id: str,
        other_id: str,
        *,
        reason: str | None = None,
        author: Author | None = None,
    ) -> Memory:
        memory = self.memory(memory_id)
        other = self.memory(other_id).id
        return self._apply(
            changes.unlink(memory, other, author=author or self.author, reason=reason)
        )

    # memory files --------------------------------------------------------------------------

    def export(
        self,
        directory: Path | str,
        *,
        format: FileFormat | str = FileFormat.YAML,
        statuses: Sequence[MemoryStatus] = tuple(MemoryStatus),
    ) -> list[Path]:
        """Write one file per memory (all statuses by default) into ``directory``."""
        memories = self.store.memories.find(self.agent, MemoryFilter(statuses=tuple(statuses)))
        return export_memories(memories, Path(directory), FileFormat(format))

    def import_files(
        self, directory: Path | str, *, force: bool = False, dry_run: bool = False
    ) -> ImportReport:
        """Apply memory files (hand-edited or exported elsewhere); all or nothing."""
        limits = self.config.limits
        files = read_memory_files(
            Path(directory), max_bytes=limits.file_bytes, max_depth=limits.meta_depth
        )
        return import_memories(
            self.store, self.agent, files, author=self.author, force=force, dry_run=dry_run
        )

    # persona -------------------------------------------------------------------------------

    def persona(self) -> PersonaVersion | None:
        """The current persona document, or None before one is set."""
        return self.store.persona.current(self.agent)

    def persona_history(self) -> list[PersonaVersion]:
        return self.store.persona.versions(self.agent)

    def set_persona(
        self,
        text: str,
        *,
        pinned: Sequence[str] | None = None,
        reason: str | None = None,
        author: Author | None = None,
    ) -> PersonaVersion:
        """Write a new persona version. ``pinned`` lines must stay in every later version
        (default: the lines pinned now)."""
        body = changes.clean_text(text, "persona")
        current = self.persona()
        keep = tuple(pinned) if pinned is not None else (current.pinned if current else ())
        missing = [line for line in keep if line.strip() not in body.splitlines()]
        if missing:
            raise InputError(
                f"pinned line {missing[0]!r} is not in the new persona; keep it or unpin it"
            )
        if current is not None and current.text == body and current.pinned == keep:
            raise InputError("the persona already says that; nothing to change")
        with self.store.write() as tx:
            tx.ensure_agent(self.agent)
            return tx.persona.add(
                self.agent,
                body,
                pinned=[p.strip() for p in keep],
                author=author or self.author,
                reason=reason,
            )
