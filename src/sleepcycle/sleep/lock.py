"""One sleep per agent at a time: a lock row in the store.

The lock names its holder (the sleep), the process and the host. A new sleep takes it over only
when the holder is gone: a process on this host that no longer runs, or a heartbeat older than
``STALE`` from another host. Otherwise it refuses with ``LockedError``.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from ..errors import LockedError
from ..store import Store
from ..times import now

__all__ = ["STALE", "acquire", "heartbeat", "release"]

STALE = timedelta(minutes=10)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def acquire(store: Store, agent: str, holder: str) -> None:
    """Take the agent's sleep lock for ``holder`` or raise LockedError."""
    host = socket.gethostname()
    with store.write() as tx:
        tx.ensure_agent(agent)
        current = tx.sleeps.lock(agent)
        if current is not None and current.holder != holder:
            gone = (
                not _alive(current.pid) or current.pid == os.getpid()
                if current.host == host
                else current.heartbeat is None or now() - current.heartbeat > STALE
            )
            if not gone:
                raise LockedError(
                    f"agent {agent!r} is already asleep (sleep {current.holder}, process "
                    f"{current.pid} on {current.host}); wait for it, or run `sleepcycle wake`"
                )
        tx.sleeps.take_lock(agent, holder, os.getpid(), host)


def heartbeat(store: Store, agent: str, holder: str) -> None:
    with store.write() as tx:
        tx.sleeps.heartbeat(agent, holder)


def release(store: Store, agent: str, holder: str) -> None:
    with store.write() as tx:
        tx.sleeps.release_lock(agent, holder)
