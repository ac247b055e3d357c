"""Schema migrations: ordered, named functions applied when the store opens.

Each migration runs inside the same ``BEGIN IMMEDIATE`` transaction as the row that records
it in ``schema_migrations``, so a crash leaves the database at the previous migration. A
database that holds migrations this code does not know was written by a newer sleepcycle;
opening it is refused rather than guessed at.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator

from ..errors import StoreError
from ..times import format_time, now

__all__ = ["MIGRATIONS", "MIGRATIONS_TABLE", "apply_migrations", "split_sql"]

Migration = Callable[[sqlite3.Connection], None]


def split_sql(script: str) -> Iterator[str]:
    """Yield the complete statements of a script (trigger bodies stay whole)."""
    buffer: list[str] = []
    for line in script.splitlines(keepends=True):
        buffer.append(line)
        statement = "".join(buffer)
        if sqlite3.complete_statement(statement):
            if statement.strip():
                yield statement.strip()
            buffer = []
    rest = "".join(buffer).strip()
    if rest:
        raise ValueError(f"incomplete SQL statement: {rest[:60]!r}")


def _run(conn: sqlite3.Connection, script: str) -> None:
    for statement in split_sql(script):
        conn.execute(statement)


def m0001_initial(conn: sqlite3.Connection) -> None:
    """Agents, episodes, thoughts, memories with versions, persona, embeddings, sleeps, journal."""
    _run(conn, _INITIAL)


_INITIAL = """
CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    watermark INTEGER NOT NULL DEFAULT 0,
    meta TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('memory_rev', 0);

CREATE TABLE sleeps (
    id TEXT PRIMARY KEY,
    agent TEXT NOT NULL REFERENCES agents(id),
    status TEXT NOT NULL CHECK (status IN
        ('running', 'stopping', 'interrupted', 'done', 'failed', 'rolled_back')),
    outcome TEXT CHECK (outcome IN ('done', 'nothing-to-do', 'interrupted', 'failed')),
    trigger TEXT NOT NULL DEFAULT 'manual',
    dry_run INTEGER NOT NULL DEFAULT 0 CHECK (dry_run IN (0, 1)),
    started TEXT NOT NULL,
    ended TEXT,
    watermark_from INTEGER,
    watermark_to INTEGER,
    config TEXT NOT NULL DEFAULT '{}',
    stats TEXT NOT NULL DEFAULT '{}',
    error TEXT
);
CREATE INDEX sleeps_agent_started ON sleeps (agent, started);

CREATE TABLE sleep_stages (
    sleep_id TEXT NOT NULL REFERENCES sleeps(id),
    stage TEXT NOT NULL,
    position INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'skipped')),
    started TEXT NOT NULL,
    ended TEXT,
    checkpoint TEXT,
    stats TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    PRIMARY KEY (sleep_id, stage)
);

CREATE TABLE model_calls (
    seq INTEGER PRIMARY KEY,
    sleep_id TEXT REFERENCES sleeps(id),
    stage TEXT,
    call_key TEXT,
    role TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt_hash TEXT NOT NULL,
    response TEXT,
    tokens_in INTEGER NOT NULL DEFAULT 0,
    tokens_out INTEGER NOT NULL DEFAULT 0,
    ms INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created TEXT NOT NULL,
    UNIQUE (sleep_id, call_key)
);

CREATE TABLE journal (
    seq INTEGER PRIMARY KEY,
    sleep_id TEXT NOT NULL REFERENCES sleeps(id),
    agent TEXT NOT NULL,
    stage TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    refs TEXT NOT NULL DEFAULT '{}',
    created TEXT NOT NULL
);
CREATE INDEX journal_sleep ON journal (sleep_id, seq);

CREATE TABLE locks (
    agent TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    acquired TEXT NOT NULL,
    heartbeat TEXT NOT NULL
);

CREATE TABLE episodes (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    agent TEXT NOT NULL REFERENCES agents(id),
    session TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN
        ('user', 'assistant', 'system', 'tool', 'thinking', 'event')),
    name TEXT,
    content TEXT NOT NULL,
    time TEXT NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}',
    source TEXT,
    recorded_at TEXT NOT NULL,
    consolidated_in TEXT REFERENCES sleeps(id)
);
CREATE INDEX episodes_agent_time ON episodes (agent, time);
CREATE INDEX episodes_agent_session ON episodes (agent, session, time);
CREATE INDEX episodes_unconsolidated ON episodes (agent, seq) WHERE consolidated_in IS NULL;
CREATE INDEX episodes_consolidated_in ON episodes (consolidated_in)
    WHERE consolidated_in IS NOT NULL;

CREATE TRIGGER episodes_immutable BEFORE UPDATE OF
    id, agent, session, role, name, content, time, meta, source, recorded_at ON episodes
BEGIN
    SELECT RAISE(ABORT, 'episodes are immutable');
