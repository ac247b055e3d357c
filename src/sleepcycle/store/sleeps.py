"""Sleeps: their status and their stages' checkpoints."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import AmbiguousIdError, NotFoundError
from ..records import Outcome, Sleep, SleepStatus
from ..times import now
from .codec import dump, load, placeholders, time_in, time_or_none, time_out
from .sql import Connection, Row

__all__ = ["SleepRepo", "StageRow"]

_SLEEP = "id, agent, status, outcome, trigger, dry_run, started, ended, stats, error"
_UNFINISHED = ("running", "stopping", "interrupted")


def _sleep(row: Row) -> Sleep:
    return Sleep(
        id=row["id"],
        agent=row["agent"],
        status=SleepStatus(row["status"]),
        started=time_out(row["started"]),  # type: ignore[arg-type]
        trigger=row["trigger"],
        dry_run=bool(row["dry_run"]),
        outcome=Outcome(row["outcome"]) if row["outcome"] else None,
        ended=time_out(row["ended"]),
        stats=load(row["stats"]),
        error=row["error"],
    )


@dataclass(frozen=True, slots=True)
class StageRow:
    """One stage of a sleep as recorded: its checkpoint is what a resumed sleep starts from."""

    name: str
    status: str
    started: datetime | None
    ended: datetime | None
    checkpoint: str | None
    stats: dict[str, Any]
    error: str | None


def _stage(row: Row) -> StageRow:
    return StageRow(
        name=row["stage"],
        status=row["status"],
        started=time_out(row["started"]),
        ended=time_out(row["ended"]),
        checkpoint=row["checkpoint"],
        stats=load(row["stats"]),
        error=row["error"],
    )


class SleepRepo:
    def __init__(self, conn: Connection):
        self.conn = conn

    # sleeps -----------------------------------------------------------------------------

    def create(self, sleep: Sleep, config: Mapping[str, Any]) -> None:
        self.conn.execute(
            f"INSERT INTO sleeps ({_SLEEP}, config) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                sleep.id,
                sleep.agent,
                sleep.status.value,
                sleep.outcome.value if sleep.outcome else None,
                sleep.trigger,
                int(sleep.dry_run),
                time_in(sleep.started),
                time_or_none(sleep.ended),
                dump(dict(sleep.stats)),
                sleep.error,
                dump(dict(config)),
            ),
        )

    def finish(
        self,
        sleep_id: str,
        status: SleepStatus,
        outcome: Outcome | None,
        *,
        stats: Mapping[str, Any] | None = None,
        error: str | None = None,
        watermark: tuple[int, int] | None = None,
    ) -> None:
        """Record how a sleep ended (or that it was rolled back)."""
        self.conn.execute(
            "UPDATE sleeps SET status = ?, outcome = COALESCE(?, outcome), ended = ?, "
            "stats = COALESCE(?, stats), error = ?, "
            "watermark_from = COALESCE(?, watermark_from), "
            "watermark_to = COALESCE(?, watermark_to) WHERE id = ?",
            (
                status.value,
                outcome.value if outcome else None,
                time_in(now()),
                dump(dict(stats)) if stats is not None else None,
                error,
                watermark[0] if watermark else None,
                watermark[1] if watermark else None,
                sleep_id,
            ),
        )

    def set_status(self, sleep_id: str, status: SleepStatus) -> None:
        self.conn.execute("UPDATE sleeps SET status = ? WHERE id = ?", (status.value, sleep_id))

    def request_stop(self, agent: str) -> str | None:
        """Ask the agent's running sleep to stop at its next stage boundary; its id."""
        row = self.conn.execute(
            "UPDATE sleeps SET status = 'stopping' WHERE agent = ? AND status = 'running' "
            "RETURNING id",
            (agent,),
        ).fetchone()
        return None if row is None else str(row[0])

    def status(self, sleep_id: str) -> SleepStatus:
        row = self.conn.execute("SELECT status FROM sleeps WHERE id = ?", (sleep_id,)).fetchone()
        return SleepStatus(row[0])

    def get(self, agent: str, sleep_id: str) -> Sleep:
        row = self.conn.execute(
            f"SELECT {_SLEEP} FROM sleeps WHERE agent = ? AND id = ?", (agent, sleep_id)
        ).fetchone()
        if row is None:
            raise NotFoundError(
                f"no sleep {sleep_id} for agent {agent!r}; list them with `sleepcycle sleeps`"
            )
        return _sleep(row)

    def resolve(self, agent: str, prefix: str) -> str:
        rows = self.conn.execute(
            "SELECT id FROM sleeps WHERE agent = ? AND id >= ? AND id < ? LIMIT 2",
            (agent, prefix, prefix + "\uffff"),
        ).fetchall()
        if not rows:
            raise NotFoundError(
                f"no sleep matches {prefix!r} for agent {agent!r}; "
                "list them with `sleepcycle sleeps`"
            )
        if len(rows) > 1:
            raise AmbiguousIdError(f"{prefix!r} matches several sleeps; give more characters")
        return str(rows[0]["id"])

    def find(self, agent: str, *, limit: int | None = None) -> list[Sleep]:
        """This agent's sleeps, newest first."""
        sql = f"SELECT {_SLEEP} FROM sleeps WHERE agent = ? ORDER BY started DESC, rowid DESC"
        args: list[object] = [agent]
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [_sleep(row) for row in self.conn.execute(sql, args)]

    def running(self, agent: str) -> Sleep | None:
        """The agent's sleep that is running now (or stopping), if any."""
        row = self.conn.execute(
            f"SELECT {_SLEEP} FROM sleeps WHERE agent = ? AND status IN ('running', 'stopping') "
            "ORDER BY started DESC LIMIT 1",
            (agent,),
        ).fetchone()
        return None if row is None else _sleep(row)

    def unfinished(self, agent: str) -> Sleep | None:
        """The agent's most recent sleep that neither finished nor failed."""
        row = self.conn.execute(
            f"SELECT {_SLEEP} FROM sleeps WHERE agent = ? AND status IN "
            f"({placeholders(_UNFINISHED)}) ORDER BY started DESC LIMIT 1",
            (agent, *_UNFINISHED),
        ).fetchone()
        return None if row is None else _sleep(row)

    # stages -----------------------------------------------------------------------------

    def stage_start(self, sleep_id: str, stage: str, position: int) -> None:
        self.conn.execute(
            "INSERT INTO sleep_stages (sleep_id, stage, position, status, started) "
            "VALUES (?, ?, ?, 'running', ?) ON CONFLICT (sleep_id, stage) DO UPDATE SET "
            "status = 'running', started = excluded.started, ended = NULL, error = NULL",
            (sleep_id, stage, position, time_in(now())),
        )

    def stage_end(
        self,
        sleep_id: str,
        stage: str,
        status: str,
        *,
        checkpoint: str | None = None,
        stats: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        self.conn.execute(
            "UPDATE sleep_stages SET status = ?, ended = ?, checkpoint = ?, stats = ?, error = ? "
            "WHERE sleep_id = ? AND stage = ?",
            (
                status,
                time_in(now()),
                checkpoint,
                dump(dict(stats or {})),
                error,
                sleep_id,
                stage,
            ),
        )

    def stages(self, sleep_id: str) -> list[StageRow]:
        rows = self.conn.execute(
            "SELECT * FROM sleep_stages WHERE sleep_id = ? ORDER BY position", (sleep_id,)
        )
        return [_stage(row) for row in rows]
