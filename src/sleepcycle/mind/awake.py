"""Recording what happens while awake: episodes and thoughts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from .. import changes
from ..errors import InputError
from ..ingest import (
    Batch,
    Draft,
    EpisodeDraft,
    Format,
    IngestReport,
    ThoughtDraft,
    build,
    read_drafts,
)
from ..ingest.messages import LineError, parse_message
from ..limits import check_text, check_value
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
        """Record one chat turn, event or thinking message: a new episode every call, even
        one that repeats an earlier turn word for word (histories re-sent whole belong in
        ``ingest_messages``, which adds only what is new). Fast: no embedding here."""
        message: dict[str, Any] = {"role": str(role), "content": content, "session": session}
        if time is not None:
            try:
                message["time"] = parse_time_or_none(time)
            except ValueError as exc:
                raise InputError(f"time: {exc}") from None
        if name is not None:
            message["name"] = name
        if meta:
            message["meta"] = dict(meta)
        check_value(message, "the turn", max_depth=self.config.limits.meta_depth)
        try:
            drafts = parse_message(message, session, "api")
        except LineError as exc:
            raise InputError(str(exc)) from None
        drafts = self._within_limits(drafts)
        batch = build(self.agent, drafts, now(), unique=True)
        self._store_batch(batch)
        return batch.episodes[-1]

    def ingest_messages(
        self,
        messages: Iterable[Mapping[str, Any]],
        *,
        session: str = "default",
        truncate: bool = False,
    ) -> IngestReport:
        """Record OpenAI-style messages (and events and thoughts) in one transaction; a history
        sent again adds only its new messages. ``truncate`` keeps the start of a message over
        ``limits.episode_chars`` (its meta says ``truncated_from``) instead of refusing it."""
        depth = self.config.limits.meta_depth
        drafts: list[EpisodeDraft | ThoughtDraft] = []
        for number, message in enumerate(messages, start=1):
            try:
                check_value(message, "the message", max_depth=depth)
                drafts.extend(parse_message(dict(message), session, f"api#{number}"))
            except (LineError, InputError) as exc:
                raise InputError(f"message {number}: {exc}; nothing was recorded") from None
        drafts = self._within_limits(drafts, truncate=truncate)
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
        limits = self.config.limits
        drafts = read_drafts(
            Path(path),
            fmt=Format(format),
            session=session,
            speakers=speakers,
            max_bytes=limits.file_bytes,
            max_depth=limits.meta_depth,
        )
        drafts = self._within_limits(drafts)
        return self._store_batch(build(self.agent, drafts, now()), str(path))

    def _within_limits(self, drafts: Sequence[Draft], *, truncate: bool = False) -> list[Draft]:
        """The drafts, checked against ``[limits]``; the first one over a limit is refused
        (or, with ``truncate``, an episode's text is cut to the limit), naming its source."""
        limits = self.config.limits
        out: list[Draft] = []
        for draft in drafts:
            where = f"{draft.source}: " if draft.source and draft.source != "api" else ""
            try:
                check_value(
                    dict(draft.meta),
                    "meta",
                    max_depth=limits.meta_depth,
                    max_bytes=limits.meta_bytes,
                )
                if isinstance(draft, ThoughtDraft):
                    changes.clean_text(draft.text, "thought")
                elif truncate and len(draft.content) > limits.episode_chars:
                    check_text(draft.content, "the content")
                    meta = {**draft.meta, "truncated_from": len(draft.content)}
                    kept: Draft = replace(
                        draft, content=draft.content[: limits.episode_chars], meta=meta
                    )
                    out.append(kept)
                    continue
                else:
                    check_text(
                        draft.content, "the content", limits.episode_chars, "limits.episode_chars"
                    )
            except InputError as exc:
                raise InputError(f"{where}{exc}; nothing was recorded") from None
            out.append(draft)
        return out

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
        limits = self.config.limits
        check_value(
            dict(meta or {}), "meta", max_depth=limits.meta_depth, max_bytes=limits.meta_bytes
        )
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
