"""Where DBOS keeps the queue, and DBOS itself (an optional dependency)."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from ..config import Config
from ..errors import ConfigError
from ..store import scheme_of, sqlite_path

__all__ = ["APP", "FLEET_FILE", "dbos", "system_url"]

APP = "sleepcycle"
FLEET_FILE = "fleet.sqlite"


def dbos() -> ModuleType:
    """The ``dbos`` package, or a one-line error saying how to install it."""
    try:
        return importlib.import_module("dbos")
    except ImportError:
        raise ConfigError(
            "the fleet commands need DBOS; install them with: pip install 'sleepcycle[fleet]'"
        ) from None


def system_url(home: Path, config: Config, store_url: str) -> str:
    """DBOS's system database: ``fleet.system_database``, else the store's own database when
    it is PostgreSQL (DBOS keeps to its ``dbos`` schema), else ``<home>/fleet.sqlite``."""
    given = config.fleet.system_database
    if given:
        if scheme_of(given) not in ("sqlite", "postgresql", "postgres"):
            raise ConfigError(
                f"fleet.system_database must be sqlite:///abs/path or postgresql://..., "
                f"not {given.split('://')[0]}://"
            )
        return _sqlalchemy(home, given)
    if scheme_of(store_url) in ("postgresql", "postgres"):
        return _sqlalchemy(home, store_url)
    return _sqlalchemy(home, str(home / FLEET_FILE))


def _sqlalchemy(home: Path, url: str) -> str:
    """``url`` as SQLAlchemy (which DBOS uses) reads it: ``sqlite:////abs/path``."""
    if scheme_of(url) == "sqlite":
        path = sqlite_path(url)
        return f"sqlite:///{(path if path.is_absolute() else home / path).resolve()}"
    if url.startswith("postgres://"):
        return "postgresql://" + url.removeprefix("postgres://")
    return url
