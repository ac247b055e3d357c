"""The store contract: what every store implementation provides, whatever it keeps data in.

A store is a set of repositories, one per noun (episodes, thoughts, memories, persona, embeddings,
sleeps, journal, calls, locks, watermarks, review, adapters), each written down here as a
Protocol, plus :class:`Store` itself: read repositories on the store, write repositories on the
:class:`Tx` that :meth:`Store.write` yields (everything inside one ``with`` lands together or not
at all), full-text and vector search, settings and the list of agents.

Implementations register under a URL scheme in the ``sleepcycle.stores`` entry-point group
(``plugins.StoreKind``); :meth:`Store.open` picks one by the URL's scheme. The built-in is
``sqlite`` (``store/sqlite.py``). ``store.conformance`` is the conformance suite an
implementation must pass.

Records (``sleepcycle.records``), filters (``store.filters``) and errors (``NotFoundError`` for a
missing id, ``AmbiguousIdError`` for a prefix that matches several, ``ConflictError`` for a
stale version, ``StoreError`` for a store that cannot be opened or written) are the same for
every implementation.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from ..records import (
    Activation,
    Adapter,
    AdapterStatus,
    Author,
    Episode,
    ItemType,
    JournalEntry,
    Memory,
    MemoryChange,
    MemoryState,
    MemoryVersion,
    ModelCall,
    Op,
    Outcome,
    PersonaVersion,
    ReviewItem,
    ReviewStatus,
    Sleep,
    SleepStatus,
    Thought,
    ThoughtKind,
    ThoughtStatus,
)
from .filters import EpisodeFilter, MemoryFilter
from .locks import LockRow
from .sleeps import StageRow

__all__ = [
    "Adapters",
    "Calls",
    "Embeddings",
    "Episodes",
    "Journal",
    "Locks",
    "Memories",
    "Pending",
    "Persona",
    "Reviews",
    "Sleeps",
    "Store",
    "Thoughts",
    "Tx",
    "Watermarks",
]

P = ParamSpec("P")
T = TypeVar("T")

Pending = tuple[int, str, str]
"""An item waiting for its vector: (item seq, text, text hash)."""


class Episodes(Protocol):
    """Recorded turns and events; append-only, idempotent by id."""

    def add(self, episodes: Sequence[Episode]) -> list[Episode]:
        """Append; an id already stored is skipped. The episodes stored, with their seq."""
        ...

    def mark_consolidated(self, agent: str, ids: Sequence[str], sleep_id: str | None) -> int: ...
    def get(self, agent: str, episode_id: str) -> Episode: ...
    def get_many(self, agent: str, ids: Sequence[str]) -> list[Episode]: ...
    def by_seq(self, seqs: Sequence[int]) -> dict[int, Episode]: ...
    def resolve(self, agent: str, prefix: str) -> str: ...
    def find(
        self,
        agent: str,
        where: EpisodeFilter | None = None,
        *,
        unconsolidated: bool = False,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Episode]: ...
    def around(self, agent: str, episode: Episode, before: int, after: int) -> list[Episode]: ...
    def consolidated_by(self, agent: str, sleep_id: str) -> list[str]: ...
    def seqs(self, ids: Sequence[str]) -> dict[str, int]: ...
    def count(self, agent: str, *, unconsolidated: bool = False) -> int: ...
    def time_range(self, agent: str) -> tuple[datetime | None, datetime | None]: ...


class Thoughts(Protocol):
    """Parked, dismissed and internal thoughts, with their status history."""

    def add(self, thoughts: Sequence[Thought]) -> list[Thought]: ...
    def set_status(
        self,
        agent: str,
        thought_id: str,
        status: ThoughtStatus,
        *,
        sleep_id: str | None = None,
        note: str | None = None,
    ) -> None: ...
    def changed_by(self, agent: str, sleep_id: str) -> list[Thought]: ...
    def created_by(self, agent: str, sleep_id: str) -> list[Thought]: ...
    def get(self, agent: str, thought_id: str) -> Thought: ...
    def resolve(self, agent: str, prefix: str) -> str: ...
    def find(
        self,
        agent: str,
        *,
        statuses: Sequence[ThoughtStatus] = (),
        kinds: Sequence[ThoughtKind] = (),
        limit: int | None = None,
    ) -> list[Thought]: ...
    def count(self, agent: str, *, status: ThoughtStatus | None = None) -> int: ...


class Memories(Protocol):
    """Memories and their append-only version history."""

    def apply(
        self,
        agent: str,
        changes: Sequence[MemoryChange],
        *,
        check_sources: bool = True,
        check: bool = True,
        at: datetime | None = None,
    ) -> list[Memory]:
        """Apply changes in order, each a new version; ``ConflictError`` on a stale version."""
        ...

    def insert_exact(
        self, memory: Memory, *, op: Op, author: Author, reason: str | None, check: bool = True
    ) -> Memory: ...
    def mark_deep(self, agent: str, ids: Sequence[str], deep: bool = True) -> int: ...
    def check_references(
        self, agent: str, memory_id: str, state: MemoryState, check_sources: bool = True
    ) -> None: ...
    def get(self, agent: str, memory_id: str) -> Memory: ...
    def get_many(self, agent: str, ids: Sequence[str]) -> list[Memory]: ...
    def by_seq(self, seqs: Sequence[int]) -> dict[int, Memory]: ...
    def resolve(self, agent: str, prefix: str) -> str: ...
    def find(
        self, agent: str, where: MemoryFilter | None = None, *, limit: int | None = None
    ) -> list[Memory]: ...
    def versions(self, agent: str, memory_id: str) -> list[MemoryVersion]: ...
    def versions_by_sleep(self, agent: str, sleep_id: str) -> list[MemoryVersion]: ...
    def linked_from(self, agent: str, memory_id: str) -> list[tuple[str, str]]: ...
    def counts(self, agent: str) -> dict[str, int]: ...


class Persona(Protocol):
    """The persona's versions; the newest is current."""

    def add(
        self,
        agent: str,
        text: str,
        *,
        pinned: Sequence[str],
        author: Author,
        reason: str | None = None,
    ) -> PersonaVersion: ...
    def current(self, agent: str) -> PersonaVersion | None: ...
    def by_sleep(self, agent: str, sleep_id: str) -> list[PersonaVersion]: ...
    def versions(self, agent: str) -> list[PersonaVersion]:
        """Oldest first."""
        ...


