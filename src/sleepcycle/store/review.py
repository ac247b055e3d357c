"""The review queue: operations a sleep proposed, waiting for a person."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import AmbiguousIdError, NotFoundError
from ..records import ReviewItem, ReviewStatus
from ..times import now
from .codec import dump, load, time_in, time_out
from .sql import Connection, Row

__all__ = ["ReviewRepo"]

_COLUMNS = (
    "id, agent, sleep_id, op, summary, payload, status, created, decided_at, decided_by, note, "
    "result"
)


def _item(row: Row) -> ReviewItem:
    return ReviewItem(
        id=row["id"],
        agent=row["agent"],
        sleep_id=row["sleep_id"],
        op=row["op"],
        summary=row["summary"],
        payload=load(row["payload"]),
        status=ReviewStatus(row["status"]),
        created=time_out(row["created"]),  # type: ignore[arg-type]
        decided_at=time_out(row["decided_at"]),
        decided_by=row["decided_by"],
        note=row["note"],
        result=load(row["result"]),
    )


class ReviewRepo:
    def __init__(self, conn: Connection):
        self.conn = conn

    def add(self, item: ReviewItem) -> None:
        self.conn.execute(
            f"INSERT INTO review_queue ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                item.id,
                item.agent,
                item.sleep_id,
                item.op,
                item.summary,
                dump(dict(item.payload)),
                item.status.value,
                time_in(item.created),
                None,
                None,
                None,
                None,
            ),
        )

    def decide(
        self,
        agent: str,
        item_id: str,
        status: ReviewStatus,
        *,
        by: str,
        note: str | None,
        result: Mapping[str, Any] | None = None,
    ) -> None:
        self.conn.execute(
            "UPDATE review_queue SET status = ?, decided_at = ?, decided_by = ?, note = ?, "
            "result = ? WHERE agent = ? AND id = ?",
            (
                status.value,
                time_in(now()),
                by,
                note,
                dump(dict(result)) if result is not None else None,
                agent,
                item_id,
            ),
        )

    def get(self, agent: str, item_id: str) -> ReviewItem:
        row = self.conn.execute(
            f"SELECT {_COLUMNS} FROM review_queue WHERE agent = ? AND id = ?", (agent, item_id)
        ).fetchone()
        if row is None:
            raise NotFoundError(
                f"no review item {item_id} for agent {agent!r}; list them with "
                "`sleepcycle review list`"
            )
        return _item(row)

    def resolve(self, agent: str, prefix: str) -> str:
        rows = self.conn.execute(
            "SELECT id FROM review_queue WHERE agent = ? AND id >= ? AND id < ? LIMIT 2",
            (agent, prefix, prefix + "\uffff"),
        ).fetchall()
        if not rows:
            raise NotFoundError(
                f"no review item matches {prefix!r} for agent {agent!r}; list them with "
                "`sleepcycle review list`"
            )
        if len(rows) > 1:
            raise AmbiguousIdError(f"{prefix!r} matches several review items; give more characters")
        return str(rows[0]["id"])

    def find(
        self, agent: str, *, status: ReviewStatus | None = None, limit: int | None = None
    ) -> list[ReviewItem]:
        sql = f"SELECT {_COLUMNS} FROM review_queue WHERE agent = ?"
        args: list[object] = [agent]
        if status is not None:
            sql += " AND status = ?"
            args.append(status.value)
        sql += " ORDER BY seq"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [_item(row) for row in self.conn.execute(sql, args)]

    def count(self, agent: str, *, status: ReviewStatus = ReviewStatus.PENDING) -> int:
        row = self.conn.execute(
            "SELECT COUNT(*) FROM review_queue WHERE agent = ? AND status = ?",
            (agent, status.value),
        ).fetchone()
        return int(row[0])
