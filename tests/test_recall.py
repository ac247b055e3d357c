"""Hybrid recall over memories and episodes, with filters, on the real embedding model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sleepcycle
from sleepcycle import (
    Config,
    HashingEmbedder,
    InputError,
    ItemType,
    MemoryKind,
    MemoryStatus,
    Mind,
    MiniLMEmbedder,
    RecallSettings,
    Role,
    changes,
)
from sleepcycle.recall import query_terms
from sleepcycle.store.columns import RowFilter
from sleepcycle.store.vectors import VectorIndex

BOTH_STORES = True  # every test here runs on SQLite and on PostgreSQL (conftest.py)


@pytest.fixture
def facts(mind: Mind, sample: Path) -> dict[str, str]:
    mind.ingest(sample)
    eps = {e.content[:30]: e.id for e in mind.episodes()}

    def source(prefix: str) -> list[str]:
        return [i for text, i in eps.items() if text.startswith(prefix)]

    made = {
        "manchester": mind.add(
            "Maya lived in Manchester.", valid_to="2026-04-04", sources=source("I'm a UX")
        ),
        "lisbon": mind.add(
            "Maya lives in Alfama, Lisbon.", valid_from="2026-04-04", sources=source("Olá from")
        ),
        "tea": mind.add("Maya drinks green tea in the mornings.", kind="preference"),
        "peanuts": mind.add("Maya is allergic to peanuts.", tags=["health"]),
        "pixel": mind.add("Maya has a grey cat called Pixel."),
        "job": mind.add("Maya is a senior product designer at Atlas Maps.", kind="fact"),
        "standup": mind.add("Standup with Inês's team is at 10:00 every day.", kind="plan"),
    }
    mind.retract(made["manchester"].id, reason="she moved")
    return {key: m.id for key, m in made.items()}


def top(mind: Mind, query: str, **kw: object) -> list[str]:
    return [h.id for h in mind.recall(query, **kw).hits]  # type: ignore[arg-type]


def test_hybrid_recall_finds_the_right_memory(mind: Mind, facts: dict[str, str]) -> None:
    assert top(mind, "Where does Maya live now?")[0] == facts["lisbon"]
    assert top(mind, "What does she drink in the morning?")[0] == facts["tea"]
    assert top(mind, "food she must avoid")[0] == facts["peanuts"]
    assert top(mind, "What is the name of her pet?")[0] == facts["pixel"]
    assert top(mind, "What is Maya's job?")[0] == facts["job"]


def test_results_carry_scores_sources_and_metadata(mind: Mind, facts: dict[str, str]) -> None:
    result = mind.recall("Lisbon Alfama home", k=3)
    hit = result.hits[0]
    assert hit.id == facts["lisbon"] and hit.item_type is ItemType.MEMORY
    assert hit.bm25 is not None and hit.bm25 > 0
    assert hit.cosine is not None and 0.3 < hit.cosine <= 1.0
    assert hit.score > result.hits[1].score
    assert hit.memory is not None and hit.sources == hit.memory.sources and len(hit.sources) == 1
    data = result.to_json()
    assert data["hits"][0]["memory"]["id"] == facts["lisbon"]  # type: ignore[index]
    assert data["hits"][0]["sources"] == list(hit.sources)  # type: ignore[index]


def test_retracted_memories_leave_recall_unless_asked_for(
    mind: Mind, facts: dict[str, str]
) -> None:
    assert facts["manchester"] not in top(mind, "Manchester", k=10)
    assert top(mind, "Manchester", statuses=[MemoryStatus.RETRACTED])[0] == facts["manchester"]
    assert facts["manchester"] in top(mind, "Manchester", statuses=list(MemoryStatus))


def test_kind_and_time_filters(mind: Mind, facts: dict[str, str]) -> None:
    assert set(top(mind, "Maya", kinds=[MemoryKind.PREFERENCE])) == {facts["tea"]}
    assert set(top(mind, "Maya", kinds=[MemoryKind.PLAN, MemoryKind.PREFERENCE])) == {
        facts["tea"],
        facts["standup"],
    }
    # Valid in March 2026: Manchester (retracted, so asked for), not Lisbon (valid from April).
    march = top(
        mind,
        "where Maya lives",
        since="2026-03-01",
        until="2026-04-01",
        statuses=list(MemoryStatus),
    )
    assert facts["manchester"] in march and facts["lisbon"] not in march
    april = top(mind, "where Maya lives", since="2026-04-10", statuses=list(MemoryStatus))
    assert facts["lisbon"] in april and facts["manchester"] not in april


def test_episodes_and_both(mind: Mind, facts: dict[str, str]) -> None:
    hits = mind.recall("green tea instead of coffee", scope="episodes", k=3).hits
    assert hits[0].item_type is ItemType.EPISODE
    assert hits[0].episode is not None and "green tea" in hits[0].episode.content
    assert hits[0].sources == (hits[0].id,)
    both = mind.recall("green tea", scope="both", k=10).hits
    assert {h.item_type for h in both} == {ItemType.MEMORY, ItemType.EPISODE}
    thinking = mind.recall("peanut allergy", scope="episodes", roles=[Role.THINKING]).hits
    assert thinking and all(h.episode and h.episode.role is Role.THINKING for h in thinking)
    in_april = mind.recall("Maya", scope="episodes", since="2026-04-01", k=50).hits
    assert in_april and all(h.episode and h.episode.session == "2026-04-08" for h in in_april)
    session = mind.recall("Maya", scope="episodes", sessions=["2026-03-03"], k=50).hits
    assert session and {h.episode.session for h in session if h.episode} == {"2026-03-03"}


@pytest.mark.parametrize("mode", ["bm25", "vector"])
def test_single_signal_modes(mind: Mind, facts: dict[str, str], mode: str) -> None:
    hits = mind.recall("allergic to peanuts", mode=mode).hits
    assert hits[0].id == facts["peanuts"]
    if mode == "bm25":
        assert all(h.cosine is None and h.bm25 is not None for h in hits)
    else:
        assert all(h.bm25 is None and h.cosine is not None for h in hits)


def test_vectors_find_what_words_miss(mind: Mind, facts: dict[str, str]) -> None:
    query = "feline companion"  # shares no word with the memory
    assert mind.recall(query, mode="bm25").hits == ()
    assert top(mind, query, mode="vector")[0] == facts["pixel"]


def test_recall_embeds_a_small_backlog_first(mind: Mind) -> None:
    mind.add("Maya's sister is called Zoe.")
    assert mind.pending_embeddings() == 1
    result = mind.recall("sibling")
    assert result.unembedded == 0 and mind.pending_embeddings() == 0
    assert result.hits[0].text == "Maya's sister is called Zoe."


def test_a_large_backlog_is_reported_not_waited_on(home: Path, embedder: MiniLMEmbedder) -> None:
    config = Config(recall=RecallSettings(embed_on_query=2))
    with sleepcycle.open(home, "maya", embedder=embedder, config=config) as mind:
        for text in ("Zoe is Maya's sister.", "Pixel is grey.", "Maya likes tea."):
            mind.add(text)
        result = mind.recall("sister Zoe")
        assert result.unembedded == 3
        assert result.hits[0].text == "Zoe is Maya's sister."  # BM25 still finds it
        assert result.hits[0].cosine is None
        assert mind.embed_pending() == 3
        assert mind.recall("sister Zoe").hits[0].cosine is not None


def test_edits_and_retractions_reach_another_process_index(
    home: Path, embedder: MiniLMEmbedder, facts: dict[str, str], mind: Mind
) -> None:
    with sleepcycle.open(home, "maya", embedder=embedder) as other:
        assert other.recall("grey cat", mode="vector").hits[0].id == facts["pixel"]
        mind.retract(facts["pixel"])
        mind.edit(facts["tea"], text="Maya has a black cat now.")
        ids = top(other, "black cat", mode="vector")
        assert facts["pixel"] not in ids
        assert ids[0] == facts["tea"]


def test_edited_text_is_re_embedded(mind: Mind) -> None:
    m = mind.add("Maya plays the violin.")
    assert top(mind, "musical instrument", mode="vector") == [m.id]
    mind.edit(m.id, text="Maya runs marathons.")
    assert mind.pending_embeddings() == 1
    hits = mind.recall("long distance running", mode="vector").hits
    assert hits[0].id == m.id and hits[0].text == "Maya runs marathons."


def test_bad_queries(mind: Mind) -> None:
    with pytest.raises(InputError, match="empty query"):
        mind.recall("   ")
    with pytest.raises(InputError, match="k must be at least 1"):
        mind.recall("x", k=-1)
    with pytest.raises(ValueError):
        mind.recall("x", scope="everything")


def test_query_terms_drop_function_words_and_quote_safely() -> None:
    assert query_terms("Where does Maya live now?") == ["maya", "live"]
    assert query_terms("what is it") == ["what", "is", "it"]
    assert query_terms('AND OR NOT "quotes" (x) * col:umn') == ["quotes", "col", "umn"]


def test_fts_syntax_in_queries_is_harmless(mind: Mind, facts: dict[str, str]) -> None:
    for query in ['"unbalanced', "NEAR(a b)", "col:peanuts", "*", "peanuts OR", "^tea"]:
        mind.recall(query, mode="bm25")


def test_prefiltered_search_agrees_with_exact_search() -> None:
    """The sign-bit prefilter used past ``exact_limit`` keeps the exact top results here."""
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((3000, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    n = len(vectors)
    exact = VectorIndex(64, exact_limit=10_000)
    approx = VectorIndex(64, exact_limit=100, rerank=600)
    for index in (exact, approx):
        index.upsert(
            list(range(n)), vectors, [i % 3 for i in range(n)], [0] * n, [0.0] * n, [np.inf] * n
        )
    agree = 0
    for q in range(50):
        query = vectors[q] + 0.3 * rng.standard_normal(64).astype(np.float32)
        query /= np.linalg.norm(query)
        where = RowFilter(kinds=(1,))
        a = [i for i, _ in exact.search(query, where, 10)]
        b = [i for i, _ in approx.search(query, where, 10)]
        assert all(i % 3 == 1 for i in a + b)
        agree += len(set(a) & set(b))
    assert agree / 500 >= 0.9


@pytest.mark.parametrize("layout", ["spread", "crowded", "strided"])
@pytest.mark.parametrize("keep", [None, 1.0, 0.5, 0.003])
def test_the_rerank_pool_is_the_nearest_rows_by_sign_bits(layout: str, keep: float | None) -> None:
    """Past ``exact_limit`` the rows scored exactly (their positions, here their seqs) are
    the ``rerank`` nearest by Hamming distance between sign bits, ties to the lowest
    position, whatever the filter keeps: the same as sorting every row. (The search bounds
    the cut-off from every few rows first; "strided" puts all near rows where that sample
    looks, so the bound is too tight and every row is counted.)"""
    rng = np.random.default_rng(11)
    n, dim = 40_000, 128
    centre = rng.standard_normal(dim).astype(np.float32)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    if layout == "crowded":
        vectors = centre + 0.02 * vectors
    elif layout == "strided":
        vectors[::4] = centre + 0.02 * vectors[::4]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex(dim, exact_limit=100, rerank=700)
    statuses = (rng.random(n) >= (keep or 1.0)).astype(int)  # 0: kept
    index.upsert(list(range(n)), vectors, [0] * n, statuses, [0.0] * n, [np.inf] * n)
    where = RowFilter() if keep is None else RowFilter(statuses=(0,))
    bits = np.packbits(vectors > 0, axis=1)
    for _ in range(5):
        near = centre if layout == "strided" else vectors[rng.integers(n)]
        query = near + 0.1 * rng.standard_normal(dim).astype(np.float32)
        query /= np.linalg.norm(query)
        distance = np.unpackbits(bits ^ np.packbits(query > 0), axis=1).sum(axis=1)
        allowed = np.flatnonzero(statuses == 0)
        want = allowed[np.argsort(distance[allowed], kind="stable")][:700]
        mask = index.columns.mask(where, slice(0, n))
        assert sorted(index._prefilter(query, mask, 50).tolist()) == sorted(want.tolist())


def test_hashing_fake_is_deterministic_and_word_based() -> None:
    fake = HashingEmbedder(dim=64)
    a, b, c = fake.embed(["green tea", "Green tea!", "black coffee"])
    assert np.allclose(a, b) and np.isclose(np.linalg.norm(a), 1.0)
    assert float(a @ c) < 0.99


def test_bm25_finds_an_agent_s_match_among_many_of_another_agent(mind: Mind) -> None:
    """The FTS index is shared by every agent: one agent's best matches must not hide
    another's (the search falls back to ranking only this agent's rows)."""
    crowd = mind.for_agent("crowd")
    with crowd.store.write() as tx:
        tx.ensure_agent("crowd")
        tx.memories.apply(
            "crowd",
            [changes.add(f"tea tea tea note {i}", author=crowd.author) for i in range(400)]
            + [changes.add(f"coffee note {i}", author=crowd.author) for i in range(600)],
        )
    mine = mind.add("Maya once tried tea in Kyoto, a long story about travel and trains.")
    hits = mind.recall("tea", mode="bm25").hits
    assert [h.id for h in hits] == [mine.id]
    assert len(crowd.recall("tea", mode="bm25", k=50).hits) == 50
