"""The PostgreSQL schema: the SQLite store's tables, column for column, so the same
repositories read and write both; what differs is where PostgreSQL has its own tools.

- Full text: a generated ``tsvector`` column per searchable table (English stemming)
  instead of FTS5 tables kept by triggers. BM25 needs what FTS5 keeps inside its
  index: per agent and table, how many rows there are and their total length
  (``fts_docs``), in how many rows each lexeme occurs (``fts_terms``), and each row's
  lexemes with their frequency and the row's length (``fts_postings``, an inverted index
  read by index-only scans). Statement-level triggers keep all three in the writing
  transaction, so they are never out of step with the rows.
- Vectors: pgvector's ``vector`` column; an HNSW index per embedding model is made when that
  model's first vectors are stored (``embeddings_hnsw_<hash>``, cosine), since one column holds
  vectors of several models and dimensions.
- Text columns that ids and times are sorted or range-scanned by use the ``C`` collation, so
  ordering is by code point as in SQLite (prefix lookups depend on it).
- Rules SQLite keeps with ``RAISE(ABORT)`` triggers (append-only versions, episodes never
  changed or deleted) are PL/pgSQL triggers.

Migrations are numbered like SQLite's and applied on open under an advisory lock, so two
processes opening a new database at once do not both create it.
"""

from __future__ import annotations

from ...errors import StoreError
from ...times import format_time, now
from .connection import PgConnection

__all__ = ["MIGRATIONS", "apply_migrations"]

_T = 'TEXT COLLATE "C"'

