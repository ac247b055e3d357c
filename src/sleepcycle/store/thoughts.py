"""Thoughts: parked, dismissed and internal notes, with a status the sleep moves along."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import AmbiguousIdError, NotFoundError
from ..records import Thought, ThoughtKind, ThoughtStatus
from ..times import now
from .codec import dump, load, placeholders, time_in, time_out
from .sql import Connection, Row

__all__ = ["ThoughtRepo"]

_COLUMNS = "id, agent, kind, text, status, sources, meta, created, updated, resolved_in, note"


def _thought(row: Row) -> Thought:
    return Thought(
        id=row["id"],
        agent=row["agent"],
        kind=ThoughtKind(row["kind"]),
        text=row["text"],
        created=time_out(row["created"]),  # type: ignore[arg-type]
        updated=time_out(row["updated"]),  # type: ignore[arg-type]
        status=ThoughtStatus(row["status"]),
        sources=tuple(load(row["sources"])),
        meta=load(row["meta"]),
        resolved_in=row["resolved_in"],
        note=row["note"],
    )


class ThoughtRepo:
    def __init__(self, conn: Connection):
        self.conn = conn

    def add(self, thoughts: Sequence[Thought]) -> list[Thought]:
        """Insert thoughts not stored yet; returns the ones that were new."""
        added: list[Thought] = []
        for t in thoughts:
            cursor = self.conn.execute(
                f"INSERT INTO thoughts ({_COLUMNS}) VALUES ({placeholders(range(11))}) "
                "ON CONFLICT DO NOTHING",
                (
                    t.id,
                    t.agent,
                    t.kind.value,
                    t.text,
                    t.status.value,
                    dump(list(t.sources)),
                    dump(dict(t.meta)),
                    time_in(t.created),
                    time_in(t.updated),
                    t.resolved_in,
                    t.note,
                ),
            )
            if cursor.rowcount:
                added.append(t)
        return added

    def set_status(
        self,
        agent: str,
        thought_id: str,
        status: ThoughtStatus,
        *,
        sleep_id: str | None = None,
        note: str | None = None,
    ) -> None:
        cursor = self.conn.execute(
            "UPDATE thoughts SET status = ?, resolved_in = ?, note = ?, updated = ? "
            "WHERE agent = ? AND id = ?",
            (status.value, sleep_id, note, time_in(now()), agent, thought_id),
        )
        if not cursor.rowcount:
            raise NotFoundError(f"no thought {thought_id} for agent {agent!r}")

    def changed_by(self, agent: str, sleep_id: str) -> list[Thought]:
        rows = self.conn.execute(
            f"SELECT {_COLUMNS} FROM thoughts WHERE agent = ? AND resolved_in = ? ORDER BY seq",
            (agent, sleep_id),
        )
        return [_thought(row) for row in rows]

    def created_by(self, agent: str, sleep_id: str) -> list[Thought]:
        """Thoughts a sleep created (questions it parked)."""
        rows = self.conn.execute(
            f"SELECT {_COLUMNS} FROM thoughts WHERE agent = ? "
            "AND json_extract(meta, '$.created_by_sleep') = ? ORDER BY seq",
            (agent, sleep_id),
        )
        return [_thought(row) for row in rows]

    def get(self, agent: str, thought_id: str) -> Thought:
        row = self.conn.execute(
            f"SELECT {_COLUMNS} FROM thoughts WHERE agent = ? AND id = ?", (agent, thought_id)
        ).fetchone()
        if row is None:
            raise NotFoundError(
                f"no thought {thought_id} for agent {agent!r}; "
                "list them with `sleepcycle thought list`"
            )
        return _thought(row)

    def resolve(self, agent: str, prefix: str) -> str:
        rows = self.conn.execute(
            "SELECT id FROM thoughts WHERE agent = ? AND id >= ? AND id < ? LIMIT 2",
            (agent, prefix, prefix + "\uffff"),
        ).fetchall()
        if not rows:
            raise NotFoundError(
                f"no thought matches {prefix!r} for agent {agent!r}; "
                "list them with `sleepcycle thought list`"
            )
        if len(rows) > 1:
            raise AmbiguousIdError(f"{prefix!r} matches several thoughts; give more characters")
        return str(rows[0]["id"])

    def find(
        self,
        agent: str,
        *,
        statuses: Sequence[ThoughtStatus] = (),
        kinds: Sequence[ThoughtKind] = (),
        limit: int | None = None,
    ) -> list[Thought]:
        where = ["agent = ?"]
        args: list[object] = [agent]
        if statuses:
            where.append(f"status IN ({placeholders(statuses)})")
            args.extend(s.value for s in statuses)
        if kinds:
            where.append(f"kind IN ({placeholders(kinds)})")
            args.extend(k.value for k in kinds)
        sql = f"SELECT {_COLUMNS} FROM thoughts WHERE {' AND '.join(where)} ORDER BY created, seq"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [_thought(row) for row in self.conn.execute(sql, args)]

    def count(self, agent: str, *, status: ThoughtStatus | None = None) -> int:
        sql = "SELECT COUNT(*) FROM thoughts WHERE agent = ?"
        args: list[object] = [agent]
        if status is not None:
            sql += " AND status = ?"
            args.append(status.value)
        return int(self.conn.execute(sql, args).fetchone()[0])
