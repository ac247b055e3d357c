"""The store contract: the conformance suite on SQLite, and on a store registered from outside
the package (one module and its entry point), which the whole stack then runs on."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import sleepcycle
from sleepcycle import ConfigError, StoreError
from sleepcycle.plugins import reload, stores
from sleepcycle.store import MemoryFilter, SqliteStore, Store
from sleepcycle.store.conformance import StoreContract
from sleepkit import install_outside

VAULT = '''
"""A third-party store: SQLite files named vault://FOLDER/NAME, one per name."""
from pathlib import Path

from sleepcycle.plugins import StoreKind
from sleepcycle.store import SqliteStore


class VaultStore(SqliteStore):
    pass


def _open(url, options):
    folder, _, name = url[len("vault://"):].rpartition("/")
    store = VaultStore(Path(folder) / f"{name}.vault", **options)
    store.url = url
    return store


STORE = StoreKind("vault", _open)
'''


@pytest.fixture
def vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    site = install_outside(
        tmp_path / "site", "vault_store", VAULT, "[sleepcycle.stores]\nvault = vault_store:STORE\n"
    )
    monkeypatch.syspath_prepend(str(site))
    reload()
    yield tmp_path / "vaults"
    reload()


class TestSqliteStore(StoreContract):
    @pytest.fixture
    def store_url(self, tmp_path: Path) -> str:
        return f"sqlite://{tmp_path / 'contract.db'}"


class TestPostgresStore(StoreContract):
    @pytest.fixture
    def store_url(self, postgres_url: str) -> str:
        return postgres_url


class TestOutsideStore(StoreContract):
    @pytest.fixture
    def store_url(self, vault: Path) -> str:
        vault.mkdir()
        return f"vault://{vault}/contract"


def test_a_plain_path_and_a_sqlite_url_open_the_same_file(tmp_path: Path) -> None:
    with Store.open(tmp_path / "a.db") as store:
        assert isinstance(store, SqliteStore)
        assert store.url == f"sqlite://{(tmp_path / 'a.db').resolve()}"
        with store.write() as tx:
            tx.ensure_agent("maya")
    for url in (f"sqlite://{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'a.db'}"):
        with Store.open(url) as store:  # three slashes and an absolute path, or four
            assert store.agents() == ["maya"]


@pytest.mark.parametrize(
    ("url", "named"),
    [
        (
            "nope://somewhere",
            "no store for nope:// URLs; registered: postgres://, postgresql://, sqlite://",
        ),
        ("sqlite://relative.db", "a SQLite URL names an absolute path"),
        ("://x", "no scheme before ://"),
    ],
)
def test_a_url_no_store_can_open_is_one_line_naming_the_fix(url: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace("/", ".").replace(":", ".")) as err:
        Store.open(url)
    assert "\n" not in str(err.value)


def test_the_whole_stack_runs_on_an_outside_store(vault: Path, tmp_path: Path) -> None:
    """``store.url`` picks the store; ingest, recall and export work on it, and the data is in
    the store's own file, not in the home's SQLite file."""
    assert set(stores()) == {"sqlite", "postgresql", "postgres", "vault"}
    home = tmp_path / "home"
    home.mkdir()
    vault.mkdir()
    (home / "config.toml").write_text(
        textwrap.dedent(
            f"""\
            [store]
            url = "vault://{vault}/maya"
            """
        )
    )
    from sleepcycle.embed import HashingEmbedder

    with sleepcycle.open(home, agent="maya", embedder=HashingEmbedder()) as mind:
        assert type(mind.store).__name__ == "VaultStore"
        mind.record("user", "I moved to Lisbon last week.")
        mind.add("Maya lives in Lisbon.", kind="fact")
        hits = mind.recall("where does Maya live?").hits
        assert [h.text for h in hits] == ["Maya lives in Lisbon."]
    assert (vault / "maya.vault").is_file()
    assert not (home / "sleepcycle.db").exists()


def test_a_postgresql_url_opens_the_postgresql_store(postgres_url: str) -> None:
    from sleepcycle.store.postgres.store import PgStore

    with Store.open(postgres_url) as store:
        assert isinstance(store, PgStore)
        with store.write() as tx:
            tx.ensure_agent("maya")
    with Store.open(postgres_url) as again:  # migrations are not applied twice
        assert again.agents() == ["maya"]


def test_a_postgresql_server_that_is_not_there_is_one_line() -> None:
    with pytest.raises(StoreError, match="cannot connect to the store at postgresql://") as err:
        Store.open("postgresql://nobody:secret@/nowhere?host=/nonexistent-socket-dir")
    assert "\n" not in str(err.value) and "secret" not in str(err.value)


def test_two_agents_write_vectors_at_once_without_waiting_for_each_other(
    postgres_url: str,
) -> None:
    """Each write that stores vectors makes sure the HNSW index exists; once it does, two
    agents' writers must not queue behind each other on it (the check used to take a table
    lock that waits for every open insert, and two such writers deadlocked)."""
    import threading

    import numpy as np

    from sleepcycle.records import ItemType
    from sleepcycle.store.conformance import add_memory

    first, second = Store.open(postgres_url), Store.open(postgres_url)
    vector = np.full(8, 8**-0.5, dtype=np.float32)
    for store, agent in ((first, "ada"), (second, "bo")):
        add_memory(store, agent, f"mem-{agent}", f"{agent} keeps bees.")
    rows = {
        agent: [(seq, digest, vector.tobytes())]
        for store, agent in ((first, "ada"), (second, "bo"))
        for seq, _, digest in store.embeddings.pending(agent, ItemType.MEMORY, 10)
    }
    with first.write() as tx:  # the index exists from here on
        tx.embeddings.put("ada", ItemType.MEMORY, "m1", rows["ada"])
    with first.write() as tx:
        tx.embeddings.put("ada", ItemType.MEMORY, "m1", rows["ada"])  # open: an insert held
        done = threading.Event()

        def other() -> None:
            with second.write() as tx2:
                tx2.embeddings.put("bo", ItemType.MEMORY, "m1", rows["bo"])
            done.set()

        thread = threading.Thread(target=other, daemon=True)
        thread.start()
        assert done.wait(10), "the second agent's write waited for the first's transaction"
    thread.join(10)
    hits = second.vector_search("bo", ItemType.MEMORY, "m1", vector, MemoryFilter(), 1)
    assert len(hits) == 1
    first.close()
    second.close()


def test_postgresql_text_statistics_match_the_rows_after_adds_and_edits(
    postgres_url: str,
) -> None:
    """BM25 on PostgreSQL reads per-agent counts and postings that triggers keep; after
    adds, edits and a second agent they equal what the rows themselves say."""
    import psycopg

    from sleepcycle.records import MemoryChange, MemoryKind, MemoryState, Op
    from sleepcycle.store.conformance import USER, add_memory

    with Store.open(postgres_url) as store:
        add_memory(store, "ada", "m1", "Ada keeps bees and bees keep Ada busy.")
        add_memory(store, "ada", "m2", "Ada sells honey at the market.")
        add_memory(store, "bo", "m3", "Bo keeps goats.")
        edited = MemoryState(kind=MemoryKind.FACT, text="Ada sells candles at the fair.")
        with store.write() as tx:
            tx.memories.apply("ada", [MemoryChange("m2", Op.EDIT, edited, USER, base_version=1)])
            tx.memories.apply("ada", [MemoryChange("m4", Op.ADD, edited, USER)])
    with psycopg.connect(postgres_url) as conn:
        kept = conn.execute(
            "SELECT agent, lexeme, df FROM fts_terms WHERE item_type = 'memory' AND df <> 0 "
            "ORDER BY 1, 2"
        ).fetchall()
        recomputed = conn.execute(
            "SELECT m.agent, u.lexeme, count(*) FROM memories m, unnest(m.fts) u "
            "GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
        docs = conn.execute(
            "SELECT agent, docs, tokens FROM fts_docs WHERE item_type = 'memory' ORDER BY 1"
        ).fetchall()
        rows = conn.execute(
            "SELECT agent, count(*), sum(sleepcycle_tokens(fts)) FROM memories "
            "GROUP BY 1 ORDER BY 1"
        ).fetchall()
        postings = conn.execute(
            "SELECT p.lexeme, p.tf, m.id FROM fts_postings p JOIN memories m ON m.seq = p.seq "
            "WHERE p.agent = 'ada' ORDER BY 1, 3"
        ).fetchall()
    assert kept == recomputed and ("ada", "honey", 1) not in kept
    assert ("ada", "candl", 2) in kept
    assert docs == rows
    assert ("bee", 2.0, "m1") in postings and ("candl", 1.0, "m2") in postings
    assert not [p for p in postings if p[0] == "honey"]
    assert len(postings) == sum(df for agent, _, df in kept if agent == "ada")


def test_a_nul_in_text_is_refused_in_one_line_on_postgresql(postgres_url: str) -> None:
    from sleepcycle import InputError
    from sleepcycle.store.conformance import add_memory

    with Store.open(postgres_url) as store:
        add_memory(store, "ada", "m1", "Ada keeps bees.")
        with pytest.raises(InputError, match="NUL character") as err:
            add_memory(store, "ada", "m2", "Ada keeps\x00 goats.")
        assert "\n" not in str(err.value) and "remove it" in str(err.value)
        assert [m.id for m in store.memories.find("ada")] == ["m1"]
