"""Recording what happens while awake: episodes and thoughts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import changes
from ..errors import InputError
from ..ingest import Batch, EpisodeDraft, Format, IngestReport, ThoughtDraft, build, read_drafts
from ..ingest.messages import LineError, parse_message
from ..records import (
    Episode,
    Role,
    Thought,
    ThoughtKind,
    ThoughtStatus,
)
from ..store import EpisodeFilter
from ..times import now, parse_time_or_none
from .base import MindBase, TimeLike

__all__ = ["Awake"]


class Awake(MindBase):
    def record(
        self,
        role: Role | str,
        content: str,
        *,
        session: str = "default",
        time: TimeLike = None,
        name: str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> Episode:
        """Record one chat turn, event or thinking message. Fast: no embedding here."""
        message: dict[str, Any] = {"role": str(role), "content": content, "session": session}
        if time is not None:
            message["time"] = time
        if name is not None:
            message["name"] = name
        if meta:
            message["meta"] = dict(meta)
        try:
            drafts = parse_message(message, session, "api")
        except LineError as exc:
            raise InputError(str(exc)) from None
        batch = build(self.agent, drafts, now())
        self._store_batch(batch)
        return batch.episodes[-1]

    def ingest_messages(
        self, messages: Iterable[Mapping[str, Any]], *, session: str = "default"
    ) -> IngestReport:
        """Record OpenAI-style messages (and events and thoughts) in one transaction."""
        drafts: list[EpisodeDraft | ThoughtDraft] = []
        for number, message in enumerate(messages, start=1):
            try:
                drafts.extend(parse_message(dict(message), session, f"api#{number}"))
            except LineError as exc:
                raise InputError(f"message {number}: {exc}; nothing was recorded") from None
        return self._store_batch(build(self.agent, drafts, now()), "api")

    def ingest(
        self,
        path: Path | str,
        *,
        format: Format | str = Format.AUTO,
        session: str | None = None,
        speakers: Mapping[str, Role] | None = None,
    ) -> IngestReport:
        """Read a JSONL / JSON / transcript file; idempotent; all or nothing."""
        drafts = read_drafts(Path(path), fmt=Format(format), session=session, speakers=speakers)
        return self._store_batch(build(self.agent, drafts, now()), str(path))

    def _store_batch(self, batch: Batch, source: str = "api") -> IngestReport:
        with self.store.write() as tx:
            tx.ensure_agent(self.agent)
            episodes = tx.episodes.add(batch.episodes)
            thoughts = tx.thoughts.add(batch.thoughts)
        times = [e.time for e in batch.episodes]
        return IngestReport(
            source=source,
            episodes_added=len(episodes),
            episodes_present=len(batch.episodes) - len(episodes),
            thoughts_added=len(thoughts),
            thoughts_present=len(batch.thoughts) - len(thoughts),
            sessions=tuple(dict.fromkeys(e.session for e in batch.episodes)),
            first=min(times, default=None),
            last=max(times, default=None),
        )

    def think(
        self,
        text: str,
        *,
        kind: ThoughtKind | str = ThoughtKind.PARKED,
        sources: Sequence[str] = (),
        time: TimeLike = None,
        meta: Mapping[str, Any] | None = None,
    ) -> Thought:
        """Keep a background thought: parked for later, dismissed, or internal."""
        cited = tuple(self.store.episodes.resolve(self.agent, s) for s in sources)
        draft = ThoughtDraft(
            kind=ThoughtKind(kind),
            text=changes.clean_text(text, "thought"),
            time=parse_time_or_none(time),
            sources=cited,
            meta=dict(meta or {}),
            source="api",
        )
        batch = build(self.agent, [draft], now())
        self._store_batch(batch)
        return batch.thoughts[0]

    def episode(self, episode_id: str) -> Episode:
        return self.store.episodes.get(
            self.agent, self.store.episodes.resolve(self.agent, episode_id)
        )

    def episodes(
        self,
        *,
        roles: Sequence[Role] = (),
        sessions: Sequence[str] = (),
        since: TimeLike = None,
        until: TimeLike = None,
        unconsolidated: bool = False,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Episode]:
        where = EpisodeFilter(
            tuple(roles), tuple(sessions), parse_time_or_none(since), parse_time_or_none(until)
        )
        return self.store.episodes.find(
            self.agent,
            where,
            unconsolidated=unconsolidated,
            limit=limit,
            newest_first=newest_first,
        )

    def thought(self, thought_id: str) -> Thought:
        return self.store.thoughts.get(
            self.agent, self.store.thoughts.resolve(self.agent, thought_id)
        )

    def thoughts(
        self,
        *,
        statuses: Sequence[ThoughtStatus] = (),
        kinds: Sequence[ThoughtKind] = (),
        limit: int | None = None,
    ) -> list[Thought]:
        return self.store.thoughts.find(self.agent, statuses=statuses, kinds=kinds, limit=limit)
