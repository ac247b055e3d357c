"""Opening a store by URL: the scheme picks the implementation (``plugins.StoreKind``).

``sqlite:///abs/path.db`` (and a plain filesystem path, which means the same) is the built-in;
other schemes come from packages' ``sleepcycle.stores`` entry points.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..entrypoints import load
from ..errors import ConfigError
from .contract import Store

__all__ = [
    "STORES",
    "StoreKind",
    "open_store",
    "scheme_of",
    "shown_url",
    "store_kind",
    "stores",
]

STORES = "sleepcycle.stores"


@dataclass(frozen=True, slots=True)
class StoreKind:
    """A store implementation: ``open(url, options)`` opens (creating and migrating as needed)
    the store at a ``scheme://...`` URL; ``options`` are tuning knobs it may ignore
    (``exact_limit``, ``rerank``, ``ann_from``). It must pass the conformance suite
    (``sleepcycle.store.conformance``). Also ``sleepcycle.plugins.StoreKind``."""

    scheme: str
    open: Callable[[str, Mapping[str, int]], Store]


def stores() -> dict[str, StoreKind]:
    """Every registered store implementation, by URL scheme."""
    return load(STORES, StoreKind)


def store_kind(scheme: str) -> StoreKind:
    known = stores()
    if scheme not in known:
        raise ConfigError(
            f"no store for {scheme}:// URLs; registered: "
            f"{', '.join(s + '://' for s in sorted(known))} (a store comes from a package's "
            f"{STORES} entry point)"
        )
    return known[scheme]


def scheme_of(url: str | Path) -> str:
    """The URL's scheme; a plain path (no ``scheme://``) is a SQLite file."""
    text = str(url)
    head, sep, _ = text.partition("://")
    if not sep:
        return "sqlite"
    if not head or not head.replace("+", "").replace("-", "").replace(".", "").isalnum():
        raise ConfigError(f"store URL {text!r} has no scheme before ://; e.g. sqlite:///path.db")
    return head.lower()


def open_store(url: str | Path, **options: int) -> Store:
    """The store at ``url``, opened (and migrated) by the implementation of its scheme."""
    kind = store_kind(scheme_of(url))
    return kind.open(str(url), options)


def shown_url(url: str) -> str:
    """``url`` without its password, for messages and terminals
    (``postgresql://maya:secret@db/mem`` -> ``postgresql://maya@db/mem``)."""
    head, at, tail = url.rpartition("@")
    if not at or "://" not in head:
        return url
    scheme, _, user = head.partition("://")
    return f"{scheme}://{user.split(':')[0]}@{tail}"
