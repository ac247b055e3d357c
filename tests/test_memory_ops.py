"""A person editing memory: add, edit, amend, retract, restore, link, show, history."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import pytest

from sleepcycle import (
    AmbiguousIdError,
    AuthorKind,
    ConflictError,
    InputError,
    MemoryKind,
    MemoryStatus,
    Mind,
    NotFoundError,
    Op,
    changes,
)
from sleepcycle.store import sqlite_path

BOTH_STORES = True  # every test here runs on SQLite and on PostgreSQL (conftest.py)


def count_rows(mind: Mind, table: str) -> int:
    """Rows in ``table``, read behind the store's back (its own connection, raw SQL)."""
    sql = f"SELECT COUNT(*) FROM {table}"
    if mind.store.url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(mind.store.url) as pg:
            row = pg.execute(sql.encode()).fetchone()
            assert row is not None
            return int(row[0])
    conn = sqlite3.connect(sqlite_path(mind.store.url))
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def test_add_keeps_evidence_and_starts_shallow(mind: Mind, sample: Path) -> None:
    mind.ingest(sample)
    evidence = [e for e in mind.episodes() if "allergic to peanuts" in e.content]
    m = mind.add(
        "Maya is allergic to peanuts.",
        kind="fact",
        tags=["health", "food", "health"],
        sources=[e.id[:9] for e in evidence],
        reason="she said so twice",
    )
    assert m.id.startswith("mem_") and m.version == 1
    assert m.kind is MemoryKind.FACT and m.status is MemoryStatus.ACTIVE
    assert m.sources == tuple(e.id for e in evidence) and len(m.sources) == 2
    assert m.tags == ("health", "food")
    assert m.deep is False and m.score is None
    assert mind.memory(m.id[:7]) == m
    (v1,) = mind.history(m.id)
    assert (v1.op, v1.before, v1.after) == (Op.ADD, None, m.state)
    assert (v1.author.kind, v1.author.name, v1.reason) == (
        AuthorKind.USER,
        "user",
        "she said so twice",
    )


def test_edit_amend_retract_restore_make_versions(mind: Mind) -> None:
    m = mind.add("Maya lives in Manchester.", kind="fact")
    m = mind.edit(m.id, text="Maya lives in Lisbon.", reason="she moved", valid_from="2026-04-04")
    assert m.version == 2 and m.text == "Maya lives in Lisbon."
    assert m.valid_from is not None and m.valid_from.isoformat() == "2026-04-04T00:00:00+00:00"
    m = mind.amend(m.id, "She lives in Alfama.", reason="detail")
    assert m.text == "Maya lives in Lisbon. She lives in Alfama." and m.version == 3
    m = mind.retract(m.id, reason="wrong agent")
    assert m.status is MemoryStatus.RETRACTED and m.valid_to is not None
    assert mind.memories() == []  # out of active listings
    m = mind.restore(m.id, reason="it was right after all")
    assert m.status is MemoryStatus.ACTIVE and m.version == 5
    m = mind.restore(m.id, version=1, reason="back to the start")
    assert m.text == "Maya lives in Manchester." and m.version == 6

    history = mind.history(m.id)
    assert [v.op for v in history] == [
        Op.ADD,
        Op.EDIT,
        Op.AMEND,
        Op.RETRACT,
        Op.RESTORE,
        Op.RESTORE,
    ]
    assert [v.version for v in history] == [1, 2, 3, 4, 5, 6]
    assert history[1].before is not None and history[1].before.text == "Maya lives in Manchester."
    assert history[1].after.text == "Maya lives in Lisbon."
    assert [v.reason for v in history][1:3] == ["she moved", "detail"]
    # Every version's "before" is the previous version's "after": the chain is whole.
    for older, newer in itertools.pairwise(history):
        assert newer.before == older.after


def test_nothing_is_ever_hard_deleted(mind: Mind) -> None:
    m = mind.add("Temporary note")
    mind.retract(m.id)
    assert count_rows(mind, "memories") == 1
    assert count_rows(mind, "memory_versions") == 2
    assert mind.memories(statuses=[MemoryStatus.RETRACTED])[0].text == "Temporary note"


def test_links_both_ways(mind: Mind) -> None:
    a = mind.add("Maya moved to Lisbon.")
    b = mind.add("Maya works at Atlas Maps in Lisbon.")
    a = mind.link(a.id, b.id, relation="context", reason="same move")
    assert [(x.id, x.relation) for x in a.associations] == [(b.id, "context")]
    assert mind.linked_from(b.id) == [(a.id, "context")]
    a = mind.link(a.id, b.id, relation="supports")  # re-linking replaces the relation
    assert [(x.id, x.relation) for x in a.associations] == [(b.id, "supports")]
    a = mind.unlink(a.id, b.id)
    assert a.associations == ()
    assert [v.op for v in mind.history(a.id)] == [Op.ADD, Op.LINK, Op.LINK, Op.UNLINK]
    with pytest.raises(InputError, match="itself"):
        mind.link(a.id, a.id)
    with pytest.raises(InputError, match="no link"):
        mind.unlink(a.id, b.id)


def test_clear_errors(mind: Mind) -> None:
    m = mind.add("Maya has a cat called Pixel.")
    with pytest.raises(InputError, match="already says that"):
        mind.edit(m.id, text="Maya has a cat called Pixel.")
    with pytest.raises(InputError, match="nothing to edit"):
        mind.edit(m.id)
    with pytest.raises(InputError, match="empty memory text"):
        mind.add("   ")
    with pytest.raises(InputError, match="valid_to is before valid_from"):
        mind.add("x", valid_from="2026-02-01", valid_to="2026-01-01")
    with pytest.raises(NotFoundError, match="no memory matches 'mem_zzz'"):
        mind.memory("mem_zzz")
    mind.retract(m.id)
    with pytest.raises(InputError, match="retracted; restore it before you edit"):
        mind.edit(m.id, text="Pixel is grey")
    with pytest.raises(InputError, match="already retracted"):
        mind.retract(m.id)


def test_unknown_sources_are_refused(mind: Mind) -> None:
    with pytest.raises(NotFoundError, match="no episode matches"):
        mind.add("Maya likes tea", sources=["ep_doesnotexist"])
    assert mind.memories() == []


def test_ambiguous_prefix(mind: Mind) -> None:
    ids = {mind.add(f"memory {i}").id for i in range(40)}
    with pytest.raises(AmbiguousIdError):
        mind.memory("mem_")
    assert {mind.memory(i).id for i in ids} == ids


def test_a_stale_change_is_refused(mind: Mind) -> None:
    m = mind.add("Maya drinks coffee.")
    stale = changes.edit(m, author=mind.author, text="Maya drinks green tea.")
    mind.edit(m.id, text="Maya drinks oat flat whites.")
    with pytest.raises(ConflictError, match="changed since it was read"), mind.store.write() as tx:
        tx.memories.apply(mind.agent, [stale])
    assert mind.memory(m.id).text == "Maya drinks oat flat whites."


def test_other_agents_cannot_see_or_change(mind: Mind) -> None:
    m = mind.add("Maya's secret project")
    other = mind.for_agent("bob")
    with pytest.raises(NotFoundError):
        other.memory(m.id)
    with pytest.raises(NotFoundError):
        other.retract(m.id)
    assert mind.memory(m.id).status is MemoryStatus.ACTIVE
