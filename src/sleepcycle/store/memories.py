"""Memories and their append-only versions.

Every change goes through :meth:`MemoryRepo.apply`, which checks the version it was computed
from, checks that cited episodes and linked memories exist, writes the new state and appends a
version row with the state before and after, all inside the caller's transaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from ..errors import AmbiguousIdError, ConflictError, InputError, NotFoundError
from ..records import (
    Author,
    Memory,
    MemoryChange,
    MemoryState,
    MemoryVersion,
    Op,
)
from ..times import now
from .codec import (
    author_columns,
    author_from_row,
    dump,
    load,
    placeholders,
    state_columns,
    state_from_row,
    time_in,
    time_out,
)
from .filters import MemoryFilter
from .sql import Connection, Row

__all__ = ["MemoryRepo"]

_STATE_NAMES = tuple(f.name for f in dataclasses.fields(MemoryState))
_ROW = (
    "seq, id, agent, kind, text, status, score, deep, version, created, updated, "
    "valid_from, valid_to, sources, associations, tags, meta"
)


def _memory(row: Row) -> Memory:
    return Memory(
        id=row["id"],
        agent=row["agent"],
        version=row["version"],
        created=time_out(row["created"]),  # type: ignore[arg-type]
        updated=time_out(row["updated"]),  # type: ignore[arg-type]
        **state_from_row(row),
    )


def _version(row: Row) -> MemoryVersion:
    before = load(row["before"])
    return MemoryVersion(
        memory_id=row["memory_id"],
        agent=row["agent"],
        version=row["version"],
        op=Op(row["op"]),
        before=MemoryState.from_json(before) if before is not None else None,
        after=MemoryState.from_json(load(row["after"])),
        author=author_from_row(row),
        created=time_out(row["created"]),  # type: ignore[arg-type]
        reason=row["reason"],
        verdict=load(row["verdict"]),
    )


class MemoryRepo:
    def __init__(self, conn: Connection):
        self.conn = conn

    # writes -----------------------------------------------------------------------------

    def apply(
        self,
        agent: str,
        changes: Sequence[MemoryChange],
        *,
        check_sources: bool = True,
        check: bool = True,
        at: datetime | None = None,
    ) -> list[Memory]:
        """Write each change and its version row; returns the memories as they now stand.

        With ``check=False`` the caller checks references itself, once every change of the
        batch is written (memories that link to each other), with ``check_references``."""
        stamp = at or now()
        written: list[Memory] = []
        for change in changes:
            row = self._row(change.memory_id)
            if row is not None and row["agent"] != agent:
                raise ConflictError(f"memory id {change.memory_id} belongs to another agent")
            before: MemoryState | None = None
            if change.base_version is None:
                if row is not None:
                    raise ConflictError(f"memory {change.memory_id} already exists")
                version, created = 1, stamp
            else:
                if row is None:
                    raise NotFoundError(f"no memory {change.memory_id} for agent {agent!r}")
                if row["version"] != change.base_version:
                    raise ConflictError(
                        f"memory {change.memory_id} changed since it was read (version "
                        f"{change.base_version}, now {row['version']}); read it again and retry"
                    )
                before = MemoryState(**state_from_row(row))
                version = change.base_version + 1
                created = time_out(row["created"])  # type: ignore[assignment]
            if check:
                self.check_references(agent, change.memory_id, change.after, check_sources)
            memory = Memory(
                id=change.memory_id,
                agent=agent,
                version=version,
                created=created,
                updated=stamp,
                **{f: getattr(change.after, f) for f in _STATE_NAMES},
            )
            self._write_row(memory, insert=row is None)
            self._append_version(memory, change.op, before, change, stamp)
            written.append(memory)
        return written

    def insert_exact(
        self, memory: Memory, *, op: Op, author: Author, reason: str | None, check: bool = True
    ) -> Memory:
        """Store a memory with the id, version and times it already has (used by import)."""
        existing = self._row(memory.id)
        if existing is not None:
            raise ConflictError(
                f"memory {memory.id} already exists for agent {existing['agent']!r}; "
                "remove the id from the file to add it as a new memory"
            )
        if check:
            self.check_references(memory.agent, memory.id, memory.state, check_sources=True)
        self._write_row(memory, insert=True)
        change = MemoryChange(memory.id, op, memory.state, author, reason=reason)
        self._append_version(memory, op, None, change, now())
        return memory

    def mark_deep(self, agent: str, ids: Sequence[str], deep: bool = True) -> int:
        """Bookkeeping, not a change of content: these memories have (or, with ``deep``
        false, have not) been dreamt upon. The sleep that marks them keeps their ids."""
        if not ids:
            return 0
        cursor = self.conn.execute(
            "UPDATE memories SET deep = ?, rev = ? "
            f"WHERE agent = ? AND deep = ? AND id IN ({placeholders(ids)})",
            (int(deep), self._next_rev(), agent, int(not deep), *ids),
        )
        return cursor.rowcount

    def _next_rev(self) -> int:
        row = self.conn.execute(
            "UPDATE counters SET value = value + 1 WHERE name = 'memory_rev' RETURNING value"
        ).fetchone()
        return int(row[0])

    def _write_row(self, memory: Memory, *, insert: bool) -> None:
        columns = state_columns(memory.state)
        columns.update(
            id=memory.id,
            agent=memory.agent,
            version=memory.version,
            created=time_in(memory.created),
            updated=time_in(memory.updated),
            rev=self._next_rev(),
        )
        if insert:
            names = ", ".join(columns)
            self.conn.execute(
                f"INSERT INTO memories ({names}) VALUES ({placeholders(columns)})",
                tuple(columns.values()),
            )
        else:
            memory_id = columns.pop("id")
            assignments = ", ".join(f"{name} = ?" for name in columns)
            self.conn.execute(
                f"UPDATE memories SET {assignments} WHERE id = ?",
                (*columns.values(), memory_id),
            )

    def _append_version(
        self,
        memory: Memory,
        op: Op,
        before: MemoryState | None,
        change: MemoryChange,
        stamp: datetime,
    ) -> None:
        author_kind, author, sleep_id, stage, model = author_columns(change.author)
        self.conn.execute(
            "INSERT INTO memory_versions (memory_id, agent, version, op, before, after, "
            "author_kind, author, sleep_id, stage, model, reason, verdict, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                memory.id,
                memory.agent,
                memory.version,
                op.value,
                dump(before.to_json()) if before is not None else None,
                dump(memory.state.to_json()),
                author_kind,
                author,
                sleep_id,
                stage,
                model,
                change.reason,
                dump(dict(change.verdict)) if change.verdict is not None else None,
                time_in(stamp),
            ),
        )

    def check_references(
        self, agent: str, memory_id: str, state: MemoryState, check_sources: bool = True
    ) -> None:
        """Raise unless every linked memory and (with ``check_sources``) cited episode exists."""
        targets = [a.id for a in state.associations]
        if memory_id in targets:
            raise InputError(f"memory {memory_id} cannot be linked to itself")
        if targets:
            found = {
                row[0]
                for row in self.conn.execute(
                    f"SELECT id FROM memories WHERE agent = ? AND id IN ({placeholders(targets)})",
                    (agent, *targets),
                )
            }
            missing = [t for t in targets if t not in found]
            if missing:
                raise NotFoundError(
                    f"memory {memory_id} links to {missing[0]}, which is not a memory of agent "
                    f"{agent!r}; check the id with `sleepcycle memory list`"
                )
        if check_sources and state.sources:
            sources = list(state.sources)
            found = set()
            for start in range(0, len(sources), 500):
                chunk = sources[start : start + 500]
                found.update(
                    row[0]
                    for row in self.conn.execute(
                        "SELECT id FROM episodes "
                        f"WHERE agent = ? AND id IN ({placeholders(chunk)})",
                        (agent, *chunk),
                    )
                )
            missing = [s for s in sources if s not in found]
            if missing:
                raise NotFoundError(
                    f"memory {memory_id} cites episode {missing[0]}, which is not an episode of "
                    f"agent {agent!r}; ingest it first or drop the source"
                )

    # reads ------------------------------------------------------------------------------

    def _row(self, memory_id: str) -> Row | None:
        row: Row | None = self.conn.execute(
            f"SELECT {_ROW} FROM memories WHERE id = ?", (memory_id,)
        ).fetchone()
        return row

    def get(self, agent: str, memory_id: str) -> Memory:
        row = self._row(memory_id)
        if row is None or row["agent"] != agent:
            raise NotFoundError(
                f"no memory {memory_id} for agent {agent!r}; "
                "list them with `sleepcycle memory list`"
            )
        return _memory(row)

    def get_many(self, agent: str, ids: Sequence[str]) -> list[Memory]:
        """The memories that exist among ``ids``, in the order given."""
        if not ids:
            return []
        rows = self.conn.execute(
            f"SELECT {_ROW} FROM memories WHERE agent = ? AND id IN ({placeholders(ids)})",
            (agent, *ids),
        )
        found = {row["id"]: _memory(row) for row in rows}
        return [found[i] for i in ids if i in found]

    def by_seq(self, seqs: Sequence[int]) -> dict[int, Memory]:
        if not seqs:
            return {}
        rows = self.conn.execute(
            f"SELECT {_ROW} FROM memories WHERE seq IN ({placeholders(seqs)})", tuple(seqs)
        )
        return {row["seq"]: _memory(row) for row in rows}

    def resolve(self, agent: str, prefix: str) -> str:
        """The full id of the one memory whose id starts with ``prefix``."""
        rows = self.conn.execute(
            "SELECT id FROM memories WHERE agent = ? AND id >= ? AND id < ? LIMIT 2",
            (agent, prefix, prefix + "\uffff"),
        ).fetchall()
        if not rows:
            raise NotFoundError(
                f"no memory matches {prefix!r} for agent {agent!r}; "
                "list them with `sleepcycle memory list`"
            )
        if len(rows) > 1:
            raise AmbiguousIdError(f"{prefix!r} matches several memories; give more characters")
        return str(rows[0]["id"])

    def find(
        self, agent: str, where: MemoryFilter | None = None, *, limit: int | None = None
    ) -> list[Memory]:
        fragment, args = (where or MemoryFilter()).sql()
        sql = f"SELECT {_ROW} FROM memories WHERE agent = ? AND {fragment} ORDER BY created, seq"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [_memory(row) for row in self.conn.execute(sql, (agent, *args))]

    def versions(self, agent: str, memory_id: str) -> list[MemoryVersion]:
        rows = self.conn.execute(
            "SELECT * FROM memory_versions WHERE agent = ? AND memory_id = ? ORDER BY version",
            (agent, memory_id),
        )
        return [_version(row) for row in rows]

    def versions_by_sleep(self, agent: str, sleep_id: str) -> list[MemoryVersion]:
        """Every version a sleep wrote, in the order it wrote them."""
        rows = self.conn.execute(
            "SELECT * FROM memory_versions WHERE agent = ? AND sleep_id = ? ORDER BY seq",
            (agent, sleep_id),
        )
        return [_version(row) for row in rows]

    def linked_from(self, agent: str, memory_id: str) -> list[tuple[str, str]]:
        """(memory id, relation) of the memories that link to ``memory_id``."""
        rows = self.conn.execute(
            "SELECT m.id, json_extract(a.value, '$.relation') FROM memories m, "
            "json_each(m.associations) a WHERE m.agent = ? "
            "AND json_extract(a.value, '$.id') = ? ORDER BY m.seq",
            (agent, memory_id),
        )
        return [(row[0], row[1]) for row in rows]

    def counts(self, agent: str) -> dict[str, int]:
        rows = self.conn.execute(
            "SELECT status, COUNT(*) FROM memories WHERE agent = ? GROUP BY status", (agent,)
        )
        return {row[0]: row[1] for row in rows}
