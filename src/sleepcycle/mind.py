"""``Mind``: one agent's memory, the main entry point of the Python API.

    import sleepcycle

    with sleepcycle.open(agent="maya") as mind:
        mind.record("user", "I moved to Lisbon last week.")
        mind.think("Ask how the new job is going", kind="parked")
        mind.add("Maya lives in Lisbon.", kind="fact")
        for hit in mind.recall("where does Maya live?").hits:
            print(hit.score, hit.text)

Writes go through the store's single writer, one transaction per call. Recording a turn never
waits on the embedding model: vectors are computed in batches by ``embed_pending`` (which
``recall`` calls for a small backlog, and the CLI's ``ingest`` calls after writing).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from . import changes
from .changes import UNSET, Unset
from .config import DATABASE_FILE, Config, load_config, resolve_agent, resolve_home
from .embed import Embedder, MiniLMEmbedder
from .errors import InputError
from .ingest import Batch, EpisodeDraft, Format, IngestReport, ThoughtDraft, build, read_drafts
from .ingest.messages import LineError, parse_message
from .memfiles import FileFormat, ImportReport, export_memories, import_memories, read_memory_files
from .models import Backend, Models
from .recall import Mode, Recall, Scope, recall
from .records import (
    Author,
    Episode,
    ItemType,
    JournalEntry,
    Memory,
    MemoryChange,
    MemoryKind,
    MemoryStatus,
    MemoryVersion,
    PersonaVersion,
    Role,
    Sleep,
    Thought,
    ThoughtKind,
    ThoughtStatus,
)
from .sleep import Diff, RollbackReport, SleepReport, diff, rollback, run_sleep, wake
from .store import EpisodeFilter, MemoryFilter, Store
from .times import now, parse_time_or_none

__all__ = ["Mind", "open"]

Progress = Callable[[int, int], None]
TimeLike = datetime | str | int | float | None


def open(
    home: Path | str | None = None,
    agent: str | None = None,
    *,
    embedder: Embedder | None = None,
    config: Config | None = None,
    backends: Mapping[str, Backend] | None = None,
) -> Mind:
    """Open (creating if needed) the store under ``home`` for ``agent``.

    ``backends`` puts a backend in place of a role's configured model (``{"dreamer": ...}``),
    for example the library's fakes in tests."""
    root = resolve_home(home)
    settings = config or load_config(root)
    store = Store.open(
        root / DATABASE_FILE,
        exact_limit=settings.recall.exact_limit,
        rerank=settings.recall.rerank,
    )
    model = embedder or MiniLMEmbedder(
        root / "cache",
        threads=settings.embedding.threads,
        batch_size=settings.embedding.batch_size,
    )
    models = Models(settings, root, backends=backends)
    return Mind(store, resolve_agent(agent), settings, root, model, models)


