"""The persona document: one text per agent with an append-only version history."""

from __future__ import annotations

from collections.abc import Sequence

from ..records import Author, PersonaVersion
from ..times import now
from .codec import author_columns, author_from_row, dump, load, time_in, time_out
from .sql import Connection, Row

__all__ = ["PersonaRepo"]


def _persona(row: Row) -> PersonaVersion:
    return PersonaVersion(
        agent=row["agent"],
        version=row["version"],
        text=row["text"],
        author=author_from_row(row),
        created=time_out(row["created"]),  # type: ignore[arg-type]
        pinned=tuple(load(row["pinned"])),
        reason=row["reason"],
    )


class PersonaRepo:
    def __init__(self, conn: Connection):
        self.conn = conn

    def add(
        self,
        agent: str,
        text: str,
        *,
        pinned: Sequence[str],
        author: Author,
        reason: str | None = None,
    ) -> PersonaVersion:
        """Append a new version; returns it."""
        current = self.current(agent)
        version = 1 if current is None else current.version + 1
        author_kind, name, sleep_id, stage, model = author_columns(author)
        stamp = now()
        self.conn.execute(
            "INSERT INTO persona_versions (agent, version, text, pinned, author_kind, author, "
            "sleep_id, stage, model, reason, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                agent,
                version,
                text,
                dump(list(pinned)),
                author_kind,
                name,
                sleep_id,
                stage,
                model,
                reason,
                time_in(stamp),
            ),
        )
        return PersonaVersion(agent, version, text, author, stamp, tuple(pinned), reason)

    def current(self, agent: str) -> PersonaVersion | None:
        row = self.conn.execute(
            "SELECT * FROM persona_versions WHERE agent = ? ORDER BY version DESC LIMIT 1",
            (agent,),
        ).fetchone()
        return None if row is None else _persona(row)

    def by_sleep(self, agent: str, sleep_id: str) -> list[PersonaVersion]:
        rows = self.conn.execute(
            "SELECT * FROM persona_versions WHERE agent = ? AND sleep_id = ? ORDER BY version",
            (agent, sleep_id),
        )
        return [_persona(row) for row in rows]

    def versions(self, agent: str) -> list[PersonaVersion]:
        rows = self.conn.execute(
            "SELECT * FROM persona_versions WHERE agent = ? ORDER BY version", (agent,)
        )
        return [_persona(row) for row in rows]
