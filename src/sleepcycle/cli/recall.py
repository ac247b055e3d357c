"""``sleepcycle recall`` and ``sleepcycle embed``."""

from __future__ import annotations

from datetime import datetime

import click
from rich.markup import escape
from rich.table import Table

from ..recall import Mode, Recall, Scope
from ..records import ItemType, MemoryKind, Role
from .context import State, parse_time_option, pass_state
from .memory import KINDS, parse_statuses, statuses_option
from .output import console, print_json, progress_bar, short_time


def recall_table(result: Recall) -> Table:
    table = Table(title=f"recall: {result.query}", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("score", justify="right")
    table.add_column("recalled", overflow="fold")
    for rank, hit in enumerate(result.hits, start=1):
        if hit.memory is not None:
            detail = f"memory, {hit.memory.kind.value}, {len(hit.sources)} sources"
        else:
            assert hit.episode is not None
            detail = f"episode, {hit.episode.role.value}, {short_time(hit.episode.time)}"
        table.add_row(
            str(rank),
            f"{hit.score:.3f}",
            f"{escape(hit.text)}\n[cyan]{hit.id}[/] [dim]{detail}[/]",
        )
    return table


def no_memory_hint(status: dict[str, object], scope: str, episodes_match: bool) -> str:
    """One line on why recall found no memory, and where to look instead."""
    counts = status["memories"]
    assert isinstance(counts, dict)
    waiting = status["unconsolidated"]
    if sum(counts.values()):
        line = "no memory matched"
    elif not status["episodes"]:
        line = "nothing recorded for this agent yet: `sleepcycle ingest` a chat, then sleep"
    elif waiting:
        line = (
            f"no memories yet: `sleepcycle sleep` turns this agent's {waiting} unconsolidated "
            "episodes into memories"
        )
    else:
        line = "no memories yet: the sleeps so far kept none (`sleepcycle journal` says why)"
    if scope == Scope.BOTH:
        return line + ("; the hits above are episodes" if episodes_match else "")
    if episodes_match:
        return line + "; episodes do: `--in both` shows them"
    return line


@click.command()
@click.argument("query")
@click.option("-k", "k", type=int, help="How many results (default: recall.k in config, 10).")
@click.option(
    "--in",
    "scope",
    type=click.Choice([s.value for s in Scope]),
    default="memories",
    show_default=True,
    help="Search memories, episodes, or both.",
)
@click.option("--kind", "kinds", multiple=True, type=click.Choice(KINDS), help="Memory kind.")
@statuses_option(("active",))
@click.option("--role", "roles", multiple=True, type=click.Choice([r.value for r in Role]))
@click.option("--session", "sessions", multiple=True, help="Episode session.")
@click.option("--since", callback=parse_time_option, help="From this time.")
@click.option("--until", callback=parse_time_option, help="Before this time.")
@click.option(
    "--mode",
    type=click.Choice([m.value for m in Mode]),
    default="hybrid",
    show_default=True,
    help="Ranking: BM25 and vectors fused, or one of them.",
)
@click.option("--json", "as_json", is_flag=True, help="Hits with ids, scores, sources, metadata.")
@pass_state
def recall(
    state: State,
    query: str,
    k: int | None,
    scope: str,
    kinds: tuple[str, ...],
    statuses: tuple[str, ...],
    roles: tuple[str, ...],
    sessions: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    mode: str,
    as_json: bool,
) -> None:
    """Find the memories (or episodes) that best match QUERY."""
    result = state.mind.recall(
        query,
        k=k,
        scope=scope,
        kinds=[MemoryKind(x) for x in kinds],
        statuses=parse_statuses(statuses),
        roles=[Role(r) for r in roles],
        sessions=sessions,
        since=since,
        until=until,
        mode=mode,
    )
    if as_json:
        print_json(result.to_json())
        return
    if not result.hits:
        console.print(f"nothing recalled for {query!r}", markup=False)
    else:
        console.print(recall_table(result))
    if scope != Scope.EPISODES and not any(hit.memory for hit in result.hits):
        episodes = result if scope == Scope.BOTH else None
        if episodes is None:
            episodes = state.mind.recall(
                query, k=1, scope=Scope.EPISODES, roles=[Role(r) for r in roles],
                sessions=sessions, since=since, until=until, mode=mode,
            )  # fmt: skip
        console.print(no_memory_hint(state.mind.status(), scope, bool(episodes.hits)))
    if result.unembedded:
        console.print(
            f"[yellow]{result.unembedded} items have no vector yet and were matched by words "
            "only; run `sleepcycle embed`[/]"
        )


@click.command()
@click.option("--json", "as_json", is_flag=True)
@pass_state
def embed(state: State, as_json: bool) -> None:
    """Compute vectors for every memory and episode that lacks one."""
    mind = state.mind
    with progress_bar("embedding") as update:
        done = mind.embed_pending(item_types=tuple(ItemType), progress=update)
    if as_json:
        print_json({"embedded": done, "model": mind.embedder.model_id})
    else:
        console.print(f"embedded {done} items with {mind.embedder.model_id}")


COMMANDS = [recall, embed]