_INITIAL = f"""
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE agents (
    id {_T} PRIMARY KEY,
    created {_T} NOT NULL,
    watermark BIGINT NOT NULL DEFAULT 0,
    meta TEXT NOT NULL DEFAULT '{{}}'
);

CREATE TABLE counters (
    name {_T} PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('memory_rev', 0);

CREATE TABLE settings (
    key {_T} PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE sleeps (
    seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    id {_T} PRIMARY KEY,
    agent {_T} NOT NULL REFERENCES agents(id),
    status {_T} NOT NULL CHECK (status IN
        ('running', 'stopping', 'interrupted', 'done', 'failed', 'rolled_back')),
    outcome {_T} CHECK (outcome IN ('done', 'nothing-to-do', 'interrupted', 'failed')),
    trigger TEXT NOT NULL DEFAULT 'manual',
    dry_run INTEGER NOT NULL DEFAULT 0 CHECK (dry_run IN (0, 1)),
    started {_T} NOT NULL,
    ended {_T},
    watermark_from BIGINT,
    watermark_to BIGINT,
    config TEXT NOT NULL DEFAULT '{{}}',
    stats TEXT NOT NULL DEFAULT '{{}}',
    error TEXT
);
CREATE INDEX sleeps_agent_started ON sleeps (agent, started);

CREATE TABLE sleep_stages (
    sleep_id {_T} NOT NULL REFERENCES sleeps(id),
    stage {_T} NOT NULL,
    position INTEGER NOT NULL,
    status {_T} NOT NULL CHECK (status IN ('running', 'done', 'failed', 'skipped')),
    started {_T} NOT NULL,
    ended {_T},
    checkpoint TEXT,
    stats TEXT NOT NULL DEFAULT '{{}}',
    error TEXT,
    PRIMARY KEY (sleep_id, stage)
);

CREATE TABLE episodes (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id {_T} NOT NULL UNIQUE,
    agent {_T} NOT NULL REFERENCES agents(id),
    session {_T} NOT NULL,
    role {_T} NOT NULL CHECK (role IN
        ('user', 'assistant', 'system', 'tool', 'thinking', 'event')),
    name TEXT,
    content TEXT NOT NULL,
    time {_T} NOT NULL,
    meta TEXT NOT NULL DEFAULT '{{}}',
    source TEXT,
    recorded_at {_T} NOT NULL,
    consolidated_in {_T} REFERENCES sleeps(id),
    fts tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', coalesce(name, '')), 'B')
        || setweight(to_tsvector('english', content), 'A')
    ) STORED
);
CREATE INDEX episodes_agent_session ON episodes (agent, session, time);
CREATE INDEX episodes_agent_time ON episodes (agent, time);
CREATE INDEX episodes_consolidated_in ON episodes (consolidated_in)
    WHERE consolidated_in IS NOT NULL;
CREATE INDEX episodes_unconsolidated ON episodes (agent, seq) WHERE consolidated_in IS NULL;
CREATE INDEX episodes_fts ON episodes USING gin (fts);

CREATE TABLE thoughts (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id {_T} NOT NULL UNIQUE,
    agent {_T} NOT NULL REFERENCES agents(id),
    kind {_T} NOT NULL CHECK (kind IN ('parked', 'dismissed', 'internal')),
    text TEXT NOT NULL,
    status {_T} NOT NULL DEFAULT 'open' CHECK (status IN
        ('open', 'dreamt', 'resolved', 'discarded')),
    sources TEXT NOT NULL DEFAULT '[]',
    meta TEXT NOT NULL DEFAULT '{{}}',
    created {_T} NOT NULL,
    updated {_T} NOT NULL,
    resolved_in {_T} REFERENCES sleeps(id),
    note TEXT
);
CREATE INDEX thoughts_agent_status ON thoughts (agent, status, created);

CREATE TABLE memories (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id {_T} NOT NULL UNIQUE,
    agent {_T} NOT NULL REFERENCES agents(id),
    kind {_T} NOT NULL CHECK (kind IN
        ('fact', 'preference', 'event', 'plan', 'insight', 'skill', 'persona')),
    text TEXT NOT NULL,
    text_hash {_T} NOT NULL,
    status {_T} NOT NULL CHECK (status IN ('active', 'superseded', 'retracted')),
    score INTEGER CHECK (score IN (0, 1)),
    deep INTEGER NOT NULL DEFAULT 0 CHECK (deep IN (0, 1)),
    version INTEGER NOT NULL CHECK (version >= 1),
    created {_T} NOT NULL,
    updated {_T} NOT NULL,
    valid_from {_T},
    valid_to {_T},
    sources TEXT NOT NULL DEFAULT '[]',
    associations TEXT NOT NULL DEFAULT '[]',
    tags TEXT NOT NULL DEFAULT '[]',
    meta TEXT NOT NULL DEFAULT '{{}}',
    rev BIGINT NOT NULL,
    fts tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED
);
CREATE INDEX memories_agent_status ON memories (agent, status, kind);
CREATE INDEX memories_agent_rev ON memories (agent, rev);
CREATE INDEX memories_agent_deep ON memories (agent, deep) WHERE deep = 0;
CREATE INDEX memories_fts ON memories USING gin (fts);

CREATE TABLE memory_versions (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    memory_id {_T} NOT NULL REFERENCES memories(id),
    agent {_T} NOT NULL,
    version INTEGER NOT NULL,
    op {_T} NOT NULL CHECK (op IN ('add', 'edit', 'amend', 'retract', 'supersede', 'merge',
        'link', 'unlink', 'restore', 'import')),
    before TEXT,
    after TEXT NOT NULL,
    author_kind {_T} NOT NULL CHECK (author_kind IN ('user', 'agent', 'sleep')),
    author TEXT NOT NULL,
    sleep_id {_T} REFERENCES sleeps(id),
    stage TEXT,
    model TEXT,
    reason TEXT,
    verdict TEXT,
    created {_T} NOT NULL,
    UNIQUE (memory_id, version)
);
CREATE INDEX memory_versions_sleep ON memory_versions (sleep_id) WHERE sleep_id IS NOT NULL;

CREATE TABLE persona_versions (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent {_T} NOT NULL REFERENCES agents(id),
    version INTEGER NOT NULL,
    text TEXT NOT NULL,
    pinned TEXT NOT NULL DEFAULT '[]',
    author_kind {_T} NOT NULL CHECK (author_kind IN ('user', 'agent', 'sleep')),
    author TEXT NOT NULL,
    sleep_id {_T} REFERENCES sleeps(id),
    stage TEXT,
    model TEXT,
    reason TEXT,
    created {_T} NOT NULL,
    UNIQUE (agent, version)
);

CREATE TABLE embeddings (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent {_T} NOT NULL,
    item_type {_T} NOT NULL CHECK (item_type IN ('memory', 'episode')),
    item_seq BIGINT NOT NULL,
    model {_T} NOT NULL,
    text_hash {_T} NOT NULL,
    vector vector NOT NULL,
    UNIQUE (item_type, item_seq, model)
);
CREATE INDEX embeddings_feed ON embeddings (agent, item_type, model, seq);

CREATE TABLE embedding_queue (
    item_type {_T} NOT NULL CHECK (item_type IN ('memory', 'episode')),
    item_seq BIGINT NOT NULL,
    agent {_T} NOT NULL,
    PRIMARY KEY (item_type, item_seq)
);
CREATE INDEX embedding_queue_agent ON embedding_queue (agent, item_type, item_seq);

CREATE TABLE journal (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sleep_id {_T} NOT NULL REFERENCES sleeps(id),
    agent {_T} NOT NULL,
    stage {_T} NOT NULL,
    kind {_T} NOT NULL,
    text TEXT NOT NULL,
    refs TEXT NOT NULL DEFAULT '{{}}',
    created {_T} NOT NULL
);
CREATE INDEX journal_sleep ON journal (sleep_id, seq);
CREATE INDEX journal_agent_kind ON journal (agent, kind, seq);

CREATE TABLE model_calls (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sleep_id {_T} REFERENCES sleeps(id),
    stage {_T},
    call_key {_T},
    role {_T} NOT NULL,
    model TEXT NOT NULL,
    prompt_hash TEXT NOT NULL,
    response TEXT,
    tokens_in INTEGER NOT NULL DEFAULT 0,
    tokens_out INTEGER NOT NULL DEFAULT 0,
    ms INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created {_T} NOT NULL,
    UNIQUE (sleep_id, call_key)
);

CREATE TABLE locks (
    agent {_T} PRIMARY KEY,
    holder TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    acquired {_T} NOT NULL,
    heartbeat {_T} NOT NULL
);

CREATE TABLE review_queue (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id {_T} NOT NULL UNIQUE,
    agent {_T} NOT NULL REFERENCES agents(id),
    sleep_id {_T} REFERENCES sleeps(id),
    op {_T} NOT NULL,
    summary TEXT NOT NULL,
    payload TEXT NOT NULL,
    status {_T} NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'approved', 'rejected')),
    created {_T} NOT NULL,
    decided_at {_T},
    decided_by TEXT,
    note TEXT,
    result TEXT
);
CREATE INDEX review_queue_agent_status ON review_queue (agent, status, seq);

CREATE TABLE adapters (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id {_T} NOT NULL UNIQUE,
    agent {_T} NOT NULL REFERENCES agents(id),
    version INTEGER NOT NULL,
    base TEXT NOT NULL,
    status {_T} NOT NULL CHECK (status IN ('training', 'kept', 'rejected', 'failed')),
    path TEXT NOT NULL,
    sleep_id {_T} REFERENCES sleeps(id),
    created {_T} NOT NULL,
    finished {_T},
    report TEXT NOT NULL DEFAULT '{{}}',
    error TEXT,
    UNIQUE (agent, version)
);

CREATE TABLE adapter_activations (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent {_T} NOT NULL REFERENCES agents(id),
    adapter_id {_T} REFERENCES adapters(id),
    at {_T} NOT NULL,
    by TEXT NOT NULL,
    reason TEXT,
    replaces BIGINT REFERENCES adapter_activations(seq)
);
CREATE INDEX adapter_activations_agent ON adapter_activations (agent, seq);

CREATE FUNCTION sleepcycle_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0];
END $$;

CREATE TRIGGER episodes_immutable BEFORE UPDATE OF
    id, agent, session, role, name, content, time, meta, source, recorded_at ON episodes
    FOR EACH ROW EXECUTE FUNCTION sleepcycle_refuse('episodes are immutable');
CREATE TRIGGER episodes_no_delete BEFORE DELETE ON episodes
    FOR EACH ROW EXECUTE FUNCTION sleepcycle_refuse('episodes are never deleted');
CREATE TRIGGER memories_no_delete BEFORE DELETE ON memories
    FOR EACH ROW EXECUTE FUNCTION sleepcycle_refuse('memories are never deleted; retract them');
CREATE TRIGGER memory_versions_append_only BEFORE UPDATE OR DELETE ON memory_versions
    FOR EACH ROW EXECUTE FUNCTION sleepcycle_refuse('memory versions are append-only');
CREATE TRIGGER persona_versions_append_only BEFORE UPDATE OR DELETE ON persona_versions
    FOR EACH ROW EXECUTE FUNCTION sleepcycle_refuse('persona versions are append-only');
CREATE TRIGGER adapter_activations_append_only BEFORE UPDATE ON adapter_activations
    FOR EACH ROW EXECUTE FUNCTION sleepcycle_refuse('adapter activations are append-only');

CREATE FUNCTION sleepcycle_queue_embedding() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO embedding_queue VALUES (TG_ARGV[0], NEW.seq, NEW.agent)
        ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER episodes_embedding_queue AFTER INSERT ON episodes
    FOR EACH ROW EXECUTE FUNCTION sleepcycle_queue_embedding('episode');
CREATE TRIGGER memories_embedding_queue_insert AFTER INSERT ON memories
    FOR EACH ROW EXECUTE FUNCTION sleepcycle_queue_embedding('memory');
CREATE TRIGGER memories_embedding_queue_update AFTER UPDATE OF text ON memories
    FOR EACH ROW WHEN (OLD.text IS DISTINCT FROM NEW.text)
    EXECUTE FUNCTION sleepcycle_queue_embedding('memory');
"""

