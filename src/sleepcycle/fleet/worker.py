"""A fleet worker: one process that runs nights from the queue until it is stopped.

DBOS dequeues within the queue's limits and runs each night as a workflow whose one step is
the agent's sleep. The worker holds a lease in the store (a lock row ``fleet-worker:<id>``,
beaten every few seconds), and every worker watches the others' leases: the nights of a
worker whose lease is gone (its process ended on this host, or no heartbeat for
``fleet.recover_after`` from another) go back on the queue through DBOS's recovery, and the
worker that takes one resumes the sleep from its stage checkpoints and recorded model calls.

SIGTERM or Ctrl-C stops a worker cleanly: running sleeps stop at their next safe point, the
lease is released, and the nights left unfinished are recovered by the other workers (or by
this one when it starts again).
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from ..config import Config
from ..embed import Embedder
from ..errors import LockedError, SleepcycleError
from ..lock import gone
from ..mind import open as open_mind
from ..plugins import embedder_for
from ..records import Outcome
from ..store import Store
from .queue import PRIORITY, QUEUE, WORKFLOW, due, night_id, register_queue
from .system import APP, dbos

__all__ = ["LEASE", "Worker", "serve"]

LEASE = "fleet-worker:"
BEAT_S = 3.0
LOCKED_WAIT_S = 30.0
SCHEDULE = "sleepcycle-nightly"


class NightFailed(SleepcycleError):
    """A night whose sleep ended failed (its error is in the sleep's record)."""


@dataclass
class _Runtime:
    """What this process's workflows need: set once by the worker that launches DBOS."""

    home: Path
    store_url: str
    config: Config
    embedder: Embedder
    stopping: threading.Event = field(default_factory=threading.Event)
    running: int = 0
    guard: threading.Lock = field(default_factory=threading.Lock)


_RUNTIME: dict[str, _Runtime] = {}  # "now": this process's, set by Worker.run
_REGISTERED: dict[str, Callable[..., Any]] = {}


def _runtime() -> _Runtime:
    assert "now" in _RUNTIME, "a night runs only in a started worker"
    return _RUNTIME["now"]


def _sleep_once(agent: str) -> dict[str, Any]:
    """The agent's sleep, resumed where it stopped if it was cut off."""
    rt = _runtime()
    with rt.guard:
        rt.running += 1
    try:
        with open_mind(
            rt.home, agent, embedder=rt.embedder, config=rt.config, store=rt.store_url
        ) as mind:
            try:
                report = mind.sleep(trigger="fleet", stop_flag=rt.stopping)
            except LockedError as exc:
                return {"agent": agent, "outcome": "locked", "detail": str(exc)}
            sleep = report.sleep
            if sleep.outcome is Outcome.FAILED:
                raise NightFailed(f"sleep {sleep.id} of {agent} failed: {sleep.error}")
            return {
                "agent": agent,
                "sleep": sleep.id,
                "outcome": str(sleep.outcome),
                "memories": report.stats.accepted if report.summary else 0,
            }
    finally:
        with rt.guard:
            rt.running -= 1


def _register() -> None:
    """Declare the night workflow and the scheduled enqueue to DBOS (once per process)."""
    if _REGISTERED:
        return
    engine = dbos().DBOS
    step = engine.step(name="sleepcycle.sleep")(_sleep_once)

    def night(agent: str) -> dict[str, Any]:
        while True:
            result: dict[str, Any] = step(agent)
            if result["outcome"] == "locked":  # a dead holder's lock goes stale in time
                engine.sleep(LOCKED_WAIT_S)
                continue
            if result["outcome"] == str(Outcome.INTERRUPTED) and _runtime().stopping.is_set():
                # This worker is stopping: leave the night pending for recovery.
                threading.Event().wait()
            return result

    def due_agents() -> list[str]:
        rt = _runtime()
        store = Store.open(rt.store_url)
        try:
            return due(store)
        finally:
            store.close()

    due_step = engine.step(name="sleepcycle.due")(due_agents)

    def nightly(scheduled: Any, context: Any) -> list[str]:
        module = dbos()
        added = []
        for agent in due_step():
            options = module.SetEnqueueOptions(deduplication_id=agent, priority=PRIORITY)
            try:
                with module.SetWorkflowID(night_id(agent, scheduled)), options:
                    engine.enqueue_workflow(QUEUE, workflow, agent)
            except module.error.DBOSQueueDeduplicatedError:
                continue
            added.append(agent)
        return added

    workflow = engine.workflow(name=WORKFLOW)(night)
    _REGISTERED["nightly"] = engine.workflow(name="sleepcycle.nightly")(nightly)


class Worker:
    """Runs nights from the queue in this process until :meth:`stop` (or a signal)."""

    def __init__(
        self,
        home: Path,
        store_url: str,
        config: Config,
        system_url: str,
        *,
        concurrency: int | None = None,
        say: Callable[[str], None] = print,
    ):
        self.home = home
        self.store_url = store_url
        self.config = config
        self.system_url = system_url
        self.concurrency = concurrency or config.fleet.concurrency
        self.say = say
        self.id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._stop = threading.Event()

    def stop(self, *_: object) -> None:
        self._stop.set()

    def run(self) -> None:
        """Launch DBOS, hold the lease, recover dead workers' nights; return when stopped."""
        module = dbos()
        settings = self.config.fleet
        embedder = embedder_for(self.config.embedding.model).build(
            self.config.embedding, self.config.embedding.model, self.home / "cache"
        )
        _RUNTIME["now"] = _Runtime(self.home, self.store_url, self.config, embedder)
        store = Store.open(self.store_url)
        lease = LEASE + self.id
        with store.write() as tx:
            tx.locks.take(lease, self.id, os.getpid(), socket.gethostname())
        _register()
        from .. import __version__  # noqa: PLC0415

        module.DBOS(
            config={
                "name": APP,
                "system_database_url": self.system_url,
                "executor_id": self.id,
                "application_version": f"sleepcycle-{__version__}",
                "log_level": "WARNING",
            }
        )
        try:
            module.DBOS.launch()
            register_queue(module.DBOS, settings, self.concurrency)
            if settings.schedule:
                module.DBOS.apply_schedules(
                    [
                        {
                            "schedule_name": SCHEDULE,
                            "workflow_fn": _REGISTERED["nightly"],
                            "schedule": settings.schedule,
                        }
                    ]
                )
            self.say(
                f"worker {self.id}: {self.concurrency} at once here, "
                f"{settings.model_concurrency} across workers; queue {QUEUE}"
                + (f", schedule {settings.schedule!r}" if settings.schedule else "")
            )
            stale = timedelta(seconds=settings.recover_after)
            while not self._stop.wait(BEAT_S):
                with store.write() as tx:
                    tx.locks.heartbeat(lease, self.id)
                self._recover(module, store, stale)
        finally:
            self._shut(store, lease)

    def _recover(self, module: Any, store: Store, stale: timedelta) -> None:
        """Put the pending nights of dead workers back on the queue."""
        pending = module.DBOS.list_workflows(
            name=WORKFLOW, status="PENDING", load_input=False, load_output=False
        )
        dead = set()
        for executor in {w.executor_id for w in pending if w.executor_id != self.id}:
            row = store.locks.get(LEASE + str(executor))
            if row is None or gone(row, stale):
                dead.add(str(executor))
        if dead:
            handles = module.DBOS._recover_pending_workflows(sorted(dead))
            if handles:
                self.say(
                    f"recovered {len(handles)} nights of {len(dead)} stopped worker(s): "
                    + ", ".join(sorted(dead))
                )
            for executor in dead:  # its lease, if any, is of a process that is gone
                row = store.locks.get(LEASE + executor)
                if row is not None:
                    with store.write() as tx:
                        tx.locks.release(LEASE + executor, row.holder)

    def _shut(self, store: Store, lease: str) -> None:
        rt = _runtime()
        rt.stopping.set()  # sleeps stop at their next safe point
        deadline = time.monotonic() + 60
        while rt.running and time.monotonic() < deadline:
            time.sleep(0.1)
        with store.write() as tx:
            tx.locks.release(lease, self.id)
        store.close()
        self.say(f"worker {self.id}: stopped; unfinished nights go to the other workers")


def serve(worker: Worker) -> None:
    """Run ``worker`` with SIGTERM and SIGINT stopping it."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        worker.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    worker.run()
    sys.stdout.flush()
    sys.stderr.flush()
    # Nights parked for recovery never return, and DBOS's threads would wait for them: leave
    # without joining them (everything is in the store and the queue already).
    os._exit(0)
