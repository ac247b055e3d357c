"""The dream journal: what each sleep thought, kept and rejected, in order."""

from __future__ import annotations

from collections.abc import Sequence

from ..records import JournalEntry
from .codec import dump, load, time_in, time_out
from .sql import Connection

__all__ = ["JournalRepo"]


class JournalRepo:
    def __init__(self, conn: Connection):
        self.conn = conn

    def add(self, agent: str, entries: Sequence[JournalEntry]) -> None:
        self.conn.executemany(
            "INSERT INTO journal (sleep_id, agent, stage, kind, text, refs, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (e.sleep_id, agent, e.stage, e.kind, e.text, dump(dict(e.refs)), time_in(e.created))
                for e in entries
            ],
        )

    def entries(self, sleep_id: str) -> list[JournalEntry]:
        rows = self.conn.execute(
            "SELECT seq, sleep_id, stage, kind, text, refs, created FROM journal "
            "WHERE sleep_id = ? ORDER BY seq",
            (sleep_id,),
        )
        return [
            JournalEntry(
                sleep_id=row["sleep_id"],
                stage=row["stage"],
                kind=row["kind"],
                text=row["text"],
                created=time_out(row["created"]),  # type: ignore[arg-type]
                refs=load(row["refs"]),
                seq=row["seq"],
            )
            for row in rows
        ]

    def rejections(self, agent: str, *, limit: int) -> list[str]:
        """What recent sleeps rejected, newest first, so the dreamer does not propose it again."""
        rows = self.conn.execute(
            "SELECT text FROM journal WHERE agent = ? AND kind = 'rejected' "
            "ORDER BY seq DESC LIMIT ?",
            (agent, limit),
        )
        return [row[0] for row in rows]
