"""Sleeping, waking, and what sleeps did: journal, diff, rollback."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from ..errors import InputError
from ..records import (
    JournalEntry,
    ReviewItem,
    ReviewStatus,
    Sleep,
)
from ..sleep import (
    Diff,
    Interruption,
    RollbackReport,
    SleepReport,
    diff,
    rollback,
    run_sleep,
    wake,
)
from ..sleep.interruption import find as find_interruption
from ..sleep.review import approve, reject
from .base import MindBase

if TYPE_CHECKING:
    from . import Mind

__all__ = ["Nights"]


class Nights(MindBase):
    def _mind(self) -> Mind:
        return cast("Mind", self)

    def sleep(
        self,
        *,
        dry_run: bool = False,
        fresh: bool = False,
        trigger: str = "manual",
        progress: Callable[[str, str], None] | None = None,
        stop_flag: threading.Event | None = None,
    ) -> SleepReport:
        """Sleep once: consolidate what happened since the last sleep (see ``sleep.pipeline``).

        Resumes this agent's unfinished sleep, if any, unless ``fresh``. A dry run does all
        but commit; its journal says what would change. Setting ``stop_flag`` stops the sleep
        at its next safe point, as ``wake`` does from any process. An adapter the night
        trained and kept is served from then on."""
        report = run_sleep(
            self._mind(),
            self.models,
            dry_run=dry_run,
            fresh=fresh,
            trigger=trigger,
            progress=progress,
            stop_flag=stop_flag,
        )
        self._mind().refresh_adapter()
        return report

    def wake(self) -> str | None:
        """Ask a running sleep (in any process) to stop at its next stage boundary."""
        return wake(self._mind())

    def interrupted(self) -> Interruption | None:
        """This agent's unfinished sleep that no process runs now (woken, killed or crashed),
        and how it stopped; the next ``sleep`` resumes it."""
        return find_interruption(self.store, self.home, self.agent)

    def sleeps(self, *, limit: int | None = None) -> list[Sleep]:
        """This agent's sleeps, newest first."""
        return self.store.sleeps.find(self.agent, limit=limit)

    def get_sleep(self, sleep_id: str | None = None) -> Sleep:
        """A sleep by id or prefix; the latest when ``None``."""
        if sleep_id is None:
            latest = self.sleeps(limit=1)
            if not latest:
                raise InputError("this agent has not slept yet; run `sleepcycle sleep`")
            return latest[0]
        return self.store.sleeps.get(self.agent, self.store.sleeps.resolve(self.agent, sleep_id))

    def journal(self, sleep_id: str | None = None) -> tuple[Sleep, list[JournalEntry]]:
        """A sleep (the latest by default) and its dream journal."""
        sleep = self.get_sleep(sleep_id)
        return sleep, self.store.journal.entries(sleep.id)

    def diff(self, sleep_id: str | None = None) -> Diff:
        """What a sleep (the latest by default) added, changed, retracted and superseded."""
        return diff(self._mind(), self.get_sleep(sleep_id).id)

    def review(self, *, status: ReviewStatus | None = ReviewStatus.PENDING) -> list[ReviewItem]:
        """Operations sleeps queued for review (pending ones by default; None for all)."""
        return self.store.review.find(self.agent, status=status)

    def review_item(self, item_id: str) -> ReviewItem:
        return self.store.review.get(self.agent, self.store.review.resolve(self.agent, item_id))

    def approve(
        self,
        item_id: str,
        *,
        reason: str | None = None,
        force: bool = False,
        by: str | None = None,
    ) -> ReviewItem:
        """Apply a queued operation; the new version is authored by the person ``by`` (config
        ``user`` by default)."""
        return approve(self._mind(), item_id, reason=reason, force=force, by=by)

    def reject(
        self, item_id: str, *, reason: str | None = None, by: str | None = None
    ) -> ReviewItem:
        """Decline a queued operation; later sleeps are told it was rejected."""
        return reject(self._mind(), item_id, reason=reason, by=by)

    def rollback(self, sleep_id: str, *, force: bool = False) -> RollbackReport:
        """Undo a sleep: restore what it changed (as new versions), reopen its episodes."""
        return rollback(self._mind(), sleep_id, force=force)
