-- index adapter_activations_agent
CREATE INDEX adapter_activations_agent ON adapter_activations (agent, seq);

-- index embedding_queue_agent
CREATE INDEX embedding_queue_agent ON embedding_queue (agent, item_type, item_seq);

-- index embeddings_feed
CREATE INDEX embeddings_feed ON embeddings (agent, item_type, model, seq);

-- index episodes_agent_session
CREATE INDEX episodes_agent_session ON episodes (agent, session, time);

-- index episodes_agent_time
CREATE INDEX episodes_agent_time ON episodes (agent, time);

-- index episodes_consolidated_in
CREATE INDEX episodes_consolidated_in ON episodes (consolidated_in)
    WHERE consolidated_in IS NOT NULL;

-- index episodes_unconsolidated
CREATE INDEX episodes_unconsolidated ON episodes (agent, seq) WHERE consolidated_in IS NULL;

-- index journal_sleep
CREATE INDEX journal_sleep ON journal (sleep_id, seq);

-- index memories_agent_deep
CREATE INDEX memories_agent_deep ON memories (agent, deep) WHERE deep = 0;

-- index memories_agent_rev
CREATE INDEX memories_agent_rev ON memories (agent, rev);

-- index memories_agent_status
CREATE INDEX memories_agent_status ON memories (agent, status, kind);

-- index memories_rev
CREATE INDEX memories_rev ON memories (rev);

-- index memory_versions_sleep
CREATE INDEX memory_versions_sleep ON memory_versions (sleep_id) WHERE sleep_id IS NOT NULL;

-- index review_queue_agent_status
CREATE INDEX review_queue_agent_status ON review_queue (agent, status, seq);

-- index sleeps_agent_started
CREATE INDEX sleeps_agent_started ON sleeps (agent, started);

-- index thoughts_agent_status
CREATE INDEX thoughts_agent_status ON thoughts (agent, status, created);

-- table adapter_activations
CREATE TABLE adapter_activations (
    seq INTEGER PRIMARY KEY,
    agent TEXT NOT NULL REFERENCES agents(id),
    adapter_id TEXT REFERENCES adapters(id),
    at TEXT NOT NULL,
    by TEXT NOT NULL,
    reason TEXT,
    replaces INTEGER REFERENCES adapter_activations(seq)
);

-- table adapters
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

-- table agents
CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    watermark INTEGER NOT NULL DEFAULT 0,
    meta TEXT NOT NULL DEFAULT '{}'
);

-- table counters
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);

-- table embedding_queue
CREATE TABLE embedding_queue (
    item_type TEXT NOT NULL CHECK (item_type IN ('memory', 'episode')),
    item_seq INTEGER NOT NULL,
    agent TEXT NOT NULL,
    PRIMARY KEY (item_type, item_seq)
) WITHOUT ROWID;

-- table embeddings
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

-- table episodes
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

-- table episodes_fts
CREATE VIRTUAL TABLE episodes_fts USING fts5 (
    name, content,
    content = 'episodes', content_rowid = 'seq',
    tokenize = 'porter unicode61 remove_diacritics 2'
);

-- table episodes_fts_config
CREATE TABLE 'episodes_fts_config'(k PRIMARY KEY, v) WITHOUT ROWID;

-- table episodes_fts_data
CREATE TABLE 'episodes_fts_data'(id INTEGER PRIMARY KEY, block BLOB);

-- table episodes_fts_docsize
CREATE TABLE 'episodes_fts_docsize'(id INTEGER PRIMARY KEY, sz BLOB);

-- table episodes_fts_idx
CREATE TABLE 'episodes_fts_idx'(segid, term, pgno, PRIMARY KEY(segid, term)) WITHOUT ROWID;

-- table journal
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

-- table locks
CREATE TABLE locks (
    agent TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    acquired TEXT NOT NULL,
    heartbeat TEXT NOT NULL
);

-- table memories
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

-- table memories_fts
CREATE VIRTUAL TABLE memories_fts USING fts5 (
    text,
    content = 'memories', content_rowid = 'seq',
    tokenize = 'porter unicode61 remove_diacritics 2'
);

