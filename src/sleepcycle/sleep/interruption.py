"""What stopped a sleep before its end, told to whoever resumes it and kept in its journal.

A sleep stops early in one of three ways. A wake request or SIGTERM stops it at a safe point
(status ``interrupted``, journaled then). An exception ends it as failed. Or its process dies:
killed (``kill -9``, out of memory, power loss) or crashed in native code (a model engine's
SIGSEGV). Only the last leaves the sleep ``running`` with a lock whose process is gone, and
nothing of it in the journal. So while a sleep runs, Python's ``faulthandler`` writes the
traceback of a fatal signal to ``crashes/<sleep>-<pid>.log`` under the home (unless the
program enabled faulthandler itself), and the run that resumes the sleep can tell a crash from
a kill and say where it happened.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .. import lock
from ..records import Sleep, SleepStatus
from ..store import LockRow, Store

__all__ = ["CRASHES", "Interruption", "crash_log", "find", "interruption"]

CRASHES = "crashes"
_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+) in (?P<func>\S+)')


def _log_path(home: Path, sleep_id: str, pid: int) -> Path:
    return home / CRASHES / f"{sleep_id}-{pid}.log"


@contextlib.contextmanager
def crash_log(home: Path, sleep_id: str) -> Iterator[None]:
    """While inside, a fatal signal (SIGSEGV, SIGABRT, ...) writes the Python traceback of every
    thread to this run's crash log; the log is removed when the block ends normally."""
    if faulthandler.is_enabled():  # the program chose where tracebacks go
        yield
        return
    path = _log_path(home, sleep_id, os.getpid())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        log = path.open("w", encoding="utf-8")
    except OSError:  # a read-only home: the sleep runs without a crash log
        yield
        return
    try:
        faulthandler.enable(log, all_threads=True)
        yield
    finally:
        faulthandler.disable()
        log.close()
        with contextlib.suppress(OSError):
            if path.stat().st_size == 0:
                path.unlink()


def _crash(log: Path) -> str | None:
    """``Segmentation fault in llama_cpp/_internals.py:decode`` from a faulthandler log."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    if not text.strip():
        return None
    first = text.strip().splitlines()[0]
    what = first.removeprefix("Fatal Python error:").strip() or first
    current = text.split("Current thread", 1)[-1]
    frame = _FRAME.search(current)
    if frame is None:
        return what
    parts = Path(frame["file"]).parts
    where = "/".join(parts[-2:])
    return f"{what} in {where}:{frame['func']}"


@dataclass(frozen=True)
class Interruption:
    """How the last run of an unfinished sleep ended."""

    sleep_id: str
    cause: str  # "woken" (wake request or SIGTERM), "crashed", "ended" (killed or unknown)
    stage: str | None  # the stage that was running, if one was
    after: str | None  # the last stage that had finished
    at: datetime | None  # when that run was last seen
    detail: str | None = None  # the crash, from its log
    crash_log: Path | None = None
    pid: int | None = None
    host: str | None = None
    replayed: int = 0  # model calls of the unfinished stage kept for the resume

    @property
    def where(self) -> str:
        if self.stage:
            return f"during {self.stage}"
        if self.after:
            return f"after {self.after}"
        return "at the start"

    @property
    def summary(self) -> str:
        """One line: what happened, where, and when."""
        when = f" at {self.at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if self.at else ""
        if self.cause == "woken":
            return f"sleep {self.sleep_id} was stopped by a wake request {self.where}{when}"
        process = f"process {self.pid}" + (f" on {self.host}" if self.host else "")
        if self.pid is None:
            process = "its process"
        if self.cause == "crashed":
            log = f" (traceback: {self.crash_log})" if self.crash_log else ""
            return (
                f"sleep {self.sleep_id} crashed {self.where}{when}: {process} died of "
                f"{self.detail}{log}"
            )
        return (
            f"sleep {self.sleep_id} was cut off {self.where}{when}: {process} ended without "
            "finishing (killed, out of memory, or the machine stopped)"
        )

    @property
    def kept(self) -> str:
        """What a resume keeps, in words."""
        stages = f"finished stages up to {self.after}" if self.after else "no finished stage"
        calls = (
            f", {self.replayed} model calls of {self.stage} replayed instead of asked again"
            if self.stage and self.replayed
            else ""
        )
        return f"{stages} kept{calls}; memory was not touched"

    def refs(self) -> dict[str, object]:
        refs: dict[str, object] = {"cause": self.cause, "stage": self.stage}
        if self.pid is not None:
            refs.update(pid=self.pid, host=self.host)
        if self.crash_log is not None:
            refs["crash_log"] = str(self.crash_log)
        return refs


def interruption(
    store: Store, home: Path, sleep: Sleep, stale: LockRow | None = None
) -> Interruption | None:
    """How ``sleep``'s last run ended, if it is unfinished and no live process runs it.
    ``stale`` is the lock its dead process left, when the caller has already taken it over."""
    held = stale if stale is not None else store.locks.get(sleep.agent)
    if held is not None and held.holder != sleep.id:
        held = None
    if sleep.status in (SleepStatus.RUNNING, SleepStatus.STOPPING):
        if held is not None and stale is None and not lock.gone(held):
            return None  # it is running now
        cause = "ended"
    elif sleep.status is SleepStatus.INTERRUPTED:
        cause = "woken"
    else:
        return None
    rows = store.sleeps.stages(sleep.id)
    running = next((r.name for r in rows if r.status == "running"), None)
    finished = [r for r in rows if r.status == "done"]
    seen = [t for r in rows for t in (r.started, r.ended) if t is not None]
    if held is not None and held.heartbeat is not None:
        seen.append(held.heartbeat)
    detail = log = None
    if cause == "ended" and held is not None:
        path = _log_path(home, sleep.id, held.pid)
        detail = _crash(path)
        if detail is not None:
            cause, log = "crashed", path
    return Interruption(
        sleep_id=sleep.id,
        cause=cause,
        stage=running,
        after=finished[-1].name if finished else None,
        at=max(seen) if seen else sleep.started,
        detail=detail,
        crash_log=log,
        pid=held.pid if held is not None and cause != "woken" else None,
        host=held.host if held is not None and cause != "woken" else None,
        replayed=store.calls.count(sleep.id, running) if running else 0,
    )


def find(store: Store, home: Path, agent: str) -> Interruption | None:
    """The agent's unfinished sleep that nothing runs now, and how it stopped, if there is one."""
    sleep = store.sleeps.unfinished(agent)
    return None if sleep is None else interruption(store, home, sleep)
