"""The daemon: the chat proxy and the sleep triggers in one process.

Triggers (``[daemon]`` in config.toml), checked every ``check_seconds``:

- ``schedule``: a cron expression (``0 3 * * *``: every night at three, local time);
- ``idle_minutes``: the proxy has had no request for that long and there is something new;
- ``pressure``: new episodes plus open thoughts (not counting questions an earlier sleep
  parked) have reached this many.

A sleep runs on the scheduler's thread while the proxy keeps answering from the sub model; the
agent's lock still allows one sleep at a time, whoever starts it. Stopping the daemon (SIGINT,
SIGTERM) asks a running sleep to stop at its next safe point; it resumes next time.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime

import cronsim

from .config import DaemonSettings
from .errors import LockedError
from .lock import asleep
from .mind import Mind
from .records import ThoughtStatus
from .sleep import SleepReport

__all__ = ["Scheduler", "pressure", "run_daemon"]

log = logging.getLogger("sleepcycle.daemon")
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def pressure(mind: Mind) -> int:
    """Unconsolidated episodes plus open thoughts that did not come from a sleep."""
    episodes = mind.store.episodes.count(mind.agent, unconsolidated=True)
    thoughts = mind.store.thoughts.find(mind.agent, statuses=[ThoughtStatus.OPEN])
    return episodes + sum(1 for t in thoughts if "created_by_sleep" not in t.meta)


class Scheduler:
    """Decides when to sleep, and sleeps."""

    def __init__(
        self,
        mind: Mind,
        settings: DaemonSettings,
        last_request: Callable[[], float],
        *,
        clock: Callable[[], float] = time.monotonic,
        today: Callable[[], datetime] = datetime.now,
    ):
        self.mind = mind
        self.settings = settings
        self.last_request = last_request
        self.clock = clock
        self.today = today
        self.reports: list[SleepReport] = []
        self._cron: Iterator[datetime] | None = None
        self._next: datetime | None = None
        if settings.schedule:
            self._cron = cronsim.CronSim(settings.schedule, today())
            self._next = next(self._cron)

    def due(self) -> str | None:
        """The trigger that fires now, if any."""
        if asleep(self.mind.store, self.mind.agent):
            return None
        if self._next is not None and self._cron is not None:
            today = self.today()
            if today >= self._next:
                while self._next <= today:
                    self._next = next(self._cron)
                return "schedule"
        waiting = pressure(self.mind)
        idle = self.settings.idle_minutes * 60
        if idle and waiting and self.clock() - self.last_request() >= idle:
            return "idle"
        if self.settings.pressure and waiting >= self.settings.pressure:
            return "pressure"
        return None

    def tick(self, stop: threading.Event) -> SleepReport | None:
        trigger = self.due()
        if trigger is None:
            return None
        log.info("sleeping (%s)", trigger)
        try:
            report = self.mind.sleep(trigger=trigger, stop_flag=stop)
        except LockedError as exc:  # another process started one first
            log.info("%s", exc)
            return None
        self.reports.append(report)
        log.info("sleep %s ended: %s", report.sleep.id, report.outcome)
        return report

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.settings.check_seconds):
            try:
                self.tick(stop)
            except Exception:  # the daemon keeps serving; the journal has the details
                log.exception("a sleep trigger failed")


def run_daemon(mind: Mind, host: str, port: int) -> None:
    """Serve the proxy and run the triggers until interrupted."""
    import uvicorn  # noqa: PLC0415 - the server extra

    from .proxy import create_app  # noqa: PLC0415

    app = create_app(mind)
    stop = threading.Event()
    scheduler = Scheduler(mind, mind.config.daemon, lambda: float(app.state.last_request))
    thread = threading.Thread(target=scheduler.run, args=(stop,), name="sleepcycle-scheduler")
    # uvicorn shuts down gracefully on SIGINT and SIGTERM, then raises the signal again for the
    # handler it found; this one makes that a request to stop, so the cleanup below still runs.
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in _SIGNALS}
    thread.start()
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        stop.set()  # a running sleep stops at its next safe point and resumes next time
        thread.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
