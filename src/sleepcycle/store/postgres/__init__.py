"""The PostgreSQL store (``postgresql://user@host/db``), with pgvector for vectors and
PostgreSQL's full text for words. Needs the ``postgres`` extra (psycopg); this module imports
without it, so the registry can list the store on an install that has no use for it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ...errors import ConfigError
from ..registry import StoreKind

if TYPE_CHECKING:
    from .store import PgStore

__all__ = ["POSTGRES", "STORE"]


def _open(url: str, options: Mapping[str, Any]) -> PgStore:
    if not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"not a PostgreSQL URL: {url!r}; e.g. postgresql://user@host/db")
    try:
        from .store import PgStore  # noqa: PLC0415 - the postgres extra
    except ImportError as exc:
        raise ConfigError(
            f"the PostgreSQL store needs the postgres extra ({exc.name} is missing): "
            "pip install 'sleepcycle[postgres]'"
        ) from None
    return PgStore(url)


STORE = StoreKind("postgresql", _open)
POSTGRES = StoreKind("postgres", _open)