_BM25 = f"""
CREATE FUNCTION sleepcycle_tokens(tsvector) RETURNS integer LANGUAGE sql IMMUTABLE STRICT
    PARALLEL SAFE AS $$ SELECT coalesce(sum(cardinality(positions)), 0)::integer FROM unnest($1) $$;

CREATE TABLE fts_docs (
    agent {_T} NOT NULL,
    item_type {_T} NOT NULL,
    docs BIGINT NOT NULL,
    tokens BIGINT NOT NULL,
    PRIMARY KEY (agent, item_type)
);
CREATE TABLE fts_terms (
    agent {_T} NOT NULL,
    item_type {_T} NOT NULL,
    lexeme {_T} NOT NULL,
    df BIGINT NOT NULL,
    PRIMARY KEY (agent, item_type, lexeme)
);
-- One row per lexeme of each row: read by an index-only scan, BM25 needs nothing else.
CREATE TABLE fts_postings (
    agent {_T} NOT NULL,
    item_type {_T} NOT NULL,
    lexeme {_T} NOT NULL,
    seq BIGINT NOT NULL,
    tf REAL NOT NULL,
    len INTEGER NOT NULL,
    PRIMARY KEY (agent, item_type, lexeme, seq) INCLUDE (tf, len)
);

-- What a statement added (sign +1) and took away (-1). The agent's fts_docs row is taken
-- first: it orders every writer of that agent's counts, so two never deadlock on lexemes.
-- A lexeme's frequency is its number of positions; a name (weight B) counts half.
CREATE FUNCTION sleepcycle_fts_add(kind text, seqs bigint[], agents text[],
        vectors tsvector[], signs integer[]) RETURNS void LANGUAGE sql AS $$
    INSERT INTO fts_docs AS d (agent, item_type, docs, tokens)
        SELECT x.agent, kind, sum(x.sign), sum(x.sign * sleepcycle_tokens(x.fts))
        FROM unnest(agents, vectors, signs) AS x (agent, fts, sign)
        GROUP BY x.agent ORDER BY x.agent
        ON CONFLICT (agent, item_type)
        DO UPDATE SET docs = d.docs + excluded.docs, tokens = d.tokens + excluded.tokens;
    INSERT INTO fts_terms AS t (agent, item_type, lexeme, df)
        SELECT x.agent, kind, u.lexeme, sum(x.sign)
        FROM unnest(agents, vectors, signs) AS x (agent, fts, sign), unnest(x.fts) u
        GROUP BY x.agent, u.lexeme ORDER BY x.agent, u.lexeme
        ON CONFLICT (agent, item_type, lexeme) DO UPDATE SET df = t.df + excluded.df;
    DELETE FROM fts_postings p
        USING unnest(agents, seqs, vectors, signs) AS x (agent, seq, fts, sign), unnest(x.fts) u
        WHERE x.sign < 0 AND p.agent = x.agent AND p.item_type = kind
        AND p.lexeme = u.lexeme AND p.seq = x.seq;
    INSERT INTO fts_postings (agent, item_type, lexeme, seq, tf, len)
        SELECT x.agent, kind, u.lexeme, x.seq,
            cardinality(u.positions) - 0.5 * cardinality(array_positions(u.weights, 'B')),
            sleepcycle_tokens(x.fts)
        FROM unnest(agents, seqs, vectors, signs) AS x (agent, seq, fts, sign), unnest(x.fts) u
        WHERE x.sign > 0;
$$;

CREATE FUNCTION sleepcycle_fts_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM sleepcycle_fts_add(TG_ARGV[0], array_agg(seq), array_agg(agent),
            array_agg(fts), array_agg(1)) FROM new_rows HAVING count(*) > 0;
    ELSE
        PERFORM sleepcycle_fts_add(TG_ARGV[0], array_agg(x.seq), array_agg(x.agent),
            array_agg(x.fts), array_agg(x.sign)) FROM (
                SELECT o.seq, o.agent, o.fts, -1 AS sign
                FROM new_rows n JOIN old_rows o USING (seq) WHERE n.fts IS DISTINCT FROM o.fts
                UNION ALL
                SELECT n.seq, n.agent, n.fts, 1
                FROM new_rows n JOIN old_rows o USING (seq) WHERE n.fts IS DISTINCT FROM o.fts
            ) x HAVING count(*) > 0;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sleepcycle_fts_count('memory');
CREATE TRIGGER memories_fts_update AFTER UPDATE ON memories
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sleepcycle_fts_count('memory');
CREATE TRIGGER episodes_fts_insert AFTER INSERT ON episodes REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sleepcycle_fts_count('episode');

SELECT sleepcycle_fts_add('memory', array_agg(seq), array_agg(agent), array_agg(fts),
    array_agg(1)) FROM memories HAVING count(*) > 0;
SELECT sleepcycle_fts_add('episode', array_agg(seq), array_agg(agent), array_agg(fts),
    array_agg(1)) FROM episodes HAVING count(*) > 0;
DROP INDEX memories_fts;
DROP INDEX episodes_fts;
"""