class Embeddings(Protocol):
    """Vectors per item and embedding model, and the queue of items still without one."""

    def put(
        self,
        agent: str,
        item_type: ItemType,
        model: str,
        rows: Sequence[tuple[int, str, bytes]],
    ) -> None: ...
    def requeue_for(self, model: str) -> int: ...
    def pending(self, agent: str, item_type: ItemType, limit: int) -> list[Pending]: ...
    def count_pending(self, agent: str, item_type: ItemType) -> int: ...


class Sleeps(Protocol):
    """Sleeps (their status, outcome and stats) and their stages' checkpoints."""

    def create(self, sleep: Sleep, config: Mapping[str, Any]) -> None: ...
    def finish(
        self,
        sleep_id: str,
        status: SleepStatus,
        outcome: Outcome | None,
        *,
        stats: Mapping[str, Any] | None = None,
        error: str | None = None,
        watermark: tuple[int, int] | None = None,
    ) -> None: ...
    def set_status(self, sleep_id: str, status: SleepStatus) -> None: ...
    def request_stop(self, agent: str) -> str | None: ...
    def status(self, sleep_id: str) -> SleepStatus: ...
    def get(self, agent: str, sleep_id: str) -> Sleep: ...
    def resolve(self, agent: str, prefix: str) -> str: ...
    def find(self, agent: str, *, limit: int | None = None) -> list[Sleep]: ...
    def running(self, agent: str) -> Sleep | None: ...
    def unfinished(self, agent: str) -> Sleep | None: ...
    def stage_start(self, sleep_id: str, stage: str, position: int) -> None: ...
    def stage_end(
        self,
        sleep_id: str,
        stage: str,
        status: str,
        *,
        checkpoint: str | None = None,
        stats: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> None: ...
    def stages(self, sleep_id: str) -> list[StageRow]: ...


class Journal(Protocol):
    """The dream journal, in the order it was written."""

    def add(self, agent: str, entries: Sequence[JournalEntry]) -> None: ...
    def entries(self, sleep_id: str) -> list[JournalEntry]: ...
    def rejections(self, agent: str, *, limit: int) -> list[str]: ...


class Calls(Protocol):
    """Model calls; a key's reply, once recorded, is replayed by a resumed sleep."""

    def reply(self, sleep_id: str, call_key: str) -> str | None: ...
    def add(self, call: ModelCall) -> None: ...
    def totals(self, sleep_id: str) -> dict[str, dict[str, int]]: ...
    def count(self, sleep_id: str, stage: str) -> int: ...


class Locks(Protocol):
    """One sleep lock per agent, with its holder's heartbeat."""

    def get(self, agent: str) -> LockRow | None: ...
    def take(self, agent: str, holder: str, pid: int, host: str) -> None: ...
    def heartbeat(self, agent: str, holder: str) -> None: ...
    def release(self, agent: str, holder: str) -> None: ...


class Watermarks(Protocol):
    """The highest episode seq each agent's sleeps consolidated through."""

    def get(self, agent: str) -> int: ...
    def set(self, agent: str, seq: int) -> None: ...


class Reviews(Protocol):
    """Changes a sleep proposed for a person to approve or reject."""

    def add(self, item: ReviewItem) -> None: ...
    def decide(
        self,
        agent: str,
        item_id: str,
        status: ReviewStatus,
        *,
        by: str,
        note: str | None,
        result: Mapping[str, Any] | None = None,
    ) -> None: ...
    def get(self, agent: str, item_id: str) -> ReviewItem: ...
    def resolve(self, agent: str, prefix: str) -> str: ...
    def find(
        self, agent: str, *, status: ReviewStatus | None = None, limit: int | None = None
    ) -> list[ReviewItem]: ...
    def count(self, agent: str, *, status: ReviewStatus = ReviewStatus.PENDING) -> int: ...


class Adapters(Protocol):
    """Trained LoRA adapters and the append-only log of which one is active."""

    def next_version(self, agent: str) -> int: ...
    def add(self, adapter: Adapter) -> None: ...
    def finish(
        self,
        adapter_id: str,
        status: AdapterStatus,
        *,
        report: Mapping[str, Any],
        error: str | None = None,
    ) -> None: ...
    def get(self, agent: str, adapter_id: str) -> Adapter: ...
    def resolve(self, agent: str, ref: str) -> str: ...
    def find(self, agent: str, *, status: AdapterStatus | None = None) -> list[Adapter]: ...
    def current(self, agent: str) -> Activation | None: ...
    def activation(self, seq: int) -> Activation: ...
    def activations(self, agent: str) -> list[Activation]:
        """Newest first."""
        ...

    def activate(
        self,
        agent: str,
        adapter_id: str | None,
        *,
        by: str,
        reason: str | None = None,
        replaces: int | None = None,
    ) -> Activation: ...


class Tx(Protocol):
    """One write transaction's repositories."""

    @property
    def episodes(self) -> Episodes: ...
    @property
    def thoughts(self) -> Thoughts: ...
    @property
    def memories(self) -> Memories: ...
    @property
    def persona(self) -> Persona: ...
    @property
    def embeddings(self) -> Embeddings: ...
    @property
    def sleeps(self) -> Sleeps: ...
    @property
    def journal(self) -> Journal: ...
    @property
    def calls(self) -> Calls: ...
    @property
    def locks(self) -> Locks: ...
    @property
    def watermarks(self) -> Watermarks: ...
    @property
    def review(self) -> Reviews: ...
    @property
    def adapters(self) -> Adapters: ...
    def set_setting(self, key: str, value: str) -> None: ...
    def ensure_agent(self, agent: str) -> None: ...


class Store(abc.ABC):
    """The system of record for every agent of one deployment.

    Reads go through the repository properties (each read sees committed data); writes only
    through :meth:`write`. ``url`` says where it is, in the form :meth:`open` takes."""

    url: str

    @staticmethod
    def open(url: str | Path, **options: int) -> Store:
        """Open the store at ``url`` (``sqlite:///path/to/file.db``, or a plain path for SQLite),
        applying migrations. ``options``: ``exact_limit``, ``rerank``, ``ann_from`` (vector
        search)."""
        from .registry import open_store  # noqa: PLC0415 - the registry imports this module

        return open_store(url, **options)

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abc.abstractmethod
    def write(self) -> contextlib.AbstractContextManager[Tx]:
        """A write transaction: everything inside lands together or not at all."""

    @abc.abstractmethod
    def submit(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Run a read on the store's search threads."""

    @property
    @abc.abstractmethod
    def episodes(self) -> Episodes: ...
    @property
    @abc.abstractmethod
    def thoughts(self) -> Thoughts: ...
    @property
    @abc.abstractmethod
    def memories(self) -> Memories: ...
    @property
    @abc.abstractmethod
    def persona(self) -> Persona: ...
    @property
    @abc.abstractmethod
    def embeddings(self) -> Embeddings: ...
    @property
    @abc.abstractmethod
    def sleeps(self) -> Sleeps: ...
    @property
    @abc.abstractmethod
    def journal(self) -> Journal: ...
    @property
    @abc.abstractmethod
    def calls(self) -> Calls: ...
    @property
    @abc.abstractmethod
    def locks(self) -> Locks: ...
    @property
    @abc.abstractmethod
    def watermarks(self) -> Watermarks: ...
    @property
    @abc.abstractmethod
    def review(self) -> Reviews: ...
    @property
    @abc.abstractmethod
    def adapters(self) -> Adapters: ...

    @abc.abstractmethod
    def setting(self, key: str) -> str | None: ...

    @abc.abstractmethod
    def agents(self) -> list[str]: ...

    @abc.abstractmethod
    def text_search(
        self,
        agent: str,
        item_type: ItemType,
        terms: Sequence[str],
        where: MemoryFilter | EpisodeFilter,
        limit: int,
    ) -> list[tuple[int, float]]:
        """(item seq, score) of the best full-text matches for any of ``terms``, best first;
        higher is better."""

    @abc.abstractmethod
    def vector_search(
        self,
        agent: str,
        item_type: ItemType,
        model: str,
        query: NDArray[np.float32],
        where: MemoryFilter | EpisodeFilter,
        limit: int,
    ) -> list[tuple[int, float]]:
        """(item seq, cosine) of the nearest stored vectors from ``model``, best first."""
