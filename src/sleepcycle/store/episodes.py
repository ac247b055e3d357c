"""Episodes: immutable records of what happened while awake."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..errors import AmbiguousIdError, NotFoundError
from ..records import Episode, Role
from .codec import dump, load, placeholders, time_in, time_out
from .filters import EpisodeFilter
from .sql import Connection, Row

__all__ = ["EpisodeRepo"]

_COLUMNS = (
    "id, agent, session, role, name, content, time, meta, source, recorded_at, consolidated_in"
)


def _episode(row: Row) -> Episode:
    return Episode(
        id=row["id"],
        agent=row["agent"],
        session=row["session"],
        role=Role(row["role"]),
        content=row["content"],
        time=time_out(row["time"]),  # type: ignore[arg-type]
        recorded_at=time_out(row["recorded_at"]),  # type: ignore[arg-type]
        name=row["name"],
        meta=load(row["meta"]),
        source=row["source"],
        consolidated_in=row["consolidated_in"],
    )


class EpisodeRepo:
    def __init__(self, conn: Connection):
        self.conn = conn

    # writes -----------------------------------------------------------------------------

    def add(self, episodes: Sequence[Episode]) -> list[Episode]:
        """Insert episodes not stored yet; returns the ones that were new."""
        added: list[Episode] = []
        for ep in episodes:
            cursor = self.conn.execute(
                f"INSERT INTO episodes ({_COLUMNS}) VALUES ({placeholders(range(11))}) "
                "ON CONFLICT DO NOTHING",
                (
                    ep.id,
                    ep.agent,
                    ep.session,
                    ep.role.value,
                    ep.name,
                    ep.content,
                    time_in(ep.time),
                    dump(dict(ep.meta)),
                    ep.source,
                    time_in(ep.recorded_at),
                    ep.consolidated_in,
                ),
            )
            if cursor.rowcount:
                added.append(ep)
        return added

    def mark_consolidated(self, agent: str, ids: Sequence[str], sleep_id: str | None) -> int:
        """Set (or, with ``None``, clear) the sleep that consolidated these episodes."""
        count = 0
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            cursor = self.conn.execute(
                f"UPDATE episodes SET consolidated_in = ? WHERE agent = ? "
                f"AND id IN ({placeholders(chunk)})",
                (sleep_id, agent, *chunk),
            )
            count += cursor.rowcount
        return count

    # reads ------------------------------------------------------------------------------

    def get(self, agent: str, episode_id: str) -> Episode:
        row = self.conn.execute(
            f"SELECT {_COLUMNS} FROM episodes WHERE agent = ? AND id = ?", (agent, episode_id)
        ).fetchone()
        if row is None:
            raise NotFoundError(
                f"no episode {episode_id} for agent {agent!r}; "
                "list them with `sleepcycle episode list`"
            )
        return _episode(row)

    def get_many(self, agent: str, ids: Sequence[str]) -> list[Episode]:
        """The episodes that exist among ``ids``, in the order given."""
        found: dict[str, Episode] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = self.conn.execute(
                f"SELECT {_COLUMNS} FROM episodes "
                f"WHERE agent = ? AND id IN ({placeholders(chunk)})",
                (agent, *chunk),
            )
            found.update((row["id"], _episode(row)) for row in rows)
        return [found[i] for i in ids if i in found]

    def by_seq(self, seqs: Sequence[int]) -> dict[int, Episode]:
        if not seqs:
            return {}
        rows = self.conn.execute(
            f"SELECT seq, {_COLUMNS} FROM episodes WHERE seq IN ({placeholders(seqs)})", seqs
        )
        return {row["seq"]: _episode(row) for row in rows}

    def resolve(self, agent: str, prefix: str) -> str:
        """The full id of the one episode whose id starts with ``prefix``."""
        rows = self.conn.execute(
            "SELECT id FROM episodes WHERE agent = ? AND id >= ? AND id < ? LIMIT 2",
            (agent, prefix, prefix + "\uffff"),
        ).fetchall()
        if not rows:
            raise NotFoundError(
                f"no episode matches {prefix!r} for agent {agent!r}; "
                "list them with `sleepcycle episode list`"
            )
        if len(rows) > 1:
            raise AmbiguousIdError(f"{prefix!r} matches several episodes; give more characters")
        return str(rows[0]["id"])

    def find(
        self,
        agent: str,
        where: EpisodeFilter | None = None,
        *,
        unconsolidated: bool = False,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Episode]:
        fragment, args = (where or EpisodeFilter()).sql()
        if unconsolidated:
            fragment += " AND consolidated_in IS NULL"
        order = "DESC" if newest_first else "ASC"
        sql = (
            f"SELECT {_COLUMNS} FROM episodes WHERE agent = ? AND {fragment} "
            f"ORDER BY time {order}, seq {order}"
        )
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [_episode(row) for row in self.conn.execute(sql, (agent, *args))]

    def around(self, agent: str, episode: Episode, before: int, after: int) -> list[Episode]:
        """The episode with up to ``before`` earlier and ``after`` later ones of its session,
        in time order: the context a line is said in."""
        stamp = time_in(episode.time)
        earlier = self.conn.execute(
            f"SELECT {_COLUMNS} FROM episodes WHERE agent = ? AND session = ? "
            "AND (time < ? OR (time = ? AND seq < (SELECT seq FROM episodes WHERE id = ?))) "
            "ORDER BY time DESC, seq DESC LIMIT ?",
            (agent, episode.session, stamp, stamp, episode.id, before),
        ).fetchall()
        later = self.conn.execute(
            f"SELECT {_COLUMNS} FROM episodes WHERE agent = ? AND session = ? "
            "AND (time > ? OR (time = ? AND seq > (SELECT seq FROM episodes WHERE id = ?))) "
            "ORDER BY time ASC, seq ASC LIMIT ?",
            (agent, episode.session, stamp, stamp, episode.id, after),
        ).fetchall()
        return [*(_episode(r) for r in reversed(earlier)), episode, *(_episode(r) for r in later)]

    def consolidated_by(self, agent: str, sleep_id: str) -> list[str]:
        rows = self.conn.execute(
            "SELECT id FROM episodes WHERE agent = ? AND consolidated_in = ? ORDER BY seq",
            (agent, sleep_id),
        )
        return [row[0] for row in rows]

    def seqs(self, ids: Sequence[str]) -> dict[str, int]:
        """The insertion sequence number of each episode id (for watermarks)."""
        found: dict[str, int] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = self.conn.execute(
                f"SELECT id, seq FROM episodes WHERE id IN ({placeholders(chunk)})", chunk
            )
            found.update((row[0], row[1]) for row in rows)
        return found

    def count(self, agent: str, *, unconsolidated: bool = False) -> int:
        sql = "SELECT COUNT(*) FROM episodes WHERE agent = ?"
        if unconsolidated:
            sql += " AND consolidated_in IS NULL"
        return int(self.conn.execute(sql, (agent,)).fetchone()[0])

    def time_range(self, agent: str) -> tuple[datetime | None, datetime | None]:
        row = self.conn.execute(
            "SELECT MIN(time), MAX(time) FROM episodes WHERE agent = ?", (agent,)
        ).fetchone()
        return time_out(row[0]), time_out(row[1])