END;
CREATE TRIGGER episodes_no_delete BEFORE DELETE ON episodes
BEGIN
    SELECT RAISE(ABORT, 'episodes are never deleted');
END;

CREATE VIRTUAL TABLE episodes_fts USING fts5 (
    name, content,
    content = 'episodes', content_rowid = 'seq',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER episodes_fts_insert AFTER INSERT ON episodes
BEGIN
    INSERT INTO episodes_fts (rowid, name, content) VALUES (new.seq, new.name, new.content);
END;

CREATE TABLE thoughts (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    agent TEXT NOT NULL REFERENCES agents(id),
    kind TEXT NOT NULL CHECK (kind IN ('parked', 'dismissed', 'internal')),
    text TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN
        ('open', 'dreamt', 'resolved', 'discarded')),
    sources TEXT NOT NULL DEFAULT '[]',
    meta TEXT NOT NULL DEFAULT '{}',
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    resolved_in TEXT REFERENCES sleeps(id),
    note TEXT
);
CREATE INDEX thoughts_agent_status ON thoughts (agent, status, created);

CREATE TABLE memories (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    agent TEXT NOT NULL REFERENCES agents(id),
    kind TEXT NOT NULL CHECK (kind IN
        ('fact', 'preference', 'event', 'plan', 'insight', 'skill', 'persona')),
    text TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'superseded', 'retracted')),
    score INTEGER CHECK (score IN (0, 1)),
    deep INTEGER NOT NULL DEFAULT 0 CHECK (deep IN (0, 1)),
    version INTEGER NOT NULL CHECK (version >= 1),
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    valid_from TEXT,
    valid_to TEXT,
    sources TEXT NOT NULL DEFAULT '[]',
    associations TEXT NOT NULL DEFAULT '[]',
    tags TEXT NOT NULL DEFAULT '[]',
    meta TEXT NOT NULL DEFAULT '{}',
    rev INTEGER NOT NULL
);
CREATE INDEX memories_agent_status ON memories (agent, status, kind);
CREATE INDEX memories_agent_rev ON memories (agent, rev);
CREATE INDEX memories_agent_deep ON memories (agent, deep) WHERE deep = 0;
CREATE TRIGGER memories_no_delete BEFORE DELETE ON memories
BEGIN
    SELECT RAISE(ABORT, 'memories are never deleted; retract them');
END;

CREATE VIRTUAL TABLE memories_fts USING fts5 (
    text,
    content = 'memories', content_rowid = 'seq',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories
BEGIN
    INSERT INTO memories_fts (rowid, text) VALUES (new.seq, new.text);
END;
CREATE TRIGGER memories_fts_update AFTER UPDATE OF text ON memories
BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, text) VALUES ('delete', old.seq, old.text);
    INSERT INTO memories_fts (rowid, text) VALUES (new.seq, new.text);
END;

CREATE TABLE memory_versions (
    seq INTEGER PRIMARY KEY,
    memory_id TEXT NOT NULL REFERENCES memories(id),
    agent TEXT NOT NULL,
    version INTEGER NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('add', 'edit', 'amend', 'retract', 'supersede', 'merge',
        'link', 'unlink', 'restore', 'import')),
    before TEXT,
    after TEXT NOT NULL,
    author_kind TEXT NOT NULL CHECK (author_kind IN ('user', 'agent', 'sleep')),
    author TEXT NOT NULL,
    sleep_id TEXT REFERENCES sleeps(id),
    stage TEXT,
    model TEXT,
    reason TEXT,
    verdict TEXT,
    created TEXT NOT NULL,
    UNIQUE (memory_id, version)
);
CREATE INDEX memory_versions_sleep ON memory_versions (sleep_id) WHERE sleep_id IS NOT NULL;
CREATE TRIGGER memory_versions_append_only BEFORE UPDATE ON memory_versions
BEGIN
    SELECT RAISE(ABORT, 'memory versions are append-only');
END;
CREATE TRIGGER memory_versions_no_delete BEFORE DELETE ON memory_versions
BEGIN
    SELECT RAISE(ABORT, 'memory versions are append-only');
END;

CREATE TABLE persona_versions (
    seq INTEGER PRIMARY KEY,
    agent TEXT NOT NULL REFERENCES agents(id),
    version INTEGER NOT NULL,
    text TEXT NOT NULL,
    pinned TEXT NOT NULL DEFAULT '[]',
    author_kind TEXT NOT NULL CHECK (author_kind IN ('user', 'agent', 'sleep')),
    author TEXT NOT NULL,
    sleep_id TEXT REFERENCES sleeps(id),
    stage TEXT,
    model TEXT,
    reason TEXT,
    created TEXT NOT NULL,
    UNIQUE (agent, version)
);
CREATE TRIGGER persona_versions_append_only BEFORE UPDATE ON persona_versions
BEGIN
    SELECT RAISE(ABORT, 'persona versions are append-only');
