"""The conformance suite every store implementation must pass (needs pytest).

An implementation's tests subclass :class:`StoreContract` and give it a ``store_url`` fixture
naming a new, empty store; every test opens it with ``Store.open`` (through the registry, as
users do), so registration is tested too::

    from sleepcycle.store.conformance import StoreContract

    class TestMyStore(StoreContract):
        @pytest.fixture
        def store_url(self, tmp_path):
            return "mydb://" + str(tmp_path / "db")

The tests speak only the contract (``store.contract``): records in, records out, the errors it
names, one transaction per ``write()``. What they check is what sleepcycle relies on: writes
land whole or not at all, ids are idempotent, versions are append-only, every row is scoped to
its agent, a reopened store holds what was committed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import pytest

from ..errors import AmbiguousIdError, ConflictError, NotFoundError
from ..records import (
    Adapter,
    AdapterStatus,
    Association,
    Author,
    Episode,
    ItemType,
    JournalEntry,
    MemoryChange,
    MemoryKind,
    MemoryState,
    MemoryStatus,
    ModelCall,
    Op,
    ReviewItem,
    ReviewStatus,
    Role,
    Sleep,
    SleepStatus,
    Thought,
    ThoughtKind,
    ThoughtStatus,
)
from ..times import now
from .contract import Store
from .filters import EpisodeFilter, MemoryFilter

__all__ = ["StoreContract"]

A, B = "alice", "bob"
USER = Author.user()


def episode(agent: str, n: int, content: str, *, session: str = "s1", minutes: int = 0) -> Episode:
    at = now().replace(microsecond=0) - timedelta(days=1) + timedelta(minutes=minutes or n)
    return Episode(
        id=f"ep-{agent}-{n:04d}",
        agent=agent,
        session=session,
        role=Role.USER if n % 2 else Role.ASSISTANT,
        content=content,
        time=at,
        recorded_at=at,
        name=agent.title() if n % 2 else None,
    )


def add_memory(store: Store, agent: str, memory_id: str, text: str, *sources: str) -> None:
    state = MemoryState(kind=MemoryKind.FACT, text=text, sources=sources)
    with store.write() as tx:
        tx.ensure_agent(agent)
        tx.memories.apply(agent, [MemoryChange(memory_id, Op.ADD, state, USER)])


class _Boom(Exception):
    pass


class StoreContract:
    """Subclass with a ``store_url`` fixture; every test below must pass."""

    @pytest.fixture
    def store(self, store_url: str) -> Iterator[Store]:
        store = Store.open(store_url)
        try:
            yield store
        finally:
            store.close()

    def seed(self, store: Store, agent: str = A, count: int = 6) -> list[Episode]:
        words = ["Lisbon flat", "green tea", "grey cat Pixel", "offline maps", "standup", "jab"]
        episodes = [episode(agent, n, f"{agent} talks about {words[n % 6]}") for n in range(count)]
        with store.write() as tx:
            tx.ensure_agent(agent)
            tx.episodes.add(episodes)
        return episodes

    # opening and transactions -------------------------------------------------------------

    def test_reopening_its_url_finds_what_was_committed(self, store: Store) -> None:
        self.seed(store)
        with store.write() as tx:
            tx.set_setting("embedding.model", "m1")
        url = store.url
        store.close()
        again = Store.open(url)
        try:
            assert again.url == url
            assert again.episodes.count(A) == 6
            assert again.setting("embedding.model") == "m1"
            assert again.agents() == [A]
        finally:
            again.close()

    def test_a_failed_write_leaves_nothing(self, store: Store) -> None:
        self.seed(store)
        with pytest.raises(_Boom), store.write() as tx:
            tx.episodes.add([episode(A, 100, "never stored")])
            tx.memories.apply(
                A,
                [
                    MemoryChange(
                        "mem-x", Op.ADD, MemoryState(kind=MemoryKind.FACT, text="nope"), USER
                    )
                ],
            )
            tx.set_setting("k", "v")
            raise _Boom
        assert store.episodes.count(A) == 6
        assert store.memories.find(A) == []
        assert store.setting("k") is None

    def test_reads_see_only_committed_writes(self, store: Store) -> None:
        self.seed(store)
        with store.write() as tx:
            tx.episodes.add([episode(A, 200, "in flight")])
            seen = store.submit(store.episodes.count, A).result(timeout=30)
        assert seen == 6
        assert store.episodes.count(A) == 7

    # episodes -----------------------------------------------------------------------------

    def test_episodes_are_idempotent_by_id_and_ordered_by_seq(self, store: Store) -> None:
        first = self.seed(store)
        with store.write() as tx:
            again = tx.episodes.add([*first[:2], episode(A, 50, "new one")])
        assert [e.id for e in again] == [episode(A, 50, "x").id]
        stored = store.episodes.find(A)
        assert [e.id for e in stored] == [e.id for e in first] + [again[0].id]
        seqs = store.episodes.seqs([e.id for e in stored])
        assert sorted(seqs.values()) == [seqs[e.id] for e in stored]
        by_seq = store.episodes.by_seq(list(seqs.values()))
        assert {e.id for e in by_seq.values()} == {e.id for e in stored}
        assert store.episodes.get(A, first[0].id).content == first[0].content
        assert [e.id for e in store.episodes.get_many(A, [first[2].id, first[1].id])] == [
            first[2].id,
            first[1].id,
        ]

    def test_episode_lookups_name_what_is_missing(self, store: Store) -> None:
        first = self.seed(store)
        with pytest.raises(NotFoundError):
            store.episodes.get(A, "ep-nope")
        with pytest.raises(NotFoundError):
            store.episodes.resolve(A, "zz")
        with pytest.raises(AmbiguousIdError):
            store.episodes.resolve(A, "ep-")
        assert store.episodes.resolve(A, first[3].id[:-1] + "3") == first[3].id

    def test_episode_filters_consolidation_and_neighbours(self, store: Store) -> None:
        first = self.seed(store)
        with store.write() as tx:
            tx.episodes.add([episode(A, 9, "other session", session="s2")])
        assert [e.id for e in store.episodes.find(A, EpisodeFilter(sessions=("s2",)))] == [
            episode(A, 9, "x").id
        ]
        users = store.episodes.find(A, EpisodeFilter(roles=(Role.USER,)))
        assert users and all(e.role is Role.USER for e in users)
        newest = store.episodes.find(A, limit=2, newest_first=True)
        assert [e.id for e in newest] == [episode(A, 9, "x").id, first[5].id]
        middle = store.episodes.around(A, first[3], 1, 1)
        assert [e.id for e in middle] == [first[2].id, first[3].id, first[4].id]
        with store.write() as tx:
            tx.sleeps.create(Sleep("sl-1", A, SleepStatus.RUNNING, now()), {})
            marked = tx.episodes.mark_consolidated(A, [first[0].id, first[1].id], "sl-1")
        assert marked == 2
        assert store.episodes.count(A, unconsolidated=True) == 5
        assert first[0].id not in {e.id for e in store.episodes.find(A, unconsolidated=True)}
        assert sorted(store.episodes.consolidated_by(A, "sl-1")) == [first[0].id, first[1].id]
        low, high = store.episodes.time_range(A)
        assert low == first[0].time and high is not None and high >= first[5].time

    def test_every_row_is_scoped_to_its_agent(self, store: Store) -> None:
        self.seed(store, A)
        self.seed(store, B, count=2)
        add_memory(store, A, "mem-a", "Alice lives in Lisbon.")
        assert store.episodes.count(A) == 6 and store.episodes.count(B) == 2
        assert store.memories.find(B) == []
        with pytest.raises(NotFoundError):
            store.memories.get(B, "mem-a")
        where = MemoryFilter()
        assert store.text_search(B, ItemType.MEMORY, ["lisbon"], where, 10) == []
        assert store.text_search(A, ItemType.MEMORY, ["lisbon"], where, 10)
        assert store.agents() == [A, B]

    # thoughts -----------------------------------------------------------------------------

    def test_thoughts_keep_their_status(self, store: Store) -> None:
        at = now()
        thought = Thought("th-1", A, ThoughtKind.PARKED, "ask about the move", at, at)
        with store.write() as tx:
            tx.ensure_agent(A)
            tx.sleeps.create(Sleep("sl-1", A, SleepStatus.RUNNING, at), {})
            assert [t.id for t in tx.thoughts.add([thought, thought])] == ["th-1"]
            tx.thoughts.set_status(A, "th-1", ThoughtStatus.RESOLVED, sleep_id="sl-1", note="ok")
        got = store.thoughts.get(A, "th-1")
        assert got.status is ThoughtStatus.RESOLVED and got.note == "ok"
        assert store.thoughts.count(A, status=ThoughtStatus.OPEN) == 0
        assert [t.id for t in store.thoughts.find(A, statuses=(ThoughtStatus.RESOLVED,))] == [
            "th-1"
        ]
        assert [t.id for t in store.thoughts.changed_by(A, "sl-1")] == ["th-1"]
        assert store.thoughts.resolve(A, "th") == "th-1"

    # memories -----------------------------------------------------------------------------

    def test_memory_versions_are_append_only(self, store: Store) -> None:
        first = self.seed(store)
        add_memory(store, A, "mem-1", "Alice lives in Manchester.", first[0].id)
        edited = MemoryState(
            kind=MemoryKind.FACT, text="Alice lives in Lisbon.", sources=(first[2].id,)
        )
        with store.write() as tx:
            tx.memories.apply(
                A, [MemoryChange("mem-1", Op.EDIT, edited, USER, base_version=1, reason="moved")]
            )
        memory = store.memories.get(A, "mem-1")
        assert (memory.version, memory.text, memory.sources) == (2, edited.text, (first[2].id,))
        versions = store.memories.versions(A, "mem-1")
        assert [(v.version, v.op) for v in versions] == [(1, Op.ADD), (2, Op.EDIT)]
        assert versions[1].before is not None
        assert versions[1].before.text == "Alice lives in Manchester."
        assert versions[1].reason == "moved"
        assert store.memories.counts(A)["active"] == 1

    def test_a_stale_or_dangling_change_is_refused_whole(self, store: Store) -> None:
        first = self.seed(store)
        add_memory(store, A, "mem-1", "Alice drinks green tea.", first[1].id)
        stale = MemoryChange(
            "mem-1", Op.EDIT, MemoryState(kind=MemoryKind.FACT, text="x y z"), USER, base_version=0
        )
        new = MemoryChange(
            "mem-2", Op.ADD, MemoryState(kind=MemoryKind.FACT, text="Alice has a cat."), USER
        )
        with pytest.raises(ConflictError), store.write() as tx:
            tx.memories.apply(A, [new, stale])
        dangling = MemoryState(
            kind=MemoryKind.FACT, text="cites nothing real", sources=("ep-missing",)
        )
        with pytest.raises(NotFoundError), store.write() as tx:
            tx.memories.apply(A, [MemoryChange("mem-3", Op.ADD, dangling, USER)])
        assert [m.id for m in store.memories.find(A)] == ["mem-1"]
        assert store.memories.get(A, "mem-1").version == 1

    def test_memory_filters_links_and_statuses(self, store: Store) -> None:
        self.seed(store)
        add_memory(store, A, "mem-1", "Alice has a grey cat named Pixel.")
        linked = MemoryState(kind=MemoryKind.PLAN, text="Alice plans to fly with Pixel.")
        with store.write() as tx:
            tx.memories.apply(A, [MemoryChange("mem-2", Op.ADD, linked, USER)])
        with store.write() as tx:
            tx.memories.apply(
                A,
                [
                    MemoryChange(
                        "mem-2",
                        Op.LINK,
                        linked.but(associations=(Association("mem-1", "about"),)),
                        USER,
                        base_version=1,
                    )
                ],
            )
        assert store.memories.linked_from(A, "mem-1") == [("mem-2", "about")]
        plans = store.memories.find(A, MemoryFilter(kinds=(MemoryKind.PLAN,)))
        assert [m.id for m in plans] == ["mem-2"]
        gone = store.memories.get(A, "mem-1").state.but(status=MemoryStatus.RETRACTED)
        with store.write() as tx:
            tx.memories.apply(A, [MemoryChange("mem-1", Op.RETRACT, gone, USER, base_version=1)])
        assert [m.id for m in store.memories.find(A)] == ["mem-2"]
        retracted = store.memories.find(A, MemoryFilter(statuses=(MemoryStatus.RETRACTED,)))
        assert [m.id for m in retracted] == ["mem-1"]
        assert [m.id for m in store.memories.get_many(A, ["mem-2", "mem-1"])] == [
            "mem-2",
            "mem-1",
        ]

    # search -------------------------------------------------------------------------------

    def test_text_search_ranks_matches_first(self, store: Store) -> None:
        self.seed(store)
        add_memory(store, A, "mem-1", "Alice drinks green tea every morning.")
        add_memory(store, A, "mem-2", "Alice has a grey cat named Pixel.")
        add_memory(store, A, "mem-3", "Green tea and green apples are Alice's favourites.")
        hits = store.text_search(A, ItemType.MEMORY, ["green", "tea"], MemoryFilter(), 10)
        seqs = store.memories.by_seq([seq for seq, _ in hits])
        assert {seqs[s].id for s, _ in hits} == {"mem-1", "mem-3"}
        assert [score for _, score in hits] == sorted((score for _, score in hits), reverse=True)
        episodes = store.text_search(A, ItemType.EPISODE, ["pixel"], EpisodeFilter(), 10)
        found = store.episodes.by_seq([seq for seq, _ in episodes])
        assert [found[s].content for s, _ in episodes] == ["alice talks about grey cat Pixel"]

    def test_text_search_weighs_a_rare_term_above_a_common_one(self, store: Store) -> None:
        self.seed(store, count=1)
        for n in range(8):
            add_memory(store, A, f"common-{n}", f"Alice went to the market on day {n}.")
        add_memory(store, A, "twice", "Alice went out and went home again.")
        add_memory(store, A, "rare", "The Alfama quarter is old.")
        hits = store.text_search(A, ItemType.MEMORY, ["went", "alfama"], MemoryFilter(), 3)
        found = store.memories.by_seq([seq for seq, _ in hits])
        assert found[hits[0][0]].id == "rare"
        edited = MemoryState(kind=MemoryKind.FACT, text="The old quarter is quiet.")
        with store.write() as tx:
            tx.memories.apply(A, [MemoryChange("rare", Op.EDIT, edited, USER, base_version=1)])
        hits = store.text_search(A, ItemType.MEMORY, ["alfama"], MemoryFilter(), 3)
        assert hits == []

    def test_text_search_fills_limit_when_the_filter_removes_the_best(self, store: Store) -> None:
        self.seed(store, count=1)
        for n in range(12):
            add_memory(store, A, f"short-{n}", f"Tea {n}.")
        with store.write() as tx:
            gone = [
                MemoryChange(
                    f"short-{n}",
                    Op.RETRACT,
                    store.memories.get(A, f"short-{n}").state.but(status=MemoryStatus.RETRACTED),
                    USER,
                    base_version=1,
                )
                for n in range(12)
            ]
            tx.memories.apply(A, gone)
        for n in range(3):
            add_memory(store, A, f"long-{n}", f"On day {n} Alice made a large pot of tea for all.")
        hits = store.text_search(A, ItemType.MEMORY, ["tea"], MemoryFilter(), 2)
        found = store.memories.by_seq([seq for seq, _ in hits])
        assert len(hits) == 2 and all(found[s].id.startswith("long-") for s, _ in hits)

    def test_vectors_queue_and_nearest_search(self, store: Store) -> None:
        self.seed(store, count=2)
        for n in range(3):
            add_memory(store, A, f"mem-{n}", f"Memory number {n} about something.")
        pending = store.embeddings.pending(A, ItemType.MEMORY, 10)
        assert len(pending) == 3 and store.embeddings.count_pending(A, ItemType.MEMORY) == 3
        rng = np.random.default_rng(3)
        vectors = rng.normal(size=(3, 8)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        rows = [(seq, digest, vectors[i].tobytes()) for i, (seq, _, digest) in enumerate(pending)]
        with store.write() as tx:
            tx.embeddings.put(A, ItemType.MEMORY, "m1", rows)
        assert store.embeddings.count_pending(A, ItemType.MEMORY) == 0
        hits = store.vector_search(A, ItemType.MEMORY, "m1", vectors[1], MemoryFilter(), 2)
        assert hits[0][0] == pending[1][0] and hits[0][1] == pytest.approx(1.0, abs=1e-5)
        assert len(hits) == 2
        with store.write() as tx:
            assert tx.embeddings.requeue_for("m2") >= 3
        assert store.embeddings.count_pending(A, ItemType.MEMORY) == 3

    def test_search_sees_what_another_handle_committed(self, store: Store) -> None:
        """Two handles on one url (two processes, say): after each has searched once (any
        index warm), what either commits is found by the other's next search."""
        self.seed(store, count=1)
        add_memory(store, A, "mem-1", "Alice keeps bees.")
        vector = np.full(8, 8**-0.5, dtype=np.float32)
        other = Store.open(store.url)
        try:
            for handle in (store, other):
                assert handle.text_search(A, ItemType.MEMORY, ["okapi"], MemoryFilter(), 5) == []
                handle.vector_search(A, ItemType.MEMORY, "m1", vector, MemoryFilter(), 5)
            for writer, reader, n in ((other, store, 2), (store, other, 3), (store, store, 4)):
                add_memory(writer, A, f"mem-{n}", f"Okapi number {n} at the zoo.")
                rows = [
                    (seq, digest, vector.tobytes())
                    for seq, _, digest in writer.embeddings.pending(A, ItemType.MEMORY, 10)
                ]
                with writer.write() as tx:
                    tx.embeddings.put(A, ItemType.MEMORY, "m1", rows)
                texts = reader.text_search(A, ItemType.MEMORY, ["okapi"], MemoryFilter(), 5)
                near = reader.vector_search(A, ItemType.MEMORY, "m1", vector, MemoryFilter(), 5)
                assert len(texts) == n - 1, f"text search missed a write from {n}"
                assert len(near) == n, f"vector search missed a write from {n}"
        finally:
            other.close()

    # sleeps, journal, calls, locks, watermarks ---------------------------------------------

    def test_sleeps_and_their_stages(self, store: Store) -> None:
        self.seed(store, count=1)
        with store.write() as tx:
            tx.sleeps.create(Sleep("sl-1", A, SleepStatus.RUNNING, now()), {"k": 1})
            tx.sleeps.stage_start("sl-1", "gather", 0)
            tx.sleeps.stage_end("sl-1", "gather", "done", checkpoint='{"n": 1}', stats={"n": 1})
            tx.sleeps.stage_start("sl-1", "dream", 1)
        assert [(s.name, s.status) for s in store.sleeps.stages("sl-1")] == [
            ("gather", "done"),
            ("dream", "running"),
        ]
        assert store.sleeps.stages("sl-1")[0].checkpoint == '{"n": 1}'
        assert store.sleeps.running(A) is not None
        with store.write() as tx:
            assert tx.sleeps.request_stop(A) == "sl-1"
        assert store.sleeps.status("sl-1") is SleepStatus.STOPPING
        with store.write() as tx:
            tx.sleeps.finish("sl-1", SleepStatus.DONE, None, stats={"kept": 2})
        done = store.sleeps.get(A, "sl-1")
        assert done.status is SleepStatus.DONE and done.stats == {"kept": 2}
        assert store.sleeps.running(A) is None and store.sleeps.unfinished(A) is None
        assert [s.id for s in store.sleeps.find(A)] == ["sl-1"]
        assert store.sleeps.resolve(A, "sl") == "sl-1"
        with pytest.raises(NotFoundError):
            store.sleeps.get(B, "sl-1")

    def test_journal_keeps_order_and_rejections(self, store: Store) -> None:
        self.seed(store, count=1)
        entries = [
            JournalEntry("sl-1", "verify", kind, text, now(), {"i": i})
            for i, (kind, text) in enumerate([("kept", "one"), ("rejected", "two")])
        ]
        with store.write() as tx:
            tx.sleeps.create(Sleep("sl-1", A, SleepStatus.RUNNING, now()), {})
            tx.journal.add(A, entries)
        got = store.journal.entries("sl-1")
        assert [(e.kind, e.text, dict(e.refs)) for e in got] == [
            ("kept", "one", {"i": 0}),
            ("rejected", "two", {"i": 1}),
        ]
        assert store.journal.rejections(A, limit=5) == ["two"]

    def test_model_calls_replay_by_key(self, store: Store) -> None:
        self.seed(store, count=1)
        call = ModelCall("dreamer", "m", "h", "reply", 3, 4, 12.0, "sl-1", "dream", "k1")
        with store.write() as tx:
            tx.sleeps.create(Sleep("sl-1", A, SleepStatus.RUNNING, now()), {})
            tx.calls.add(call)
            tx.calls.add(
                ModelCall(
                    "verifier", "m", "h2", "bad", 1, 1, 1.0, "sl-1", "verify", "k2", "invalid"
                )
            )
            tx.calls.add(ModelCall("dreamer", "m", "h", "again", 3, 5, 10.0, "sl-1", "dream", "k1"))
            tx.calls.add(ModelCall("foreground", "m", "h3", "OK", 2, 1, 5.0, stage="check"))
        assert store.calls.reply("sl-1", "k1") == "again"
        assert store.calls.reply("sl-1", "k2") is None
        assert store.calls.count("sl-1", "dream") == 1
        totals = store.calls.totals("sl-1")
        assert totals["dreamer"]["calls"] == 1 and totals["dreamer"]["tokens_out"] == 5
        assert totals["verifier"]["calls"] == 1

    def test_locks_belong_to_their_holder(self, store: Store) -> None:
        self.seed(store, count=1)
        with store.write() as tx:
            tx.locks.take(A, "holder-1", 123, "host-a")
        lock = store.locks.get(A)
        assert lock is not None and (lock.holder, lock.pid, lock.host) == (
            "holder-1",
            123,
            "host-a",
        )
        with store.write() as tx:
            tx.locks.release(A, "holder-2")
            tx.locks.heartbeat(A, "holder-1")
        assert store.locks.get(A) is not None and store.locks.get(B) is None
        with store.write() as tx:
            tx.locks.release(A, "holder-1")
        assert store.locks.get(A) is None

    def test_watermarks_per_agent(self, store: Store) -> None:
        self.seed(store, A, count=1)
        self.seed(store, B, count=1)
        assert store.watermarks.get(A) == 0
        with store.write() as tx:
            tx.watermarks.set(A, 42)
        assert (store.watermarks.get(A), store.watermarks.get(B)) == (42, 0)

    # persona, review, adapters ------------------------------------------------------------

    def test_persona_versions(self, store: Store) -> None:
        self.seed(store, count=1)
        assert store.persona.current(A) is None
        with store.write() as tx:
            tx.persona.add(A, "Warm and brief.", pinned=("brief",), author=USER)
            tx.persona.add(A, "Warm, brief, curious.", pinned=("brief",), author=USER, reason="r")
        current = store.persona.current(A)
        assert current is not None and (current.version, current.text) == (
            2,
            "Warm, brief, curious.",
        )
        assert [v.version for v in store.persona.versions(A)] == [1, 2]

    def test_review_items_are_decided_once(self, store: Store) -> None:
        self.seed(store, count=1)
        item = ReviewItem(
            "rv-1", A, None, "retract", "drop it", {"x": 1}, ReviewStatus.PENDING, now()
        )
        with store.write() as tx:
            tx.review.add(item)
        assert store.review.count(A) == 1
        with store.write() as tx:
            tx.review.decide(A, "rv-1", ReviewStatus.APPROVED, by="user", note="fine")
        got = store.review.get(A, "rv-1")
        assert got.status is ReviewStatus.APPROVED and got.decided_by == "user"
        assert store.review.count(A) == 0
        assert [r.id for r in store.review.find(A, status=ReviewStatus.APPROVED)] == ["rv-1"]

    def test_adapters_and_their_activation_log(self, store: Store) -> None:
        self.seed(store, count=1)
        with store.write() as tx:
            version = tx.adapters.next_version(A)
            tx.adapters.add(
                Adapter("ad-1", A, version, "base", AdapterStatus.TRAINING, "adapters/a/v1", now())
            )
            tx.adapters.finish("ad-1", AdapterStatus.KEPT, report={"probes": 1.0})
        assert version == 1
        assert store.adapters.get(A, "ad-1").status is AdapterStatus.KEPT
        assert store.adapters.current(A) is None
        with store.write() as tx:
            first = tx.adapters.activate(A, "ad-1", by="user")
            back = tx.adapters.activate(A, None, by="user", reason="rollback", replaces=first.seq)
        current = store.adapters.current(A)
        assert current is not None and current.adapter_id is None and current.seq == back.seq
        assert [a.seq for a in store.adapters.activations(A)] == [back.seq, first.seq]
        assert store.adapters.activation(first.seq).adapter_id == "ad-1"
        assert [a.id for a in store.adapters.find(A, status=AdapterStatus.KEPT)] == ["ad-1"]
