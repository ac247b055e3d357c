"""Printing for the CLI: JSON for scripts, rich tables and panels for people."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..records import Episode, Memory, MemoryVersion, PersonaVersion, Thought
from ..times import format_time

__all__ = [
    "console",
    "episode_json",
    "err_console",
    "print_json",
    "progress_bar",
    "short_time",
    "thought_json",
    "version_json",
]

console = Console(highlight=False, soft_wrap=False)
err_console = Console(stderr=True, highlight=False)


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def short_time(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M")


def episode_json(ep: Episode) -> dict[str, Any]:
    return {
        "id": ep.id,
        "agent": ep.agent,
        "session": ep.session,
        "role": ep.role.value,
        "name": ep.name,
        "content": ep.content,
        "time": format_time(ep.time),
        "recorded_at": format_time(ep.recorded_at),
        "meta": dict(ep.meta),
        "source": ep.source,
        "consolidated_in": ep.consolidated_in,
    }


def thought_json(t: Thought) -> dict[str, Any]:
    return {
        "id": t.id,
        "agent": t.agent,
        "kind": t.kind.value,
        "text": t.text,
        "status": t.status.value,
        "sources": list(t.sources),
        "meta": dict(t.meta),
        "created": format_time(t.created),
        "updated": format_time(t.updated),
        "resolved_in": t.resolved_in,
        "note": t.note,
    }


def version_json(v: MemoryVersion) -> dict[str, Any]:
    return {
        "memory_id": v.memory_id,
        "version": v.version,
        "op": v.op.value,
        "author": {
            "kind": v.author.kind.value,
            "name": v.author.name,
            "stage": v.author.stage,
            "model": v.author.model,
        },
        "reason": v.reason,
        "verdict": dict(v.verdict) if v.verdict is not None else None,
        "created": format_time(v.created),
        "before": v.before.to_json() if v.before is not None else None,
        "after": v.after.to_json(),
    }


def persona_json(p: PersonaVersion) -> dict[str, Any]:
    return {
        "agent": p.agent,
        "version": p.version,
        "text": p.text,
        "pinned": list(p.pinned),
        "author": str(p.author),
        "reason": p.reason,
        "created": format_time(p.created),
    }


def memory_table(memories: Iterable[Memory], title: str | None = None) -> Table:
    table = Table(title=title, show_lines=False, expand=False)
    table.add_column("id", style="cyan", no_wrap=True)
    table.add_column("kind")
    table.add_column("status")
    table.add_column("v", justify="right")
    table.add_column("text", overflow="fold")
    table.add_column("updated", no_wrap=True)
    for m in memories:
        table.add_row(
            m.id,
            m.kind.value,
            m.status.value,
            str(m.version),
            escape(m.text),
            short_time(m.updated),
        )
    return table


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress callback ``(done, total)`` drawn on stderr when it is a terminal."""
    if not sys.stderr.isatty():
        yield lambda done, total: None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update
