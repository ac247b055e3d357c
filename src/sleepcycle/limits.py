"""The largest input sleepcycle takes, one limit per kind of input, and the checks behind them.

Limits live in ``[limits]`` (``LimitSettings``); the library enforces them wherever input enters
(``Mind.record``, ``ingest_messages``, ``ingest``, memory files), and the HTTP servers enforce
``request_bytes`` before a body is read, so an oversize request costs neither memory nor time.
Past a limit the input is refused whole with an ``InputError`` that names the limit and its
setting; nothing is stored. Memory, thought and persona texts have a fixed ceiling
(``changes.MAX_TEXT``, 20,000 characters): they are meant to be short.

Checks that walk nested values (``check_value``) are iterative, so a value nested 100,000 deep
is refused, not a ``RecursionError``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import InputError

__all__ = ["check_text", "check_value", "surrogate_at"]


def surrogate_at(text: str) -> int | None:
    """The index of the first lone surrogate in ``text`` (not valid Unicode), if any."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def check_text(text: str, what: str, max_chars: int | None = None, setting: str = "") -> None:
    """Refuse text that is not valid Unicode, or longer than ``max_chars``."""
    bad = surrogate_at(text)
    if bad is not None:
        raise InputError(
            f"{what} is not valid Unicode (a lone surrogate at character {bad}); send UTF-8 text"
        )
    if max_chars is not None and len(text) > max_chars:
        limit = f"the {setting} limit of {max_chars:,}" if setting else f"{max_chars:,}"
        raise InputError(
            f"{what} is {len(text):,} characters, over {limit}; split it, or raise the limit "
            "in config.toml"
        )


def _children(value: Any, path: str) -> Iterable[tuple[Any, str]]:
    if isinstance(value, Mapping):
        for key, child in value.items():
            inner = f"{path}.{key}" if path else str(key)
            yield key, path
            yield child, inner
    elif isinstance(value, list | tuple):
        for index, child in enumerate(value):
            yield child, f"{path}[{index}]"


def check_value(value: Any, what: str, *, max_depth: int, max_bytes: int | None = None) -> None:
    """Refuse a JSON-like value nested deeper than ``max_depth``, holding text that is not
    valid Unicode or a number that is not finite, or (``max_bytes``) larger than that as JSON."""
    stack: list[tuple[Any, int, str]] = [(value, 0, "")]
    while stack:
        item, depth, path = stack.pop()
        where = f"{what}'s {path}" if path else what
        if isinstance(item, str):
            if surrogate_at(item) is not None:
                raise InputError(f"{where} holds text that is not valid Unicode; send UTF-8 text")
        elif isinstance(item, float) and not math.isfinite(item):
            raise InputError(f"{where} holds {item}, which JSON cannot carry; give a finite number")
        elif isinstance(item, Mapping | list | tuple):
            if depth >= max_depth:
                raise InputError(
                    f"{what} is nested more than {max_depth} levels deep; flatten it "
                    "(limits.meta_depth)"
                )
            stack.extend((child, depth + 1, at) for child, at in _children(item, path))
    if max_bytes is not None:
        size = len(json.dumps(value, ensure_ascii=False, default=str).encode("utf-8"))
        if size > max_bytes:
            raise InputError(
                f"{what} is {size:,} bytes as JSON, over the limits.meta_bytes limit of "
                f"{max_bytes:,}; keep large data out of metadata"
            )
