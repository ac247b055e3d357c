"""LoRA adapters per agent, and the append-only log of which one is active."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import AmbiguousIdError, NotFoundError
from ..records import Activation, Adapter, AdapterStatus
from ..times import now
from .codec import dump, load, time_in, time_out
from .sql import Connection, Row

__all__ = ["AdapterRepo"]

_COLUMNS = "id, agent, version, base, status, path, sleep_id, created, finished, report, error"
_ACTIVATION = "seq, agent, adapter_id, at, by, reason, replaces"


def _adapter(row: Row) -> Adapter:
    return Adapter(
        id=row["id"],
        agent=row["agent"],
        version=row["version"],
        base=row["base"],
        status=AdapterStatus(row["status"]),
        path=row["path"],
        sleep_id=row["sleep_id"],
        created=time_out(row["created"]),  # type: ignore[arg-type]
        finished=time_out(row["finished"]),
        report=load(row["report"]),
        error=row["error"],
    )


def _activation(row: Row) -> Activation:
    return Activation(
        seq=row["seq"],
        agent=row["agent"],
        adapter_id=row["adapter_id"],
        at=time_out(row["at"]),  # type: ignore[arg-type]
        by=row["by"],
        reason=row["reason"],
        replaces=row["replaces"],
    )


class AdapterRepo:
    def __init__(self, conn: Connection):
        self.conn = conn

    def next_version(self, agent: str) -> int:
        row = self.conn.execute(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM adapters WHERE agent = ?", (agent,)
        ).fetchone()
        return int(row[0])

    def add(self, adapter: Adapter) -> None:
        self.conn.execute(
            f"INSERT INTO adapters ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                adapter.id,
                adapter.agent,
                adapter.version,
                adapter.base,
                adapter.status.value,
                adapter.path,
                adapter.sleep_id,
                time_in(adapter.created),
                None,
                dump(dict(adapter.report)),
                None,
            ),
        )

    def finish(
        self,
        adapter_id: str,
        status: AdapterStatus,
        *,
        report: Mapping[str, Any],
        error: str | None = None,
    ) -> None:
        self.conn.execute(
            "UPDATE adapters SET status = ?, finished = ?, report = ?, error = ? WHERE id = ?",
            (status.value, time_in(now()), dump(dict(report)), error, adapter_id),
        )

    def get(self, agent: str, adapter_id: str) -> Adapter:
        row = self.conn.execute(
            f"SELECT {_COLUMNS} FROM adapters WHERE agent = ? AND id = ?", (agent, adapter_id)
        ).fetchone()
        if row is None:
            raise NotFoundError(
                f"no adapter {adapter_id} for agent {agent!r}; list them with "
                "`sleepcycle adapters list`"
            )
        return _adapter(row)

    def resolve(self, agent: str, ref: str) -> str:
        """An adapter id from an id, a unique id prefix, or a version number (``3``, ``v3``)."""
        number = ref.removeprefix("v")
        if number.isdigit():
            row = self.conn.execute(
                "SELECT id FROM adapters WHERE agent = ? AND version = ?", (agent, int(number))
            ).fetchone()
            if row is not None:
                return str(row["id"])
        rows = self.conn.execute(
            "SELECT id FROM adapters WHERE agent = ? AND id >= ? AND id < ? LIMIT 2",
            (agent, ref, ref + "\uffff"),
        ).fetchall()
        if not rows:
            raise NotFoundError(
                f"no adapter matches {ref!r} for agent {agent!r}; list them with "
                "`sleepcycle adapters list`"
            )
        if len(rows) > 1:
            raise AmbiguousIdError(f"{ref!r} matches several adapters; give more characters")
        return str(rows[0]["id"])

    def find(self, agent: str, *, status: AdapterStatus | None = None) -> list[Adapter]:
        """This agent's adapters, newest first."""
        sql = f"SELECT {_COLUMNS} FROM adapters WHERE agent = ?"
        args: list[object] = [agent]
        if status is not None:
            sql += " AND status = ?"
            args.append(status.value)
        rows = self.conn.execute(sql + " ORDER BY version DESC", args).fetchall()
        return [_adapter(r) for r in rows]

    # activations ------------------------------------------------------------------------

    def current(self, agent: str) -> Activation | None:
        row = self.conn.execute(
            f"SELECT {_ACTIVATION} FROM adapter_activations WHERE agent = ? "
            "ORDER BY seq DESC LIMIT 1",
            (agent,),
        ).fetchone()
        return None if row is None else _activation(row)

    def activation(self, seq: int) -> Activation:
        row = self.conn.execute(
            f"SELECT {_ACTIVATION} FROM adapter_activations WHERE seq = ?", (seq,)
        ).fetchone()
        return _activation(row)

    def activations(self, agent: str) -> list[Activation]:
        """Every change of the active adapter, newest first."""
        rows = self.conn.execute(
            f"SELECT {_ACTIVATION} FROM adapter_activations WHERE agent = ? ORDER BY seq DESC",
            (agent,),
        ).fetchall()
        return [_activation(r) for r in rows]

    def activate(
        self,
        agent: str,
        adapter_id: str | None,
        *,
        by: str,
        reason: str | None = None,
        replaces: int | None = None,
    ) -> Activation:
        cursor = self.conn.execute(
            "INSERT INTO adapter_activations (agent, adapter_id, at, by, reason, replaces) "
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING seq",
            (agent, adapter_id, time_in(now()), by, reason, replaces),
        )
        return self.activation(int(cursor.fetchone()[0]))
