"""Row <-> record conversion shared by the SQLite repositories."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from ..records import Association, Author, AuthorKind, MemoryKind, MemoryState, MemoryStatus
from ..times import format_time, parse_time
from .sql import Row

__all__ = [
    "author_columns",
    "author_from_row",
    "dump",
    "load",
    "state_from_row",
    "text_hash",
    "time_in",
    "time_or_none",
    "time_out",
]


def dump(value: Any) -> str:
    """JSON for a column: compact, sorted keys, unicode kept as is."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def load(text: str | None) -> Any:
    if text is None:
        return None
    # Most list and object columns are empty: no need to run the JSON parser for those.
    if text == "[]":
        return []
    if text == "{}":
        return {}
    return json.loads(text)


def time_in(value: datetime) -> str:
    return format_time(value)


def time_or_none(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)


def time_out(text: str | None) -> datetime | None:
    if text is None:
        return None
    if len(text) == 27 and text[-1] == "Z":  # the stored form, format_time's
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    return parse_time(text)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def author_columns(author: Author) -> tuple[str, str, str | None, str | None, str | None]:
    """(author_kind, author, sleep_id, stage, model) for a version row."""
    sleep_id = author.name if author.kind is AuthorKind.SLEEP else None
    return author.kind.value, author.name, sleep_id, author.stage, author.model


def author_from_row(row: Row) -> Author:
    return Author(AuthorKind(row["author_kind"]), row["author"], row["stage"], row["model"])


def state_from_row(row: Row) -> dict[str, Any]:
    """The MemoryState fields of a ``memories`` row, as keyword arguments."""
    return {
        "kind": MemoryKind(row["kind"]),
        "text": row["text"],
        "status": MemoryStatus(row["status"]),
        "score": row["score"],
        "deep": bool(row["deep"]),
        "valid_from": time_out(row["valid_from"]),
        "valid_to": time_out(row["valid_to"]),
        "sources": tuple(load(row["sources"])),
        "associations": tuple(
            Association(a["id"], a["relation"]) for a in load(row["associations"])
        ),
        "tags": tuple(load(row["tags"])),
        "meta": load(row["meta"]),
    }


def state_columns(state: MemoryState) -> dict[str, Any]:
    """Column values for a MemoryState."""
    return {
        "kind": state.kind.value,
        "text": state.text,
        "text_hash": text_hash(state.text),
        "status": state.status.value,
        "score": state.score,
        "deep": int(state.deep),
        "valid_from": time_or_none(state.valid_from),
        "valid_to": time_or_none(state.valid_to),
        "sources": dump(list(state.sources)),
        "associations": dump([{"id": a.id, "relation": a.relation} for a in state.associations]),
        "tags": dump(list(state.tags)),
        "meta": dump(dict(state.meta)),
    }


def placeholders(values: Iterable[Any] | Mapping[str, Any]) -> str:
    return ", ".join("?" for _ in values)