END;

CREATE TABLE embeddings (
    seq INTEGER PRIMARY KEY,
    agent TEXT NOT NULL,
    item_type TEXT NOT NULL CHECK (item_type IN ('memory', 'episode')),
    item_seq INTEGER NOT NULL,
    model TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    vector BLOB NOT NULL,
    UNIQUE (item_type, item_seq, model)
);
CREATE INDEX embeddings_feed ON embeddings (agent, item_type, model, seq);

CREATE TABLE embedding_queue (
    item_type TEXT NOT NULL CHECK (item_type IN ('memory', 'episode')),
    item_seq INTEGER NOT NULL,
    agent TEXT NOT NULL,
    PRIMARY KEY (item_type, item_seq)
) WITHOUT ROWID;
CREATE INDEX embedding_queue_agent ON embedding_queue (agent, item_type, item_seq);
CREATE TRIGGER episodes_embedding_queue AFTER INSERT ON episodes
BEGIN
    INSERT OR IGNORE INTO embedding_queue VALUES ('episode', new.seq, new.agent);
END;
CREATE TRIGGER memories_embedding_queue_insert AFTER INSERT ON memories
BEGIN
    INSERT OR IGNORE INTO embedding_queue VALUES ('memory', new.seq, new.agent);
END;
CREATE TRIGGER memories_embedding_queue_update AFTER UPDATE OF text ON memories
    WHEN old.text != new.text
BEGIN
    INSERT OR IGNORE INTO embedding_queue VALUES ('memory', new.seq, new.agent);
END;

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


def m0002_review_queue(conn: sqlite3.Connection) -> None:
    """Operations a sleep proposes for a person to approve or reject."""
    _run(conn, _REVIEW)


_REVIEW = """
CREATE TABLE review_queue (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    agent TEXT NOT NULL REFERENCES agents(id),
    sleep_id TEXT REFERENCES sleeps(id),
    op TEXT NOT NULL,
    summary TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    created TEXT NOT NULL,
    decided_at TEXT,
    decided_by TEXT,
    note TEXT,
    result TEXT
);
CREATE INDEX review_queue_agent_status ON review_queue (agent, status, seq);
"""


def m0003_adapters(conn: sqlite3.Connection) -> None:
    """LoRA adapters per agent, and the log of which one is active."""
    _run(conn, _ADAPTERS)


_ADAPTERS = """
CREATE TABLE adapters (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    agent TEXT NOT NULL REFERENCES agents(id),
    version INTEGER NOT NULL,
    base TEXT NOT NULL,
    status TEXT NOT NULL
        CHECK (status IN ('training', 'kept', 'rejected', 'failed')),
    path TEXT NOT NULL,
    sleep_id TEXT REFERENCES sleeps(id),
    created TEXT NOT NULL,
    finished TEXT,
    report TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    UNIQUE (agent, version)
);

CREATE TABLE adapter_activations (
    seq INTEGER PRIMARY KEY,
    agent TEXT NOT NULL REFERENCES agents(id),
    adapter_id TEXT REFERENCES adapters(id),
    at TEXT NOT NULL,
    by TEXT NOT NULL,
    reason TEXT,
    replaces INTEGER REFERENCES adapter_activations(seq)
);
CREATE INDEX adapter_activations_agent ON adapter_activations (agent, seq);

CREATE TRIGGER adapter_activations_append_only BEFORE UPDATE ON adapter_activations
BEGIN
    SELECT RAISE(ABORT, 'adapter activations are append-only');
END;
"""


def m0004_memory_rev(conn: sqlite3.Connection) -> None:
    """An index on the memory change counter across agents: the text index's change feed."""
    _run(conn, "CREATE INDEX memories_rev ON memories (rev);")


MIGRATIONS: list[tuple[str, Migration]] = [
    ("0001_initial", m0001_initial),
    ("0002_review_queue", m0002_review_queue),
    ("0003_adapters", m0003_adapters),
    ("0004_memory_rev", m0004_memory_rev),
]


MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, applied_at TEXT NOT NULL)"
)


def apply_migrations(conn: sqlite3.Connection) -> list[str]:
    """Bring the database up to date; returns the names applied. ``conn`` is in autocommit mode."""
    conn.execute(MIGRATIONS_TABLE)
    known = {name for name, _ in MIGRATIONS}
    applied_now: list[str] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
        unknown = sorted(done - known)
        if unknown:
            raise StoreError(
                f"this database was written by a newer sleepcycle (migration {unknown[-1]}); "
                "upgrade sleepcycle to open it"
            )
        for name, migrate in MIGRATIONS:
            if name in done:
                continue
            migrate(conn)
            conn.execute(
                "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                (name, format_time(now())),
            )
            applied_now.append(name)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return applied_now
