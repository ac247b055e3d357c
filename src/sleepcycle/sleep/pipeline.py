"""The sleep: gather, crunch, dream, verify (reshape, verify)*, persona, commit, wake.

Each stage is a function with typed input and output; its output is checkpointed in the store
when it finishes, with its journal entries. A sleep that was killed, or stopped by a wake
request, resumes from the last finished stage, and the model calls its unfinished stage had
already made are replayed from the store rather than made again. Only commit writes memory,
in one transaction that also checkpoints it and ends the sleep.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from .. import lock
from ..ids import random_id
from ..models import Models
from ..records import JournalEntry, Outcome, Sleep, SleepStatus
from ..store import LockRow, Tx
from ..times import now
from . import commit, crunch, dream, gather, persona, verify
from .context import SleepContext, Stopped
from .interruption import crash_log, interruption
from .summary import CallTotals, OpCounts, SleepSummary, VerifierCounts
from .swap import Swapper

if TYPE_CHECKING:
    from ..host import Host

__all__ = ["STAGES", "SleepReport", "run_sleep", "wake"]

STAGES = ("gather", "crunch", "dream", "verify", "persona", "commit")
B = TypeVar("B", bound=BaseModel)
Progress = Callable[[str, str], None]  # (stage, "start" | "done" | "resumed" | what happened)


@dataclass(frozen=True)
class SleepReport:
    """How a sleep went: the sleep (outcome, error) and its summary."""

    sleep: Sleep
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def outcome(self) -> Outcome | None:
        return self.sleep.outcome

    @property
    def stats(self) -> SleepSummary:
        """The summary, typed."""
        return SleepSummary.model_validate(self.summary)

    def to_json(self) -> dict[str, Any]:
        return {
            "sleep": self.sleep.id,
            "agent": self.sleep.agent,
            "outcome": self.sleep.outcome.value if self.sleep.outcome else None,
            "status": self.sleep.status.value,
            "dry_run": self.sleep.dry_run,
            "error": self.sleep.error,
            **self.summary,
        }


@contextmanager
def _sigterm_stops(flag: threading.Event) -> Iterator[None]:
    """SIGTERM asks the sleep to stop at the next safe point (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda *_: flag.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Runner:
    """Runs stages with checkpoints and keeps what the summary needs."""

    def __init__(self, ctx: SleepContext, progress: Progress | None):
        self.ctx = ctx
        self.progress = progress or (lambda stage, event: None)
        rows = ctx.store.sleeps.stages(ctx.sleep_id)
        self.done = {r.name: r for r in rows if r.status == "done" and r.checkpoint is not None}
        self.walltime = {name: float(row.stats.get("ms", 0)) for name, row in self.done.items()}
        self.verified: verify.VerifyOutput | None = None
        self.committed: commit.CommitOutput | None = None

    def begin(self, name: str) -> None:
        ctx = self.ctx
        ctx.check_stop()
        ctx.stage = name
        ctx.entries.clear()
        with ctx.store.write() as tx:
            tx.sleeps.stage_start(ctx.sleep_id, name, STAGES.index(name))
        lock.heartbeat(ctx.store, ctx.agent, ctx.sleep_id)
        self.progress(name, "start")

    def stage(self, name: str, output_type: type[B], work: Callable[[], B]) -> B:
        if name in self.done:
            self.progress(name, "resumed")
            return output_type.model_validate_json(self.done[name].checkpoint or "")
        self.begin(name)
        started = time.perf_counter()
        output = work()
        self.walltime[name] = (time.perf_counter() - started) * 1000
        with self.ctx.store.write() as tx:
            self.checkpoint(tx, name, output)
        self.progress(name, "done")
        return output

    def checkpoint(self, tx: Tx, name: str, output: BaseModel) -> None:
        ctx = self.ctx
        tx.sleeps.stage_end(
            ctx.sleep_id,
            name,
            "done",
            checkpoint=output.model_dump_json(),
            stats={"ms": round(self.walltime.get(name, 0.0))},
        )
        tx.journal.add(ctx.agent, ctx.take_entries())

    def summary(self) -> dict[str, Any]:
        ops: dict[str, OpCounts] = {}
        verified = self.verified
        asked: list[verify.Verdict] = []
        if verified is not None:
            accepted, rejected = set(verified.accepted), set(verified.rejected)
            for p in verified.proposals:
                row = ops.setdefault(p.op, OpCounts())
                row.proposed += 1
                row.accepted += p.id in accepted
                row.rejected += p.id in rejected
            asked = [v for v in verified.verdicts if v.score is not None]
        calls = self.ctx.store.calls.totals(self.ctx.sleep_id)
        stage_ms = {k: round(v) for k, v in self.walltime.items()}
        wall = sum(stage_ms.values())
        model_ms = sum(c["ms"] for c in calls.values())
        passed = sum(v.passed for v in asked)
        summary = SleepSummary(
            operations=ops,
            verifier=VerifierCounts(
                asked=len(asked),
                passed=passed,
                pass_rate=round(passed / len(asked), 3) if asked else None,
            ),
            rewrites=verified.rewrites if verified else 0,
            rejections=len(verified.rejected) if verified else 0,
            committed=self.committed,
            tokens={role: CallTotals(**row) for role, row in calls.items()},
            stage_ms=stage_ms,
            wall_ms=wall,
            model_ms=model_ms,
            outside_models_share=round(max(wall - model_ms, 0) / wall, 3) if wall else None,
            interruptions=[
                e.text
                for e in self.ctx.store.journal.entries(self.ctx.sleep_id)
                if e.kind == "interrupted"
            ],
        )
        return summary.model_dump(mode="json")


def _start(
    host: Host, new_id: str, dry_run: bool, trigger: str, fresh: bool, stale: LockRow | None
) -> Sleep:
    """The sleep to run: the agent's unfinished one (resumed) or a new one. Call it holding the
    agent's lock, so no live sleep is resumed or abandoned from under its process."""
    store = host.store
    unfinished = store.sleeps.unfinished(host.agent)
    if unfinished is not None and (fresh or unfinished.dry_run != dry_run):
        gap = interruption(store, host.home, unfinished, stale)
        entries = []
        if gap is not None:
            entries.append(
                JournalEntry(unfinished.id, "resume", "interrupted", gap.summary, now(), gap.refs())
            )
        with store.write() as tx:
            tx.journal.add(host.agent, entries)
            tx.sleeps.finish(
                unfinished.id, SleepStatus.FAILED, Outcome.FAILED, error="abandoned for a new sleep"
            )
        unfinished = None
    if unfinished is not None:
        return unfinished
    sleep = Sleep(
        id=new_id,
        agent=host.agent,
        status=SleepStatus.RUNNING,
        started=now(),
        trigger=trigger,
        dry_run=dry_run,
    )
    with store.write() as tx:
        tx.ensure_agent(host.agent)
        tx.sleeps.create(sleep, host.config.model_dump())
    return sleep


def run_sleep(
    host: Host,
    models: Models,
    *,
    dry_run: bool = False,
    trigger: str = "manual",
    fresh: bool = False,
    progress: Progress | None = None,
    stop_flag: threading.Event | None = None,
) -> SleepReport:
    """Sleep once for ``host``'s agent; resumes an unfinished sleep unless ``fresh``."""
    store = host.store
    holder = random_id("slp")
    stale = lock.acquire(store, host.agent, holder)
    try:
        sleep = _start(host, holder, dry_run, trigger, fresh, stale)
        resumed = sleep.id != holder
        if resumed:  # the lock names the sleep that holds it
            lock.acquire(store, host.agent, sleep.id, replacing=holder)
            holder = sleep.id
        with store.write() as tx:
            tx.sleeps.set_status(sleep.id, SleepStatus.RUNNING)
        ctx = SleepContext(host, models, sleep.id, dry_run, stop_flag or threading.Event())
        runner = _Runner(ctx, progress)
        swapper = Swapper(ctx)
        if resumed:
            _note_resume(ctx, runner, sleep, stale)
        try:
            with _sigterm_stops(ctx.stop_flag), crash_log(host.home, sleep.id):
                outcome = _cycle(ctx, runner, swapper)
        except Stopped:
            ctx.note("summary", f"stopped at {ctx.stage or 'the start'}; sleep again to resume")
            _end(ctx, runner, SleepStatus.INTERRUPTED, Outcome.INTERRUPTED, None)
        except Exception as exc:  # journaled and recorded; the sleep ends as failed
            ctx.note("error", f"{type(exc).__name__}: {exc}")
            with store.write() as tx:
                if ctx.stage in STAGES:
                    tx.sleeps.stage_end(sleep.id, ctx.stage, "failed", error=str(exc))
            _end(ctx, runner, SleepStatus.FAILED, Outcome.FAILED, f"{ctx.stage}: {exc}")
        else:
            if outcome is not None:
                _end(ctx, runner, SleepStatus.DONE, outcome, None)
            if outcome is None and host.config.train.after_sleep:
                _train(ctx, runner)
        finally:
            _wake(ctx, swapper, runner)
    finally:
        lock.release(store, host.agent, holder)
    final = store.sleeps.get(host.agent, sleep.id)
    return SleepReport(final, dict(final.stats))


def _note_resume(ctx: SleepContext, runner: _Runner, sleep: Sleep, stale: LockRow | None) -> None:
    """Say, in the journal and to the caller, how the sleep being resumed had stopped."""
    gap = interruption(ctx.store, ctx.host.home, sleep, stale)
    if gap is None:  # pragma: no cover - a resumed sleep is unfinished and its process gone
        return
    ctx.stage = "resume"
    ctx.note("interrupted", gap.summary, **gap.refs())
    ctx.note("resumed", f"resumed: {gap.kept}")
    with ctx.store.write() as tx:
        tx.journal.add(ctx.agent, ctx.take_entries())
    runner.progress("resume", gap.summary)
    runner.progress("resume", gap.kept)


def _wake(ctx: SleepContext, swapper: Swapper, runner: _Runner) -> None:
    """Swap the day's models back, however the night ended; a failure here is journaled."""
    if not swapper.swapped:
        return
    runner.progress("wake", "start")
    try:
        swapper.wake_up()
    except Exception as exc:  # journaled; the night's outcome stands
        ctx.stage = "swap"
        ctx.note("error", f"waking: {type(exc).__name__}: {exc}")
        with ctx.store.write() as tx:
            tx.journal.add(ctx.agent, ctx.take_entries())
    runner.progress("wake", "done")


def _train(ctx: SleepContext, runner: _Runner) -> None:
    """The optional train stage, after a committed sleep (``train.after_sleep``): memory is
    already committed, so a failure here is journaled and the night's outcome stands. A kept
    adapter is what the foreground loads on waking."""
    ctx.stage = "train"
    runner.progress("train", "start")
    try:
        from ..train.session import train  # noqa: PLC0415 - the train extra

        result = train(
            ctx.host,
            sleep_id=ctx.sleep_id,
            ask=ctx.ask,
            note=ctx.note,
            progress=lambda text: runner.progress("train", text),
            stop=ctx.stop_flag,
        )
    except ImportError as exc:
        ctx.note(
            "error", f"training needs the train extra ({exc}); pip install 'sleepcycle[train]'"
        )
    except Exception as exc:  # journaled; the night's memory is committed
        ctx.note("error", f"training: {type(exc).__name__}: {exc}")
    else:
        version = f" v{result.adapter.version}" if result.adapter else ""
        ctx.note("summary", f"training: adapter{version} {result.outcome}")
    with ctx.store.write() as tx:
        tx.journal.add(ctx.agent, ctx.take_entries())
    models = ctx.host.adapter_models()
    if models is not None:  # the foreground wakes with the adapter just kept
        ctx.models = models
    runner.progress("train", "done")


def _cycle(ctx: SleepContext, runner: _Runner, swapper: Swapper) -> Outcome | None:
    """Run the stages; the outcome to record, or None when commit recorded it itself."""
    gathered = runner.stage("gather", gather.GatherOutput, lambda: gather.run(ctx))
    if gathered.empty:
        ctx.stage = "wake"
        ctx.note("summary", "nothing to consolidate: no new episodes, thoughts or memories")
        return Outcome.NOTHING_TO_DO
    crunched = runner.stage("crunch", crunch.CrunchOutput, lambda: crunch.run(ctx, gathered))
    if "verify" not in runner.done:
        swapper.fall_asleep()
    dreamt = runner.stage(
        "dream", dream.DreamOutput, lambda: dream.run(ctx, gathered.rejections, crunched)
    )
    verified = runner.stage(
        "verify", verify.VerifyOutput, lambda: verify.run(ctx, crunched, dreamt)
    )
    ctx.models.drop_judge()  # the judge's weights are not needed after verify
    runner.verified = verified
    accepted = [p for p in verified.proposals if p.id in set(verified.accepted)]
    if "persona" not in runner.done:
        swapper.before_rem()
    reflected = runner.stage("persona", persona.PersonaOutput, lambda: persona.run(ctx, accepted))

    runner.begin("commit")  # the last point at which a wake leaves memory untouched
    began = time.perf_counter()

    def finish(tx: Tx, output: commit.CommitOutput) -> None:
        runner.committed = output
        runner.walltime["commit"] = (time.perf_counter() - began) * 1000
        runner.checkpoint(tx, "commit", output)
        tx.sleeps.finish(
            ctx.sleep_id,
            SleepStatus.DONE,
            Outcome.DONE,
            stats=runner.summary(),
            watermark=gathered.watermark,
        )

    output = commit.run(ctx, gathered, verified, reflected, finish)
    runner.progress("commit", "done")
    if not ctx.dry_run:
        return None
    runner.committed = output
    runner.walltime["commit"] = (time.perf_counter() - began) * 1000
    with ctx.store.write() as tx:
        runner.checkpoint(tx, "commit", output)
    return Outcome.DONE


def _end(
    ctx: SleepContext,
    runner: _Runner,
    status: SleepStatus,
    outcome: Outcome,
    error: str | None,
) -> None:
    if runner.verified is None and "verify" in runner.done:
        runner.verified = verify.VerifyOutput.model_validate_json(
            runner.done["verify"].checkpoint or ""
        )
    stats = runner.summary()
    with ctx.store.write() as tx:
        tx.journal.add(ctx.agent, ctx.take_entries())
        tx.sleeps.finish(ctx.sleep_id, status, outcome, stats=stats, error=error)


def wake(host: Host) -> str | None:
    """Ask the agent's running sleep to stop at its next stage boundary; its id, or None."""
    with host.store.write() as tx:
        return tx.sleeps.request_stop(host.agent)
