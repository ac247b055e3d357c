"""Commands for what happens while awake: ingest, episodes, thoughts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from ..errors import InputError
from ..ingest import Format
from ..records import Role, ThoughtKind, ThoughtStatus
from ..serialize import episode_json, thought_json
from .context import State, parse_time_option, pass_state, read_text_arg
from .output import console, print_json, progress_bar, short_time

ROLES = [r.value for r in Role]


def _speakers(values: tuple[str, ...]) -> dict[str, Role]:
    speakers: dict[str, Role] = {}
    for value in values:
        name, sep, role = value.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--speaker {value!r}: write NAME=ROLE, for example Ada=assistant")
        try:
            speakers[name.strip()] = Role(role.strip().lower())
        except ValueError:
            raise InputError(
                f"--speaker {value!r}: unknown role {role!r}; use one of {', '.join(ROLES)}"
            ) from None
    return speakers


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice([f.value for f in Format]),
    default="auto",
    show_default=True,
    help="File format; auto looks at the extension, then the first character.",
)
@click.option("--session", help="Session for lines that name none (default: the file name).")
@click.option(
    "--speaker",
    "speakers",
    multiple=True,
    metavar="NAME=ROLE",
    help="Role of a transcript speaker, e.g. Ada=assistant (repeatable).",
)
@click.option("--no-embed", is_flag=True, help="Store only; compute vectors later.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_state
def ingest(
    state: State,
    paths: tuple[str, ...],
    fmt: str,
    session: str | None,
    speakers: tuple[str, ...],
    no_embed: bool,
    as_json: bool,
) -> None:
    """Record chat logs: JSONL messages, a JSON array, or a Name: text transcript.

    Idempotent: lines already stored are skipped. A bad line stops the ingest of its file
    before anything is written, with the line number.
    """
    mind = state.mind
    reports = [
        mind.ingest(Path(p), format=fmt, session=session, speakers=_speakers(speakers))
        for p in paths
    ]
    embedded = 0
    if not no_embed:
        with progress_bar("embedding") as update:
            embedded = mind.embed_pending(progress=update)
    if as_json:
        print_json({"reports": [r.to_json() for r in reports], "embedded": embedded})
        return
    for r in reports:
        thoughts = (
            f", {r.thoughts_added} thoughts" if r.thoughts_added or r.thoughts_present else ""
        )
        console.print(
            f"[bold]{r.source}[/]: {r.episodes_added} episodes added, "
            f"{r.episodes_present} already present{thoughts} "
            f"({len(r.sessions)} sessions, {short_time(r.first)} to {short_time(r.last)})"
        )
    if embedded:
        console.print(f"embedded {embedded} items for recall")


@click.group()
def episode() -> None:
    """Episodes: chat turns, events and thinking messages (immutable)."""


@episode.command("add")
@click.argument("text")
@click.option("--role", type=click.Choice(ROLES), default="user", show_default=True)
@click.option("--session", default="default", show_default=True)
@click.option("--time", "when", callback=parse_time_option, help="When it happened (default: now).")
@click.option("--name", help="Speaker name.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def episode_add(
    state: State,
    text: str,
    role: str,
    session: str,
    when: datetime | None,
    name: str | None,
    as_json: bool,
) -> None:
    """Record one message or event. TEXT may be - to read standard input."""
    ep = state.mind.record(role, read_text_arg(text), session=session, time=when, name=name)
    if as_json:
        print_json(episode_json(ep))
    else:
        console.print(f"recorded {ep.id}")


@episode.command("list")
@click.option("--session", "sessions", multiple=True, help="Only these sessions.")
@click.option("--role", "roles", multiple=True, type=click.Choice(ROLES))
@click.option("--since", callback=parse_time_option)
@click.option("--until", callback=parse_time_option)
@click.option("--unconsolidated", is_flag=True, help="Only episodes no sleep has consolidated.")
@click.option("--limit", type=int, default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def episode_list(
    state: State,
    sessions: tuple[str, ...],
    roles: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    unconsolidated: bool,
    limit: int,
    as_json: bool,
) -> None:
    """List episodes, oldest first."""
    episodes = state.mind.episodes(
        roles=[Role(r) for r in roles],
        sessions=sessions,
        since=since,
        until=until,
        unconsolidated=unconsolidated,
        limit=limit,
    )
    if as_json:
        print_json([episode_json(e) for e in episodes])
        return
    table = Table()
    for column in ("id", "time", "session", "role", "text", "sleep"):
        table.add_column(column, overflow="fold" if column == "text" else "ellipsis")
    for e in episodes:
        who = f"{e.role.value} ({e.name})" if e.name else e.role.value
        table.add_row(
            e.id,
            short_time(e.time),
            escape(e.session),
            escape(who),
            escape(e.content),
            e.consolidated_in or "",
        )
    console.print(table)


@episode.command("show")
@click.argument("episode_id")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def episode_show(state: State, episode_id: str, as_json: bool) -> None:
    """Show one episode (any unique id prefix)."""
    ep = state.mind.episode(episode_id)
    if as_json:
        print_json(episode_json(ep))
        return
    console.print(
        f"[cyan]{ep.id}[/]  {ep.role.value}  session {escape(ep.session)}  {short_time(ep.time)}"
    )
    if ep.name:
        console.print(f"name: {escape(ep.name)}")
    console.print(ep.content, markup=False)
    if ep.consolidated_in:
        console.print(f"consolidated in sleep {ep.consolidated_in}")


@click.group()
def thought() -> None:
    """Thoughts: parked for later, dismissed, or internal."""


@thought.command("add")
@click.argument("text")
@click.option(
    "--kind",
    type=click.Choice([k.value for k in ThoughtKind]),
    default="parked",
    show_default=True,
)
@click.option("--source", "sources", multiple=True, help="Episode id it came from (repeatable).")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def thought_add(
    state: State, text: str, kind: str, sources: tuple[str, ...], as_json: bool
) -> None:
    """Keep a background thought for the next sleep to consider."""
    t = state.mind.think(read_text_arg(text), kind=kind, sources=sources)
    if as_json:
        print_json(thought_json(t))
    else:
        console.print(f"kept {t.kind.value} thought {t.id}")


@thought.command("list")
@click.option(
    "--status", "statuses", multiple=True, type=click.Choice([s.value for s in ThoughtStatus])
)
@click.option("--kind", "kinds", multiple=True, type=click.Choice([k.value for k in ThoughtKind]))
@click.option("--json", "as_json", is_flag=True)
@pass_state
def thought_list(
    state: State, statuses: tuple[str, ...], kinds: tuple[str, ...], as_json: bool
) -> None:
    """List thoughts, oldest first."""
    thoughts = state.mind.thoughts(
        statuses=[ThoughtStatus(s) for s in statuses], kinds=[ThoughtKind(k) for k in kinds]
    )
    if as_json:
        print_json([thought_json(t) for t in thoughts])
        return
    table = Table()
    for column in ("id", "kind", "status", "text", "created"):
        table.add_column(column, overflow="fold" if column == "text" else "ellipsis")
    for t in thoughts:
        table.add_row(t.id, t.kind.value, t.status.value, escape(t.text), short_time(t.created))
    console.print(table)


COMMANDS = [ingest, episode, thought]
