"""A psycopg connection that the SQL repositories can use as they use sqlite3's: ``?``
placeholders (rewritten to psycopg's ``%s``), rows read by column name or position.

PostgreSQL text cannot hold NUL (U+0000); SQLite's can. A value with one is refused before it
is sent, with a one-line error that says so, instead of PostgreSQL's own error deep in a write.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg.rows import RowMaker

from ...errors import InputError

__all__ = ["PgConnection", "PgRow", "translate"]


class PgRow(tuple[Any, ...]):
    """A row read by position (``row[0]``) or by column name (``row["seq"]``)."""

    names: dict[str, int]

    def __new__(cls, values: Sequence[Any], names: dict[str, int]) -> PgRow:
        row = super().__new__(cls, values)
        row.names = names
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return super().__getitem__(self.names[key])
        return super().__getitem__(key)

    def keys(self) -> list[str]:
        return list(self.names)


def _rows(cursor: psycopg.Cursor[Any]) -> RowMaker[PgRow]:
    names = {c.name: i for i, c in enumerate(cursor.description or ())}
    return lambda values: PgRow(values, names)


@functools.lru_cache(maxsize=4096)
def translate(sql: str) -> str:
    """``?`` outside quoted text becomes ``%s``; a literal ``%`` becomes ``%%``."""
    out: list[str] = []
    quote: str | None = None
    for char in sql:
        if quote:
            if char == quote:
                quote = None
            out.append("%%" if char == "%" else char)
        elif char in ("'", '"'):
            quote = char
            out.append(char)
        elif char == "?":
            out.append("%s")
        elif char == "%":
            out.append("%%")
        else:
            out.append(char)
    return "".join(out)


def _checked(values: tuple[Any, ...]) -> tuple[Any, ...]:
    for value in values:
        if isinstance(value, str) and "\x00" in value:
            shown = value.split("\x00", 1)[0][-30:]
            raise InputError(
                f"text after {shown!r} holds a NUL character (U+0000), which PostgreSQL "
                "cannot store; remove it from the input (the SQLite store accepts it)"
            )
    return values


class PgConnection:
    """One psycopg connection, with sqlite3's calling convention."""

    def __init__(self, conn: psycopg.Connection[Any]):
        self.raw = conn
        conn.row_factory = _rows

    def execute(self, sql: str, parameters: Any = (), /) -> psycopg.Cursor[Any]:
        cursor = self.raw.cursor()
        values = _checked(tuple(parameters))
        if values:
            cursor.execute(translate(sql), values, prepare=False)
        else:  # no parameters: psycopg sends the text as it is, '%' included
            cursor.execute(sql.encode("utf-8"), prepare=False)
        return cursor

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> psycopg.Cursor[Any]:
        cursor = self.raw.cursor()
        cursor.executemany(translate(sql), [_checked(tuple(p)) for p in parameters])
        return cursor

    def script(self, statements: Iterable[str]) -> None:
        """Statements as written (no placeholders), e.g. a migration."""
        with self.raw.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement.encode("utf-8"), prepare=False)

    def close(self) -> None:
        self.raw.close()
