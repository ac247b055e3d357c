"""Sleep locks (one sleep per agent at a time, with a heartbeat) and consolidation watermarks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..times import now
from .codec import time_in, time_out
from .sql import Connection, Row

__all__ = ["LockRepo", "LockRow", "WatermarkRepo"]


@dataclass(frozen=True, slots=True)
class LockRow:
    """Who holds an agent's sleep lock, and when it last said it is alive."""

    holder: str
    pid: int
    host: str
    acquired: datetime | None
    heartbeat: datetime | None


def _lock(row: Row) -> LockRow:
    return LockRow(
        holder=row["holder"],
        pid=row["pid"],
        host=row["host"],
        acquired=time_out(row["acquired"]),
        heartbeat=time_out(row["heartbeat"]),
    )


class LockRepo:
    def __init__(self, conn: Connection):
        self.conn = conn

    def get(self, agent: str) -> LockRow | None:
        row = self.conn.execute("SELECT * FROM locks WHERE agent = ?", (agent,)).fetchone()
        return None if row is None else _lock(row)

    def take(self, agent: str, holder: str, pid: int, host: str) -> None:
        stamp = time_in(now())
        self.conn.execute(
            "INSERT INTO locks (agent, holder, pid, host, acquired, heartbeat) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (agent) DO UPDATE SET holder = excluded.holder, "
            "pid = excluded.pid, host = excluded.host, acquired = excluded.acquired, "
            "heartbeat = excluded.heartbeat",
            (agent, holder, pid, host, stamp, stamp),
        )

    def heartbeat(self, agent: str, holder: str) -> None:
        self.conn.execute(
            "UPDATE locks SET heartbeat = ? WHERE agent = ? AND holder = ?",
            (time_in(now()), agent, holder),
        )

    def release(self, agent: str, holder: str) -> None:
        self.conn.execute("DELETE FROM locks WHERE agent = ? AND holder = ?", (agent, holder))


class WatermarkRepo:
    """The highest episode seq an agent's sleeps have consolidated through."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def get(self, agent: str) -> int:
        row = self.conn.execute("SELECT watermark FROM agents WHERE id = ?", (agent,)).fetchone()
        return 0 if row is None else int(row[0])

    def set(self, agent: str, seq: int) -> None:
        self.conn.execute("UPDATE agents SET watermark = ? WHERE id = ?", (seq, agent))
