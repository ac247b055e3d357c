"""Model calls: every prompt's hash and reply, so a resumed sleep repeats none of them."""

from __future__ import annotations

from ..records import ModelCall
from ..times import now
from .codec import time_in
from .sql import Connection

__all__ = ["CallRepo"]


class CallRepo:
    def __init__(self, conn: Connection):
        self.conn = conn

    def reply(self, sleep_id: str, call_key: str) -> str | None:
        """The reply an earlier run of this sleep got for the same call, if it finished."""
        row = self.conn.execute(
            "SELECT response FROM model_calls WHERE sleep_id = ? AND call_key = ? "
            "AND error IS NULL",
            (sleep_id, call_key),
        ).fetchone()
        return None if row is None else str(row[0])

    def add(self, call: ModelCall) -> None:
        """Record a call; a second record under the same sleep and key replaces the first."""
        self.conn.execute(
            "INSERT INTO model_calls (sleep_id, stage, call_key, role, model, prompt_hash, "
            "response, tokens_in, tokens_out, ms, error, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (sleep_id, call_key) DO UPDATE SET response = excluded.response, "
            "tokens_in = excluded.tokens_in, tokens_out = excluded.tokens_out, "
            "ms = excluded.ms, error = excluded.error",
            (
                call.sleep_id,
                call.stage,
                call.key,
                call.role,
                call.model,
                call.prompt_hash,
                call.response,
                call.tokens_in,
                call.tokens_out,
                round(call.ms),
                call.error,
                time_in(now()),
            ),
        )

    def totals(self, sleep_id: str) -> dict[str, dict[str, int]]:
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

    def count(self, sleep_id: str, stage: str) -> int:
        """How many valid replies one stage of a sleep has recorded (a resume replays them)."""
        row = self.conn.execute(
            "SELECT COUNT(*) FROM model_calls WHERE sleep_id = ? AND stage = ? AND error IS NULL",
            (sleep_id, stage),
        ).fetchone()
        return int(row[0])
