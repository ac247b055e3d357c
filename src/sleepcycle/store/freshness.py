"""Whether an in-memory index may have missed a commit, from SQLite's ``data_version``.

Before each search the store brings its indexes up to date from change feeds (a query per
feed). ``PRAGMA data_version`` on a connection changes whenever another connection, in this
process or any other, commits to the database; read connections never write, so while it
reads the same as when a connection last synced an index, nothing has been committed since
and the feeds can be skipped. The version is read before the feeds run: a commit landing
meanwhile is caught by the next search, never missed.
"""

from __future__ import annotations

from .sql import Connection

__all__ = ["Freshness"]


class Freshness:
    """Per read connection: the ``data_version`` at which it last synced one index. Use with
    that index's lock held."""

    def __init__(self) -> None:
        # id -> (the connection itself, so the id cannot be reused while it is kept; version)
        self._seen: dict[int, tuple[Connection, int]] = {}

    def stale(self, conn: Connection) -> int | None:
        """``conn``'s current data_version when the index needs its feeds; None when nothing
        was committed since ``conn`` last synced it."""
        version = int(conn.execute("PRAGMA data_version").fetchone()[0])
        seen = self._seen.get(id(conn))
        if seen is not None and seen[0] is conn and seen[1] == version:
            return None
        return version

    def synced(self, conn: Connection, version: int) -> None:
        """``conn`` brought the index up to date with what was committed at ``version``."""
        self._seen[id(conn)] = (conn, version)
