"""The in-memory BM25 index ranks exactly as FTS5's bm25() and sees every committed write.

Each test compares ``store.text_search`` (the index) with the FTS5 queries it replaces
(``search_memories`` / ``search_episodes``) on the same SQLite file."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sleepcycle import ItemType, MemoryStatus, Role, changes
from sleepcycle.records import Author, Episode
from sleepcycle.store import EpisodeFilter, MemoryFilter, Store
from sleepcycle.store.search import search_episodes, search_memories
from sleepcycle.store.textindex import TOKENIZER, TextIndex

WORDS = (
    "tea coffee garden lisbon dog cat chess bakery sister running runs ran swim swimming "
    "book books reading painter painting harbour river bridge morning evening rain sunny "
    "piano guitar café naïve résumé"
).split()
AUTHOR = Author.user("test")
Ranked = list[tuple[int, float]]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "s.db")
    yield opened
    opened.close()


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12)))


def fill(store: Store, rng: random.Random, agents: tuple[str, ...], n: int) -> None:
    with store.write() as tx:
        for agent in agents:
            tx.ensure_agent(agent)
            tx.memories.apply(agent, [changes.add(sentence(rng), author=AUTHOR) for _ in range(n)])


def same_ranking(got: Ranked, want: Ranked) -> None:
    """Equal scores in order; equal items wherever a score is not tied at the cut."""
    assert [round(s, 9) for _, s in got] == [round(s, 9) for _, s in want]
    if want:
        cut = want[-1][1]
        assert {i for i, s in got if s > cut + 1e-9} == {i for i, s in want if s > cut + 1e-9}


def compare_memories(store: Store, agent: str, rng: random.Random, where: MemoryFilter) -> None:
    conn = sqlite3.connect(store.path)  # type: ignore[attr-defined]
    try:
        for _ in range(40):
            terms = list(dict.fromkeys(rng.sample(WORDS, rng.randint(1, 4))))
            limit = rng.choice([1, 5, 50])
            got = store.text_search(agent, ItemType.MEMORY, terms, where, limit)
            want = search_memories(conn, agent, terms, where, limit)
            same_ranking(got, want)
    finally:
        conn.close()


def test_the_index_uses_the_tokenizer_of_the_fts_tables(store: Store) -> None:
    conn = sqlite3.connect(store.path)  # type: ignore[attr-defined]
    tables = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE name IN ('memories_fts', 'episodes_fts')"
    ).fetchall()
    conn.close()
    assert len(tables) == 2
    assert all(f"tokenize = '{TOKENIZER}'" in sql for _, sql in tables)


def test_memory_scores_equal_fts5_bm25_across_agents_and_filters(store: Store) -> None:
    rng = random.Random(3)
    fill(store, rng, ("maya", "crowd"), 400)
    compare_memories(store, "maya", rng, MemoryFilter())
    compare_memories(store, "crowd", rng, MemoryFilter(statuses=()))


def test_scores_stay_equal_after_edits_retractions_and_more_rows(store: Store) -> None:
    """Edits move a row to a new position and kill the old one; past a quarter dead, the
    index is rebuilt: rankings equal FTS5's before and after."""
    rng = random.Random(5)
    fill(store, rng, ("maya",), 300)
    compare_memories(store, "maya", rng, MemoryFilter())  # the index is built here
    memories = store.memories.find("maya", MemoryFilter())
    with store.write() as tx:
        picked = rng.sample(memories, 120)
        tx.memories.apply(
            "maya",
            [changes.edit(m, author=AUTHOR, text=sentence(rng)) for m in picked[:100]]
            + [changes.retract(m, author=AUTHOR) for m in picked[100:]],
        )
    compare_memories(store, "maya", rng, MemoryFilter())
    compare_memories(store, "maya", rng, MemoryFilter(statuses=(MemoryStatus.RETRACTED,)))
    fill(store, rng, ("maya",), 3000)  # enough new postings to merge them into the arrays
    compare_memories(store, "maya", rng, MemoryFilter())


