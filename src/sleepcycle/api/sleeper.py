"""Sleeps started over HTTP run in a background thread of the server, one per agent."""

from __future__ import annotations

import logging
import threading
import time

from ..errors import LockedError, NotFoundError, SleepcycleError
from ..lock import asleep
from ..mind import Mind

__all__ = ["Sleeper"]

log = logging.getLogger("sleepcycle.api")


class Sleeper:
    """Starts sleeps in threads and stops them at a safe point when the server shuts down."""

    def __init__(self) -> None:
        self._threads: dict[str, threading.Thread] = {}
        self._stops: dict[str, threading.Event] = {}
        self._errors: dict[str, SleepcycleError] = {}
        self._lock = threading.Lock()

    def start(self, mind: Mind, *, dry_run: bool, fresh: bool, wait_s: float = 30.0) -> str:
        """Start a sleep and return its id once it holds the agent's lock."""
        with self._lock:
            running = self._threads.get(mind.agent)
            held = asleep(mind.store, mind.agent)
            if (running is not None and running.is_alive()) or held:
                raise LockedError(
                    f"agent {mind.agent!r} is already asleep (sleep {held or 'starting'}); "
                    f"wait for it, or POST /v1/agents/{mind.agent}/wake"
                )
            before = {s.id for s in mind.sleeps(limit=5)}
            stop = threading.Event()
            thread = threading.Thread(
                target=self._run,
                args=(mind, dry_run, fresh, stop),
                name=f"sleep-{mind.agent}",
                daemon=True,
            )
            self._errors.pop(mind.agent, None)
            self._threads[mind.agent] = thread
            self._stops[mind.agent] = stop
            thread.start()
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            held = asleep(mind.store, mind.agent)
            if held and _exists(mind, held):
                return held
            if not thread.is_alive():
                break
            time.sleep(0.02)
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if mind.agent in self._errors:
            raise self._errors[mind.agent]
        latest = mind.sleeps(limit=1)
        if latest and latest[0].id not in before:
            return latest[0].id
        raise LockedError(f"the sleep of agent {mind.agent!r} did not start in {wait_s:g} s")

    def _run(self, mind: Mind, dry_run: bool, fresh: bool, stop: threading.Event) -> None:
        try:
            mind.sleep(dry_run=dry_run, fresh=fresh, trigger="api", stop_flag=stop)
        except SleepcycleError as exc:
            self._errors[mind.agent] = exc
            log.warning("sleep of agent %s failed: %s", mind.agent, exc)
        except Exception:
            log.exception("sleep of agent %s crashed", mind.agent)

    def stop_all(self, timeout: float = 60.0) -> None:
        """Ask every running sleep to stop at its next safe point and wait for them."""
        with self._lock:
            threads = list(self._threads.items())
            for stop in self._stops.values():
                stop.set()
        for agent, thread in threads:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("the sleep of agent %s did not stop in %g s", agent, timeout)


def _exists(mind: Mind, sleep_id: str) -> bool:
    """Whether the lock's holder is a sleep yet (a resumed sleep takes the lock over)."""
    try:
        mind.get_sleep(sleep_id)
    except NotFoundError:
        return False
    return True
