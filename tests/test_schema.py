"""The schema after migrating, and the guarantees the database itself enforces."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from sleepcycle import Mind, StoreError
from sleepcycle.store import Store
from sleepcycle.store.migrations import MIGRATIONS

SNAPSHOT = Path(__file__).parent / "data" / "schema.sql"


def dump_schema(db: Path) -> str:
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name"
    ).fetchall()
    conn.close()
    return "".join(f"-- {kind} {name}\n{sql};\n\n" for kind, name, sql in rows)


def test_schema_matches_snapshot(tmp_path: Path) -> None:
    Store.open(tmp_path / "s.db").close()
    schema = dump_schema(tmp_path / "s.db")
    if os.environ.get("SLEEPCYCLE_UPDATE_SCHEMA"):
        SNAPSHOT.write_text(schema)
    assert schema == SNAPSHOT.read_text(), (
        "schema changed: add a migration, then refresh the snapshot with "
        "SLEEPCYCLE_UPDATE_SCHEMA=1 pytest tests/test_schema.py"
    )


def columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def test_tables_hold_what_the_design_names(tmp_path: Path) -> None:
    Store.open(tmp_path / "s.db").close()
    conn = sqlite3.connect(tmp_path / "s.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    applied = [row[0] for row in conn.execute("SELECT name FROM schema_migrations ORDER BY id")]
    assert applied == [name for name, _ in MIGRATIONS]
    assert set(columns(conn, "episodes")) >= {
        "id",
        "agent",
        "session",
        "role",
        "content",
        "time",
        "meta",
        "consolidated_in",
    }
    assert set(columns(conn, "thoughts")) >= {"kind", "status", "sources", "text"}
    assert set(columns(conn, "memories")) >= {
        "kind",
        "text",
        "score",
        "deep",
        "created",
        "updated",
        "valid_from",
        "valid_to",
        "status",
        "version",
        "sources",
        "associations",
        "tags",
    }
    assert set(columns(conn, "memory_versions")) >= {
        "op",
        "before",
        "after",
        "author_kind",
        "author",
        "sleep_id",
        "stage",
        "model",
        "reason",
        "verdict",
    }
    for table in ("persona_versions", "sleeps", "sleep_stages", "journal", "model_calls", "locks"):
        assert columns(conn, table), table


def test_opening_twice_applies_nothing_new(tmp_path: Path) -> None:
    Store.open(tmp_path / "s.db").close()
    before = dump_schema(tmp_path / "s.db")
    Store.open(tmp_path / "s.db").close()
    assert dump_schema(tmp_path / "s.db") == before


def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    Store.open(tmp_path / "s.db").close()
    conn = sqlite3.connect(tmp_path / "s.db")
    conn.execute("INSERT INTO schema_migrations (name, applied_at) VALUES ('9999_future', 'x')")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer sleepcycle"):
        Store.open(tmp_path / "s.db")


def test_a_file_that_is_not_a_database_gives_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "s.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot (open|migrate) the store"):
        Store.open(bad)


def test_episodes_cannot_be_changed_or_deleted(mind: Mind) -> None:
    ep = mind.record("user", "I like tea")
    conn = sqlite3.connect(mind.store.path)
    with pytest.raises(sqlite3.IntegrityError, match="immutable"):
        conn.execute("UPDATE episodes SET content = 'I like coffee' WHERE id = ?", (ep.id,))
    with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
        conn.execute("DELETE FROM episodes WHERE id = ?", (ep.id,))
    assert mind.episode(ep.id).content == "I like tea"


def test_versions_are_append_only_and_memories_never_deleted(mind: Mind) -> None:
    m = mind.add("Maya has a cat")
    conn = sqlite3.connect(mind.store.path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE memory_versions SET reason = 'x'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM memory_versions")
    with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
        conn.execute("DELETE FROM memories WHERE id = ?", (m.id,))


def test_an_older_store_is_migrated_when_it_opens(tmp_path: Path) -> None:
    """A store written before the review queue and adapters existed gains them, and keeps its
    rows."""
    from sleepcycle.store import migrations

    conn = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    conn.execute(migrations.MIGRATIONS_TABLE)
    conn.execute("BEGIN")
    migrations.m0001_initial(conn)
    conn.execute("INSERT INTO schema_migrations (name, applied_at) VALUES ('0001_initial', 'x')")
    conn.execute("INSERT INTO agents (id, created) VALUES ('maya', 'x')")
    conn.execute("COMMIT")
    conn.close()
    Store.open(tmp_path / "s.db").close()
    conn = sqlite3.connect(tmp_path / "s.db")
    names = [row[0] for row in conn.execute("SELECT name FROM schema_migrations ORDER BY id")]
    assert names == ["0001_initial", "0002_review_queue", "0003_adapters", "0004_memory_rev"]
    assert columns(conn, "review_queue") and columns(conn, "adapter_activations")
    assert conn.execute("SELECT id FROM agents").fetchall() == [("maya",)]
    conn.close()
    assert dump_schema(tmp_path / "s.db") == SNAPSHOT.read_text()


def test_adapter_activations_are_append_only(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.db")
    with store.write() as tx:
        tx.ensure_agent("maya")
        first = tx.adapters.activate("maya", None, by="user")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"), store.write() as tx:
        tx.conn.execute("UPDATE adapter_activations SET by = 'x' WHERE seq = ?", (first.seq,))
    assert store.adapters.current("maya") == first
    store.close()
