"""Swapping models at sleep and wake: the day's models make room for the night's.

Falling asleep, the foreground's model is unloaded or put to sleep (``models.NAME.at_sleep``)
unless the night or the sub model also runs on it, and the dreamer's, verifier's and
reshaper's are loaded; the sub model keeps serving. Before REM the foreground comes back, since
the persona stage speaks as it. Waking, the night's own models are unloaded, the day's loaded,
and the foreground answers a one-token warm-up. A ``residency.budget_mb`` makes loading unload
lower-priority models first, and refuses with a clear error if the budget still cannot be met.
Every swap is timed and journaled at once (stage "swap"), so even a sleep that fails shows
them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import ModelError
from ..models import ChatRequest, call_record
from ..records import JournalEntry
from ..residency import EmbeddedResidency, State
from ..times import now
from .context import SleepContext

__all__ = ["DAY", "NIGHT", "Swapper"]

DAY = ("foreground",)
NIGHT = ("dreamer", "verifier", "reshaper")
SUB = ("sub",)


@dataclass
class Swapper:
    ctx: SleepContext
    swapped: bool = False  # whether anything was swapped, so waking has something to undo

    def _names(self, roles: tuple[str, ...]) -> set[str]:
        return self.ctx.models.model_names(*roles)

    def _memory(self, name: str) -> int:
        settings = self.ctx.models.settings(name)
        return settings.memory_mb if settings else 0

    def _priority(self, name: str) -> int:
        settings = self.ctx.models.settings(name)
        return settings.priority if settings else 0

    def _journal(self, text: str, **refs: object) -> None:
        entry = JournalEntry(self.ctx.sleep_id, "swap", "swap", text, now(), refs)
        with self.ctx.store.write() as tx:
            tx.journal.add(self.ctx.agent, [entry])

    def _timed(self, name: str, verb: str, action: Callable[[], None]) -> None:
        residency = self.ctx.models.residency(name)
        started = time.perf_counter()
        try:
            action()
        except ModelError as exc:
            ms = (time.perf_counter() - started) * 1000
            self._journal(f"{verb} {name} failed after {ms:.0f} ms: {exc}", model=name, ok=False)
            raise
        ms = (time.perf_counter() - started) * 1000
        freed = ""
        if isinstance(residency, EmbeddedResidency) and residency.last_change_mb is not None:
            freed = f", {residency.last_change_mb:+.0f} MiB resident"
        self._journal(
            f"{verb} {name} ({residency.kind}) in {ms:.0f} ms{freed}",
            model=name,
            action=verb,
            ms=round(ms),
            ok=True,
        )

    def _loaded(self, name: str) -> bool:
        return self.ctx.models.residency(name).status().state is State.LOADED

    def release(self, name: str, how: str) -> None:
        """Unload a model, or put it to sleep; nothing if it is not loaded."""
        residency = self.ctx.models.residency(name)
        if how == "keep" or residency.kind == "always" or not self._loaded(name):
            return
        if how == "sleep":
            self._timed(name, "slept", residency.sleep)
        else:
            self._timed(name, "unloaded", residency.unload)

    def ensure(self, name: str, keep: set[str]) -> None:
        """Load (or wake) a model, first freeing room under the budget from outside ``keep``."""
        residency = self.ctx.models.residency(name)
        state = residency.status().state
        if state is State.LOADED or residency.kind == "always":
            return
        budget = self.ctx.host.config.residency.budget_mb
        if budget:
            self._make_room(name, keep | {name}, budget)
        verb = "woke" if state is State.SLEEPING else "loaded"
        self._timed(name, verb, residency.wake if state is State.SLEEPING else residency.load)

    def _make_room(self, name: str, keep: set[str], budget: int) -> None:
        known = set(self.ctx.host.config.models) | self._names(DAY)  # with its adapter
        others = [m for m in sorted(known) if m != name and self._loaded(m)]
        used = sum(self._memory(m) for m in others)
        need = self._memory(name)
        for victim in sorted((m for m in others if m not in keep), key=self._priority):
            if used + need <= budget:
                break
            self.release(victim, "unload")
            used -= self._memory(victim)
        if used + need > budget:
            holders = ", ".join(m for m in others if m in keep) or "nothing"
            raise ModelError(
                f"cannot load {name} ({need} MB) within residency.budget_mb = {budget}: {used} MB "
                f"stay loaded ({holders}); raise the budget or lower models.<name>.memory_mb"
            )

    # the night ----------------------------------------------------------------------------

    def fall_asleep(self) -> None:
        self.swapped = True
        night, sub = self._names(NIGHT), self._names(SUB)
        for name in sorted(self._names(DAY) - night - sub):
            settings = self.ctx.models.settings(name)
            self.release(name, settings.at_sleep if settings else "keep")
        for name in sorted(night):
            self.ensure(name, keep=night | sub)

    def before_rem(self) -> None:
        """The persona stage speaks as the foreground: bring it back, night models may go."""
        self.swapped = True
        day, sub = self._names(DAY), self._names(SUB)
        for name in sorted(day):
            self.ensure(name, keep=day | sub)

    def wake_up(self) -> None:
        day, sub = self._names(DAY), self._names(SUB)
        for name in sorted(self._names(NIGHT) - day - sub):
            self.release(name, "unload")
        for name in sorted(day):
            self.ensure(name, keep=day | sub)
        if self.ctx.host.config.residency.warm_up:
            self._warm_up()

    def _warm_up(self) -> None:
        role = self.ctx.models.role("foreground")
        request = ChatRequest([{"role": "user", "content": "Hello"}], max_tokens=1)
        started = time.perf_counter()
        reply = role.backend.complete(request)
        ms = (time.perf_counter() - started) * 1000
        with self.ctx.store.write() as tx:
            tx.calls.add(
                call_record(
                    request,
                    reply,
                    role="foreground",
                    sleep_id=self.ctx.sleep_id,
                    stage="wake",
                    key=f"wake:warm-up:{time.time_ns()}",
                )
            )
        self._journal(f"warmed up the foreground ({reply.model}) in {ms:.0f} ms", ms=round(ms))