def test_a_write_is_found_by_the_next_search(store: Store) -> None:
    rng = random.Random(9)
    fill(store, rng, ("maya",), 50)
    assert store.text_search("maya", ItemType.MEMORY, ["zebra"], MemoryFilter(), 5) == []
    with store.write() as tx:
        (added,) = tx.memories.apply("maya", [changes.add("A zebra at the zoo", author=AUTHOR)])
    found = store.text_search("maya", ItemType.MEMORY, ["zebra"], MemoryFilter(), 5)
    assert [m.id for m in store.memories.by_seq([s for s, _ in found]).values()] == [added.id]
    with store.write() as tx:
        tx.memories.apply("maya", [changes.edit(added, author=AUTHOR, text="An okapi now")])
    assert store.text_search("maya", ItemType.MEMORY, ["zebra"], MemoryFilter(), 5) == []
    assert len(store.text_search("maya", ItemType.MEMORY, ["okapi"], MemoryFilter(), 5)) == 1


def test_episode_scores_weigh_names_as_fts5_does(store: Store) -> None:
    rng = random.Random(11)
    stamp = datetime(2026, 5, 1, tzinfo=UTC)
    with store.write() as tx:
        tx.ensure_agent("maya")
        tx.episodes.add(
            [
                Episode(
                    id=f"ep-{i}",
                    agent="maya",
                    session=rng.choice(["s1", "s2"]),
                    role=rng.choice([Role.USER, Role.ASSISTANT]),
                    content=sentence(rng),
                    time=stamp + timedelta(minutes=i),
                    recorded_at=stamp,
                    name=rng.choice([None, "Tea", "Chess Garden"]),
                )
                for i in range(300)
            ]
        )
    conn = sqlite3.connect(store.path)  # type: ignore[attr-defined]
    try:
        later = stamp + timedelta(minutes=100)
        wheres = (EpisodeFilter(), EpisodeFilter(roles=(Role.USER,), sessions=("s2",), since=later))
        for where in wheres:
            for _ in range(30):
                terms = rng.sample(WORDS, rng.randint(1, 3))
                got = store.text_search("maya", ItemType.EPISODE, terms, where, 20)
                same_ranking(got, search_episodes(conn, "maya", terms, where, 20))
    finally:
        conn.close()


def test_a_word_fts5_reads_as_a_phrase_is_ranked_by_fts5(store: Store) -> None:
    with store.write() as tx:
        tx.ensure_agent("maya")
        tx.memories.apply(
            "maya",
            [
                changes.add("green tea every morning", author=AUTHOR),
                changes.add("tea that is green", author=AUTHOR),
            ],
        )
    index = TextIndex((1.0,))
    assert index.terms(["green_tea"]) is None and index.terms(["Running"]) == ["run"]
    index.close()
    found = store.text_search("maya", ItemType.MEMORY, ["green_tea"], MemoryFilter(), 5)
    texts = [m.text for m in store.memories.by_seq([seq for seq, _ in found]).values()]
    assert texts == ["green tea every morning"]


def test_rows_tied_at_the_cut_are_the_lowest_seqs(store: Store) -> None:
    """Texts of equal length score equally: which of them fill the limit is not left to
    chance (the same store gives the same answer, and the oldest rows win a tie)."""
    rng = random.Random(13)
    texts = ["tea" + " milk" * rng.randint(0, 4) for _ in range(300)] + ["coffee"] * 300
    rng.shuffle(texts)
    with store.write() as tx:
        tx.ensure_agent("maya")
        tx.memories.apply("maya", [changes.add(text, author=AUTHOR) for text in texts])
    every = store.text_search("maya", ItemType.MEMORY, ["tea"], MemoryFilter(), 1000)
    assert len(every) == 300
    want = sorted(every, key=lambda hit: (-round(hit[1], 9), hit[0]))
    for limit in (1, 7, 70, 150):
        got = store.text_search("maya", ItemType.MEMORY, ["tea"], MemoryFilter(), limit)
        assert [seq for seq, _ in got] == [seq for seq, _ in want[:limit]]
