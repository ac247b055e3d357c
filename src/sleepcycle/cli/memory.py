"""``sleepcycle memory``: a person reading and editing memory. Nothing is ever deleted."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import click
from rich.markup import escape
from rich.table import Table

from ..changes import UNSET
from ..records import Memory, MemoryKind, MemoryStatus
from ..serialize import version_json
from .context import State, parse_time_option, pass_state, read_text_arg
from .output import console, memory_table, print_json, short_time

F = TypeVar("F", bound=Callable[..., Any])
KINDS = [k.value for k in MemoryKind]
STATUSES = [s.value for s in MemoryStatus]


def statuses_option(default: tuple[str, ...]) -> Callable[[F], F]:
    return click.option(
        "--status",
        "statuses",
        multiple=True,
        type=click.Choice([*STATUSES, "all"]),
        default=default,
        show_default=True,
        help="Only memories with this status (repeatable; 'all' for every status).",
    )


def parse_statuses(values: tuple[str, ...]) -> list[MemoryStatus]:
    if "all" in values:
        return list(MemoryStatus)
    return [MemoryStatus(v) for v in values]


def _done(memory: Memory, verb: str, as_json: bool) -> None:
    if as_json:
        print_json(memory.to_json())
    else:
        console.print(
            f"{verb} [cyan]{memory.id}[/] (version {memory.version}): {escape(memory.text)}"
        )


@click.group()
def memory() -> None:
    """Read and edit memories by hand; every change is a new version."""


@memory.command("add")
@click.argument("text")
@click.option("--kind", type=click.Choice(KINDS), default="fact", show_default=True)
@click.option("--tag", "tags", multiple=True, help="Tag (repeatable).")
@click.option("--source", "sources", multiple=True, help="Episode id it rests on (repeatable).")
@click.option("--valid-from", callback=parse_time_option, help="When it became true.")
@click.option("--valid-to", callback=parse_time_option, help="When it stopped being true.")
@click.option("--reason", help="Why; kept in the history.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def memory_add(
    state: State,
    text: str,
    kind: str,
    tags: tuple[str, ...],
    sources: tuple[str, ...],
    valid_from: datetime | None,
    valid_to: datetime | None,
    reason: str | None,
    as_json: bool,
) -> None:
    """Add a memory. TEXT may be - to read standard input."""
    m = state.mind.add(
        read_text_arg(text),
        kind=kind,
        tags=tags,
        sources=sources,
        valid_from=valid_from,
        valid_to=valid_to,
        reason=reason,
    )
    _done(m, "added", as_json)


@memory.command("edit")
@click.argument("memory_id")
@click.option("--text", help="New text (- reads standard input).")
@click.option("--kind", type=click.Choice(KINDS))
@click.option("--tag", "tags", multiple=True, help="Replace the tags (repeatable).")
@click.option("--clear-tags", is_flag=True, help="Remove every tag.")
@click.option("--valid-from", callback=parse_time_option)
@click.option("--valid-to", callback=parse_time_option)
@click.option("--reason", help="Why; kept in the history.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def memory_edit(
    state: State,
    memory_id: str,
    text: str | None,
    kind: str | None,
    tags: tuple[str, ...],
    clear_tags: bool,
    valid_from: datetime | None,
    valid_to: datetime | None,
    reason: str | None,
    as_json: bool,
) -> None:
    """Rewrite a memory's text, kind, tags or validity."""
    m = state.mind.edit(
        memory_id,
        text=read_text_arg(text) if text is not None else None,
        kind=kind,
        tags=() if clear_tags else (tags or None),
        valid_from=UNSET if valid_from is None else valid_from,
        valid_to=UNSET if valid_to is None else valid_to,
        reason=reason,
    )
    _done(m, "edited", as_json)


@memory.command("amend")
@click.argument("memory_id")
@click.argument("text")
@click.option("--source", "sources", multiple=True, help="Episode id it rests on (repeatable).")
@click.option("--reason", help="Why; kept in the history.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def memory_amend(
    state: State,
    memory_id: str,
    text: str,
    sources: tuple[str, ...],
    reason: str | None,
    as_json: bool,
) -> None:
    """Add to a memory without rewriting it."""
    m = state.mind.amend(memory_id, read_text_arg(text), sources=sources, reason=reason)
    _done(m, "amended", as_json)


