"""Sleeps: their status, stage checkpoints, dream journal, model calls, locks and watermark."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import AmbiguousIdError, NotFoundError
from ..records import JournalEntry, Outcome, Sleep, SleepStatus
from ..times import now
from .codec import dump, load, placeholders, time_in, time_or_none, time_out

__all__ = ["LockRow", "SleepRepo", "StageRow"]

_SLEEP = "id, agent, status, outcome, trigger, dry_run, started, ended, stats, error"
_UNFINISHED = ("running", "stopping", "interrupted")


def _sleep(row: sqlite3.Row) -> Sleep:
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


class StageRow:
    __slots__ = ("checkpoint", "ended", "error", "name", "started", "stats", "status")

    def __init__(self, row: sqlite3.Row):
        self.name: str = row["stage"]
        self.status: str = row["status"]
        self.started = time_out(row["started"])
        self.ended = time_out(row["ended"])
        self.checkpoint: str | None = row["checkpoint"]
        self.stats: dict[str, Any] = load(row["stats"])
        self.error: str | None = row["error"]


class LockRow:
    __slots__ = ("acquired", "heartbeat", "holder", "host", "pid")

    def __init__(self, row: sqlite3.Row):
        self.holder: str = row["holder"]
        self.pid: int = row["pid"]
        self.host: str = row["host"]
        self.acquired = time_out(row["acquired"])
        self.heartbeat = time_out(row["heartbeat"])


class SleepRepo:
    def __init__(self, conn: sqlite3.Connection):
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
        return [StageRow(row) for row in rows]

    # journal ----------------------------------------------------------------------------

    def journal_add(self, agent: str, entries: Sequence[JournalEntry]) -> None:
        self.conn.executemany(
            "INSERT INTO journal (sleep_id, agent, stage, kind, text, refs, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (e.sleep_id, agent, e.stage, e.kind, e.text, dump(dict(e.refs)), time_in(e.created))
                for e in entries
            ],
        )

    def journal(self, sleep_id: str) -> list[JournalEntry]:
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

    # model calls ------------------------------------------------------------------------

    def call_reply(self, sleep_id: str, call_key: str) -> str | None:
        """The reply an earlier run of this sleep got for the same call, if it finished."""
        row = self.conn.execute(
            "SELECT response FROM model_calls WHERE sleep_id = ? AND call_key = ? "
            "AND error IS NULL",
            (sleep_id, call_key),
        ).fetchone()
        return None if row is None else str(row[0])

    def call_add(
        self,
        *,
        sleep_id: str | None,
        stage: str | None,
        call_key: str | None,
        role: str,
        model: str,
        prompt_hash: str,
        response: str,
        tokens_in: int,
        tokens_out: int,
        ms: float,
        error: str | None = None,
    ) -> None:
        self.conn.execute(
            "INSERT INTO model_calls (sleep_id, stage, call_key, role, model, prompt_hash, "
            "response, tokens_in, tokens_out, ms, error, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (sleep_id, call_key) DO UPDATE SET response = excluded.response, "
            "tokens_in = excluded.tokens_in, tokens_out = excluded.tokens_out, "
            "ms = excluded.ms, error = excluded.error",
            (
                sleep_id,
                stage,
                call_key,
                role,
                model,
                prompt_hash,
                response,
                tokens_in,
                tokens_out,
                round(ms),
                error,
                time_in(now()),
            ),
        )

    def call_totals(self, sleep_id: str) -> dict[str, dict[str, int]]:
        """Calls, tokens in and out, and milliseconds per role for one sleep."""
        rows = self.conn.execute(
            "SELECT role, COUNT(*), SUM(tokens_in), SUM(tokens_out), SUM(ms) FROM model_calls "
            "WHERE sleep_id = ? GROUP BY role ORDER BY role",
            (sleep_id,),
        )
        return {
            row[0]: {"calls": row[1], "tokens_in": row[2], "tokens_out": row[3], "ms": row[4]}
            for row in rows
        }

    def call_count(self, sleep_id: str, stage: str) -> int:
        """How many valid replies one stage of a sleep has recorded (a resume replays them)."""
        row = self.conn.execute(
            "SELECT COUNT(*) FROM model_calls WHERE sleep_id = ? AND stage = ? AND error IS NULL",
            (sleep_id, stage),
        ).fetchone()
        return int(row[0])

    # lock and watermark -----------------------------------------------------------------

    def lock(self, agent: str) -> LockRow | None:
        row = self.conn.execute("SELECT * FROM locks WHERE agent = ?", (agent,)).fetchone()
        return None if row is None else LockRow(row)

    def take_lock(self, agent: str, holder: str, pid: int, host: str) -> None:
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

    def release_lock(self, agent: str, holder: str) -> None:
        self.conn.execute("DELETE FROM locks WHERE agent = ? AND holder = ?", (agent, holder))

    def watermark(self, agent: str) -> int:
        row = self.conn.execute("SELECT watermark FROM agents WHERE id = ?", (agent,)).fetchone()
        return 0 if row is None else int(row[0])

    def set_watermark(self, agent: str, seq: int) -> None:
        self.conn.execute("UPDATE agents SET watermark = ? WHERE id = ?", (seq, agent))
