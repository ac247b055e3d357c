"""Drafts: parsed but not yet identified episodes and thoughts, and how they become records.

Ids come from content (see ``sleepcycle.ids``): agent, session, role, speaker, text, the time
the source gave (or none) and an ordinal that tells apart identical lines in one batch. So
ingesting the same file twice adds nothing, appending lines to a file and ingesting it again
adds only the new lines, and a client that re-sends its whole history (the proxy) adds only
the new turns. A turn recorded on its own (``Mind.record``) is a new event, however much it
repeats an earlier one ("yes", "yes"): ``build(..., unique=True)`` puts a random nonce in
place of the ordinal.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..ids import content_id
from ..records import Episode, Role, Thought, ThoughtKind
from ..times import format_time

__all__ = ["Batch", "EpisodeDraft", "ThoughtDraft", "build"]


@dataclass(frozen=True, slots=True)
class EpisodeDraft:
    role: Role
    content: str
    session: str
    time: datetime | None = None
    name: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    source: str | None = None


@dataclass(frozen=True, slots=True)
class ThoughtDraft:
    kind: ThoughtKind
    text: str
    time: datetime | None = None
    sources: tuple[str, ...] | None = None  # None: the episode just before it, if any
    meta: Mapping[str, Any] = field(default_factory=dict)
    source: str | None = None


Draft = EpisodeDraft | ThoughtDraft


@dataclass(frozen=True, slots=True)
class Batch:
    """Records ready to store, in source order."""

    episodes: tuple[Episode, ...]
    thoughts: tuple[Thought, ...]


def build(
    agent: str, drafts: Sequence[Draft], recorded_at: datetime, *, unique: bool = False
) -> Batch:
    """Give drafts their ids and default times; thoughts cite the episode before them.
    ``unique`` makes every episode a new one, whatever it repeats."""
    seen: Counter[str] = Counter()
    episodes: list[Episode] = []
    thoughts: list[Thought] = []
    last_episode: str | None = None
    for draft in drafts:
        stamp = format_time(draft.time) if draft.time is not None else None
        if isinstance(draft, EpisodeDraft):
            key = content_id(
                "k", agent, draft.session, draft.role.value, draft.name, draft.content, stamp
            )
            ordinal: int | str = secrets.token_hex(8) if unique else seen[key]
            seen[key] += 1
            ep_id = content_id(
                "ep",
                agent,
                draft.session,
                draft.role.value,
                draft.name,
                draft.content,
                stamp,
                ordinal,
            )
            meta = dict(draft.meta)
            episodes.append(
                Episode(
                    id=ep_id,
                    agent=agent,
                    session=draft.session,
                    role=draft.role,
                    content=draft.content,
                    time=draft.time or recorded_at,
                    recorded_at=recorded_at,
                    name=draft.name,
                    meta=meta,
                    source=draft.source,
                )
            )
            last_episode = ep_id
        else:
            key = content_id("k", agent, draft.kind.value, draft.text, stamp)
            thought_ordinal = seen[key]
            seen[key] += 1
            sources = draft.sources
            if sources is None:
                sources = (last_episode,) if last_episode else ()
            thoughts.append(
                Thought(
                    id=content_id(
                        "th", agent, draft.kind.value, draft.text, stamp, thought_ordinal
                    ),
                    agent=agent,
                    kind=draft.kind,
                    text=draft.text,
                    created=draft.time or recorded_at,
                    updated=draft.time or recorded_at,
                    sources=sources,
                    meta=dict(draft.meta),
                )
            )
    return Batch(tuple(episodes), tuple(thoughts))