@memory.command("retract")
@click.argument("memory_id")
@click.option("--reason", help="Why; kept in the history.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def memory_retract(state: State, memory_id: str, reason: str | None, as_json: bool) -> None:
    """Withdraw a memory: it leaves recall; its text and history stay (a tombstone)."""
    _done(state.mind.retract(memory_id, reason=reason), "retracted", as_json)


@memory.command("restore")
@click.argument("memory_id")
@click.option("--version", "version", type=int, help="Version to bring back (default: previous).")
@click.option("--reason", help="Why; kept in the history.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def memory_restore(
    state: State, memory_id: str, version: int | None, reason: str | None, as_json: bool
) -> None:
    """Bring back an earlier version of a memory, as a new version."""
    _done(state.mind.restore(memory_id, version=version, reason=reason), "restored", as_json)


@memory.command("link")
@click.argument("memory_id")
@click.argument("other_id")
@click.option("--relation", default="related", show_default=True)
@click.option("--reason", help="Why; kept in the history.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def memory_link(
    state: State, memory_id: str, other_id: str, relation: str, reason: str | None, as_json: bool
) -> None:
    """Associate MEMORY_ID with OTHER_ID."""
    m = state.mind.link(memory_id, other_id, relation=relation, reason=reason)
    _done(m, "linked", as_json)


@memory.command("unlink")
@click.argument("memory_id")
@click.argument("other_id")
@click.option("--reason", help="Why; kept in the history.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def memory_unlink(
    state: State, memory_id: str, other_id: str, reason: str | None, as_json: bool
) -> None:
    """Remove the link from MEMORY_ID to OTHER_ID (the history keeps it)."""
    _done(state.mind.unlink(memory_id, other_id, reason=reason), "unlinked", as_json)


@memory.command("show")
@click.argument("memory_id")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def memory_show(state: State, memory_id: str, as_json: bool) -> None:
    """Show a memory with its evidence and links."""
    mind = state.mind
    m = mind.memory(memory_id)
    sources = mind.store.episodes.get_many(mind.agent, list(m.sources))
    backlinks = mind.linked_from(m.id)
    if as_json:
        print_json(
            {
                **m.to_json(),
                "linked_from": [{"id": i, "relation": r} for i, r in backlinks],
                "source_episodes": [
                    {"id": e.id, "role": e.role.value, "name": e.name, "content": e.content}
                    for e in sources
                ],
            }
        )
        return
    console.print(f"[cyan]{m.id}[/]  {m.kind.value}  {m.status.value}  version {m.version}")
    console.print(m.text, markup=False)
    details = [
        ("score", "unverified" if m.score is None else str(m.score)),
        ("deep", "yes" if m.deep else "no (not yet dreamt upon)"),
        ("created", short_time(m.created)),
        ("updated", short_time(m.updated)),
        ("valid", f"{short_time(m.valid_from) or '-'} to {short_time(m.valid_to) or 'now'}"),
        ("tags", ", ".join(m.tags) or "-"),
    ]
    for key, value in details:
        console.print(f"  [dim]{key:>8}[/] {escape(value)}")
    for a in m.associations:
        console.print(f"  [dim]{'link':>8}[/] {escape(a.relation)} -> {a.id}")
    for other, relation in backlinks:
        console.print(f"  [dim]{'link':>8}[/] {escape(relation)} <- {other}")
    for e in sources:
        who = e.name or e.role.value
        console.print(f"  [dim]{'source':>8}[/] {e.id} {escape(who)}: {escape(e.content)}")


@memory.command("history")
@click.argument("memory_id")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def memory_history(state: State, memory_id: str, as_json: bool) -> None:
    """Every version of a memory: what changed, who changed it, and why."""
    versions = state.mind.history(memory_id)
    if as_json:
        print_json([version_json(v) for v in versions])
        return
    table = Table()
    for column in ("v", "op", "author", "when", "reason", "text"):
        table.add_column(column, overflow="fold")
    for v in versions:
        text = escape(v.after.text)
        if v.before is not None and v.before.text != v.after.text:
            text = f"[red]- {escape(v.before.text)}[/]\n[green]+ {escape(v.after.text)}[/]"
        elif v.before is not None and v.before.status != v.after.status:
            text = f"status {v.before.status.value} -> {v.after.status.value}"
        table.add_row(
            str(v.version),
            v.op.value,
            escape(str(v.author)),
            short_time(v.created),
            escape(v.reason or ""),
            text,
        )
    console.print(table)


@memory.command("list")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(KINDS))
@statuses_option(("active",))
@click.option("--since", callback=parse_time_option, help="Valid at some point after this.")
@click.option("--until", callback=parse_time_option, help="Valid at some point before this.")
@click.option("--limit", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def memory_list(
    state: State,
    kinds: tuple[str, ...],
    statuses: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """List memories, oldest first."""
    memories = state.mind.memories(
        kinds=[MemoryKind(k) for k in kinds],
        statuses=parse_statuses(statuses),
        since=since,
        until=until,
        limit=limit,
    )
    if as_json:
        print_json([m.to_json() for m in memories])
    else:
        console.print(memory_table(memories))


COMMANDS = [memory]