class Mind:
    """One agent's episodes, thoughts, memories, persona and sleeps."""

    def __init__(
        self,
        store: Store,
        agent: str,
        config: Config,
        home: Path,
        embedder: Embedder,
        models: Models | None = None,
    ):
        self.store = store
        self.agent = agent
        self.config = config
        self.home = home
        self.embedder = embedder
        self.models = models or Models(config, home)
        self.author = Author.user(config.user)
        if store.setting("embedding_model") != embedder.model_id:
            with store.write() as tx:
                tx.embeddings.requeue_for(embedder.model_id)
                tx.set_setting("embedding_model", embedder.model_id)

    def __enter__(self) -> Mind:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.models.close()
        self.store.close()

    def for_agent(self, agent: str) -> Mind:
        """The same store and models, scoped to another agent."""
        return Mind(
            self.store, resolve_agent(agent), self.config, self.home, self.embedder, self.models
        )

    # awake: episodes and thoughts ---------------------------------------------------------

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

    # memories ------------------------------------------------------------------------------

    def _apply(self, change: MemoryChange) -> Memory:
        with self.store.write() as tx:
            tx.ensure_agent(self.agent)
            return tx.memories.apply(self.agent, [change])[0]

    def _resolve_episodes(self, ids: Sequence[str]) -> tuple[str, ...]:
        return tuple(self.store.episodes.resolve(self.agent, i) for i in ids)

    def memory(self, memory_id: str) -> Memory:
        """One memory, by id or unique id prefix."""
        return self.store.memories.get(
            self.agent, self.store.memories.resolve(self.agent, memory_id)
        )

    def memories(
        self,
        *,
        kinds: Sequence[MemoryKind] = (),
        statuses: Sequence[MemoryStatus] = (MemoryStatus.ACTIVE,),
        since: TimeLike = None,
        until: TimeLike = None,
        limit: int | None = None,
    ) -> list[Memory]:
        where = MemoryFilter(
            tuple(kinds), tuple(statuses), parse_time_or_none(since), parse_time_or_none(until)
        )
        return self.store.memories.find(self.agent, where, limit=limit)

    def history(self, memory_id: str) -> list[MemoryVersion]:
        """Every version of a memory, oldest first, with author, reason and verdict."""
        return self.store.memories.versions(self.agent, self.memory(memory_id).id)

    def linked_from(self, memory_id: str) -> list[tuple[str, str]]:
        return self.store.memories.linked_from(self.agent, self.memory(memory_id).id)

    def add(
        self,
        text: str,
        *,
        kind: MemoryKind | str = MemoryKind.FACT,
        tags: Iterable[str] = (),
        sources: Sequence[str] = (),
        valid_from: TimeLike = None,
        valid_to: TimeLike = None,
        reason: str | None = None,
        author: Author | None = None,
    ) -> Memory:
        """Add a memory (not yet dreamt upon: ``deep`` is false until a sleep passes it)."""
        change = changes.add(
            text,
            author=author or self.author,
            kind=MemoryKind(kind),
            tags=tags,
            sources=self._resolve_episodes(sources),
            valid_from=parse_time_or_none(valid_from),
            valid_to=parse_time_or_none(valid_to),
            reason=reason,
        )
        return self._apply(change)

    def edit(
        self,
        memory_id: str,
        *,
        text: str | None = None,
        kind: MemoryKind | str | None = None,
        tags: Iterable[str] | None = None,
        valid_from: TimeLike | Unset = UNSET,
        valid_to: TimeLike | Unset = UNSET,
        reason: str | None = None,
        author: Author | None = None,
    ) -> Memory:
        """Rewrite a memory's text, kind, tags or validity (``None`` clears a time)."""
        change = changes.edit(
            self.memory(memory_id),
            author=author or self.author,
            text=text,
            kind=MemoryKind(kind) if kind is not None else None,
            tags=tags,
            valid_from=valid_from
            if isinstance(valid_from, Unset)
            else parse_time_or_none(valid_from),
            valid_to=valid_to if isinstance(valid_to, Unset) else parse_time_or_none(valid_to),
            reason=reason,
        )
        return self._apply(change)

    def amend(
        self,
        memory_id: str,
        addition: str,
        *,
        sources: Sequence[str] = (),
        reason: str | None = None,
        author: Author | None = None,
    ) -> Memory:
        """Add to a memory's text (and evidence) without rewriting it."""
        change = changes.amend(
            self.memory(memory_id),
            addition,
            author=author or self.author,
            sources=self._resolve_episodes(sources),
            reason=reason,
        )
        return self._apply(change)

    def retract(
        self, memory_id: str, *, reason: str | None = None, author: Author | None = None
    ) -> Memory:
        """Withdraw a memory: a tombstone; its text and history stay."""
        change = changes.retract(
            self.memory(memory_id), author=author or self.author, reason=reason
        )
        return self._apply(change)

    def restore(
        self,
        memory_id: str,
        *,
        version: int | None = None,
        reason: str | None = None,
        author: Author | None = None,
    ) -> Memory:
        """Bring back an earlier state (default: the one before the last change)."""
        memory = self.memory(memory_id)
        history = self.store.memories.versions(self.agent, memory.id)
        change = changes.restore(
            memory, history, author=author or self.author, version=version, reason=reason
        )
        return self._apply(change)

    def link(
        self,
        memory_id: str,
        other_id: str,
        *,
        relation: str = "related",
        reason: str | None = None,
        author: Author | None = None,
    ) -> Memory:
        """Associate two memories; the link is kept on the first."""
        change = changes.link(
            self.memory(memory_id),
            self.memory(other_id),
            author=author or self.author,
            relation=relation,
            reason=reason,
        )
        return self._apply(change)

    def unlink(
        self,
        memory_id: str,
        other_id: str,
        *,
        reason: str | None = None,
        author: Author | None = None,
    ) -> Memory:
        memory = self.memory(memory_id)
        other = self.memory(other_id).id
        return self._apply(
            changes.unlink(memory, other, author=author or self.author, reason=reason)
        )

    # recall --------------------------------------------------------------------------------

    def recall(
        self,
        query: str,
        *,
        k: int | None = None,
        scope: Scope | str = Scope.MEMORIES,
        kinds: Sequence[MemoryKind] = (),
        statuses: Sequence[MemoryStatus] = (MemoryStatus.ACTIVE,),
        roles: Sequence[Role] = (),
        sessions: Sequence[str] = (),
        since: TimeLike = None,
        until: TimeLike = None,
        mode: Mode | str = Mode.HYBRID,
    ) -> Recall:
        """The best memories and/or episodes for ``query``: BM25 and vectors, fused."""
        scope, mode = Scope(scope), Mode(mode)
        lower, upper = parse_time_or_none(since), parse_time_or_none(until)
        unembedded = 0
        if mode is not Mode.BM25:
            unembedded = self._embed_small_backlog(scope.item_types())
        settings = self.config.recall
        return recall(
            self.store,
            self.embedder,
            self.agent,
            query,
            scope=scope,
            memory_filter=MemoryFilter(tuple(kinds), tuple(statuses), lower, upper),
            episode_filter=EpisodeFilter(tuple(roles), tuple(sessions), lower, upper),
            mode=mode,
            k=k or settings.k,
            candidates=settings.candidates,
            text_weight=settings.text_weight,
            unembedded=unembedded,
        )

    def _embed_small_backlog(self, item_types: Sequence[ItemType]) -> int:
        backlog = sum(self.store.embeddings.count_pending(self.agent, t) for t in item_types)
        if 0 < backlog <= self.config.recall.embed_on_query:
            self.embed_pending(item_types=item_types)
            return 0
        return backlog

    def pending_embeddings(self) -> int:
        """Memories and episodes waiting for a vector."""
        return sum(self.store.embeddings.count_pending(self.agent, t) for t in ItemType)

    def embed_pending(
        self,
        *,
        item_types: Sequence[ItemType] = tuple(ItemType),
        progress: Progress | None = None,
        chunk: int = 256,
    ) -> int:
        """Compute vectors for everything queued; returns how many were embedded."""
        total = sum(self.store.embeddings.count_pending(self.agent, t) for t in item_types)
        done = 0
        for item_type in item_types:
            while True:
                pending = self.store.embeddings.pending(self.agent, item_type, chunk)
                if not pending:
                    break
                vectors = self.embedder.embed([text for _, text, _ in pending])
                rows = [
                    (seq, digest, vectors[i].tobytes())
                    for i, (seq, _, digest) in enumerate(pending)
                ]
                with self.store.write() as tx:
                    tx.embeddings.put(self.agent, item_type, self.embedder.model_id, rows)
                done += len(rows)
                if progress is not None:
                    progress(done, max(total, done))
        return done

    # memory files --------------------------------------------------------------------------

    def export(
        self,
        directory: Path | str,
        *,
        format: FileFormat | str = FileFormat.YAML,
        statuses: Sequence[MemoryStatus] = tuple(MemoryStatus),
    ) -> list[Path]:
        """Write one file per memory (all statuses by default) into ``directory``."""
        memories = self.store.memories.find(self.agent, MemoryFilter(statuses=tuple(statuses)))
        return export_memories(memories, Path(directory), FileFormat(format))

    def import_files(
        self, directory: Path | str, *, force: bool = False, dry_run: bool = False
    ) -> ImportReport:
        """Apply memory files (hand-edited or exported elsewhere); all or nothing."""
        files = read_memory_files(Path(directory))
        return import_memories(
            self.store, self.agent, files, author=self.author, force=force, dry_run=dry_run
        )

    # persona -------------------------------------------------------------------------------

    def persona(self) -> PersonaVersion | None:
        """The current persona document, or None before one is set."""
        return self.store.persona.current(self.agent)

    def persona_history(self) -> list[PersonaVersion]:
        return self.store.persona.versions(self.agent)

    def set_persona(
        self,
        text: str,
        *,
        pinned: Sequence[str] | None = None,
        reason: str | None = None,
        author: Author | None = None,
    ) -> PersonaVersion:
        """Write a new persona version. ``pinned`` lines must stay in every later version
        (default: the lines pinned now)."""
        body = changes.clean_text(text, "persona")
        current = self.persona()
        keep = tuple(pinned) if pinned is not None else (current.pinned if current else ())
        missing = [line for line in keep if line.strip() not in body.splitlines()]
        if missing:
            raise InputError(
                f"pinned line {missing[0]!r} is not in the new persona; keep it or unpin it"
            )
        if current is not None and current.text == body and current.pinned == keep:
            raise InputError("the persona already says that; nothing to change")
        with self.store.write() as tx:
            tx.ensure_agent(self.agent)
            return tx.persona.add(
                self.agent,
                body,
                pinned=[p.strip() for p in keep],
                author=author or self.author,
                reason=reason,
            )

    # sleep ---------------------------------------------------------------------------------

    def sleep(
        self,
        *,
        dry_run: bool = False,
        fresh: bool = False,
        trigger: str = "manual",
        progress: Callable[[str, str], None] | None = None,
    ) -> SleepReport:
        """Sleep once: consolidate what happened since the last sleep (see ``sleep.pipeline``).

        Resumes this agent's unfinished sleep, if any, unless ``fresh``. A dry run does all
        but commit; its journal says what would change."""
        return run_sleep(
            self, self.models, dry_run=dry_run, fresh=fresh, trigger=trigger, progress=progress
        )

    def wake(self) -> str | None:
        """Ask a running sleep (in any process) to stop at its next stage boundary."""
        return wake(self)

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
        return sleep, self.store.sleeps.journal(sleep.id)

    def diff(self, sleep_id: str | None = None) -> Diff:
        """What a sleep (the latest by default) added, changed, retracted and superseded."""
        return diff(self, self.get_sleep(sleep_id).id)

    def rollback(self, sleep_id: str, *, force: bool = False) -> RollbackReport:
        """Undo a sleep: restore what it changed (as new versions), reopen its episodes."""
        return rollback(self, sleep_id, force=force)

    # overview ------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Counts for this agent: episodes, thoughts, memories, pending vectors."""
        first, last = self.store.episodes.time_range(self.agent)
        persona = self.persona()
        return {
            "agent": self.agent,
            "home": str(self.home),
            "episodes": self.store.episodes.count(self.agent),
            "unconsolidated": self.store.episodes.count(self.agent, unconsolidated=True),
            "first_episode": first.isoformat() if first else None,
            "last_episode": last.isoformat() if last else None,
            "thoughts_open": self.store.thoughts.count(self.agent, status=ThoughtStatus.OPEN),
            "memories": self.store.memories.counts(self.agent),
            "pending_embeddings": self.pending_embeddings(),
            "persona_version": persona.version if persona else None,
        }