-- table memories_fts_config
CREATE TABLE 'memories_fts_config'(k PRIMARY KEY, v) WITHOUT ROWID;

-- table memories_fts_data
CREATE TABLE 'memories_fts_data'(id INTEGER PRIMARY KEY, block BLOB);

-- table memories_fts_docsize
CREATE TABLE 'memories_fts_docsize'(id INTEGER PRIMARY KEY, sz BLOB);

-- table memories_fts_idx
CREATE TABLE 'memories_fts_idx'(segid, term, pgno, PRIMARY KEY(segid, term)) WITHOUT ROWID;

-- table memory_versions
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

-- table model_calls
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

-- table persona_versions
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

-- table review_queue
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

-- table schema_migrations
CREATE TABLE schema_migrations ( id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, applied_at TEXT NOT NULL);

-- table settings
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- table sleep_stages
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

-- table sleeps
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

-- table thoughts
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

-- trigger adapter_activations_append_only
CREATE TRIGGER adapter_activations_append_only BEFORE UPDATE ON adapter_activations
BEGIN
    SELECT RAISE(ABORT, 'adapter activations are append-only');
END;

-- trigger episodes_embedding_queue
CREATE TRIGGER episodes_embedding_queue AFTER INSERT ON episodes
BEGIN
    INSERT OR IGNORE INTO embedding_queue VALUES ('episode', new.seq, new.agent);
END;

-- trigger episodes_fts_insert
CREATE TRIGGER episodes_fts_insert AFTER INSERT ON episodes
BEGIN
    INSERT INTO episodes_fts (rowid, name, content) VALUES (new.seq, new.name, new.content);
END;

-- trigger episodes_immutable
CREATE TRIGGER episodes_immutable BEFORE UPDATE OF
    id, agent, session, role, name, content, time, meta, source, recorded_at ON episodes
BEGIN
    SELECT RAISE(ABORT, 'episodes are immutable');
END;

-- trigger episodes_no_delete
CREATE TRIGGER episodes_no_delete BEFORE DELETE ON episodes
BEGIN
    SELECT RAISE(ABORT, 'episodes are never deleted');
END;

-- trigger memories_embedding_queue_insert
CREATE TRIGGER memories_embedding_queue_insert AFTER INSERT ON memories
BEGIN
    INSERT OR IGNORE INTO embedding_queue VALUES ('memory', new.seq, new.agent);
END;

-- trigger memories_embedding_queue_update
CREATE TRIGGER memories_embedding_queue_update AFTER UPDATE OF text ON memories
    WHEN old.text != new.text
BEGIN
    INSERT OR IGNORE INTO embedding_queue VALUES ('memory', new.seq, new.agent);
END;

-- trigger memories_fts_insert
CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories
BEGIN
    INSERT INTO memories_fts (rowid, text) VALUES (new.seq, new.text);
END;

-- trigger memories_fts_update
CREATE TRIGGER memories_fts_update AFTER UPDATE OF text ON memories
BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, text) VALUES ('delete', old.seq, old.text);
    INSERT INTO memories_fts (rowid, text) VALUES (new.seq, new.text);
END;

-- trigger memories_no_delete
CREATE TRIGGER memories_no_delete BEFORE DELETE ON memories
BEGIN
    SELECT RAISE(ABORT, 'memories are never deleted; retract them');
END;

-- trigger memory_versions_append_only
CREATE TRIGGER memory_versions_append_only BEFORE UPDATE ON memory_versions
BEGIN
    SELECT RAISE(ABORT, 'memory versions are append-only');
END;

-- trigger memory_versions_no_delete
CREATE TRIGGER memory_versions_no_delete BEFORE DELETE ON memory_versions
BEGIN
    SELECT RAISE(ABORT, 'memory versions are append-only');
END;

-- trigger persona_versions_append_only
CREATE TRIGGER persona_versions_append_only BEFORE UPDATE ON persona_versions
BEGIN
    SELECT RAISE(ABORT, 'persona versions are append-only');
END;

