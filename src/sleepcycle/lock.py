"""One sleep per agent at a time: a lock row in the store.

The lock names its holder (the sleep), the process and the host. A new sleep takes it over only
when the holder is gone: a process on this host that no longer runs, or a heartbeat older than
``STALE`` from another host. Otherwise it refuses with ``LockedError``.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from pathlib import Path

from .errors import LockedError
from .store import LockRow, Store
from .times import now

__all__ = ["STALE", "acquire", "asleep", "gone", "heartbeat", "release"]

STALE = timedelta(minutes=10)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A process that has ended but that its parent has not yet reaped (Linux): it answers
    signal 0 but will never beat or release again."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def _gone(pid: int, host: str, beat: datetime | None, stale: timedelta = STALE) -> bool:
    if host == socket.gethostname():
        return not _alive(pid)
    return beat is None or now() - beat > stale


def gone(row: LockRow, stale: timedelta = STALE) -> bool:
    """Whether the process that holds this lock is gone (it ended without releasing it): on
    this host, its process no longer runs; from another, no heartbeat for ``stale``."""
    return _gone(row.pid, row.host, row.heartbeat, stale)


def asleep(store: Store, agent: str) -> str | None:
    """The id of the sleep that holds the agent's lock and is still alive, if any."""
    current = store.locks.get(agent)
    if current is None or _gone(current.pid, current.host, current.heartbeat):
        return None
    return current.holder


def acquire(
    store: Store, agent: str, holder: str, *, replacing: str | None = None
) -> LockRow | None:
    """Take the agent's sleep lock for ``holder`` or raise LockedError. ``replacing`` names a
    holder this caller already is (a sleep that turned out to be a resumed one). Returns the
    lock of a gone process that this took over, if any: the trace of a sleep that died."""
    host = socket.gethostname()
    with store.write() as tx:
        tx.ensure_agent(agent)
        current = tx.locks.get(agent)
        held = current is not None and current.holder not in (holder, replacing)
        if held and current and not _gone(current.pid, current.host, current.heartbeat):
            raise LockedError(
                f"agent {agent!r} is already asleep (sleep {current.holder}, process "
                f"{current.pid} on {current.host}); wait for it, or run `sleepcycle wake`"
            )
        tx.locks.take(agent, holder, os.getpid(), host)
    return current if held else None


def heartbeat(store: Store, agent: str, holder: str) -> None:
    with store.write() as tx:
        tx.locks.heartbeat(agent, holder)


def release(store: Store, agent: str, holder: str) -> None:
    with store.write() as tx:
        tx.locks.release(agent, holder)