MIGRATIONS: list[tuple[str, str]] = [("0001_initial", _INITIAL), ("0002_bm25", _BM25)]

_LOCK = 7_413_220_501  # advisory lock key: one migrator at a time


def _statements(script: str) -> list[str]:
    """Split on ``;`` at line ends, keeping ``$$``-quoted function bodies whole."""
    out: list[str] = []
    buffer: list[str] = []
    quoted = False
    for line in script.splitlines():
        buffer.append(line)
        quoted ^= line.count("$$") % 2 == 1
        if not quoted and line.rstrip().endswith(";"):
            statement = "\n".join(buffer).strip()
            if statement:
                out.append(statement)
            buffer = []
    rest = "\n".join(buffer).strip()
    if rest:
        raise ValueError(f"incomplete SQL statement: {rest[:60]!r}")
    return out


def apply_migrations(conn: PgConnection) -> list[str]:
    """Bring the database up to date in one transaction; returns the names applied."""
    applied: list[str] = []
    with conn.raw.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(?)", (_LOCK,))
        conn.script(
            [
                "CREATE TABLE IF NOT EXISTS schema_migrations (id BIGINT GENERATED ALWAYS AS "
                'IDENTITY PRIMARY KEY, name TEXT COLLATE "C" NOT NULL UNIQUE, '
                "applied_at TEXT NOT NULL)"
            ]
        )
        done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
        unknown = sorted(done - {name for name, _ in MIGRATIONS})
        if unknown:
            raise StoreError(
                f"this database was written by a newer sleepcycle (migration {unknown[-1]}); "
                "upgrade sleepcycle to open it"
            )
        for name, script in MIGRATIONS:
            if name in done:
                continue
            conn.script(_statements(script))
            conn.execute(
                "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                (name, format_time(now())),
            )
            applied.append(name)
    return applied
