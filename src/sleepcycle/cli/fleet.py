"""``sleepcycle fleet``: nights for many agents on a durable queue (the ``fleet`` extra)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from ..config import Config, check_agent, load_config, resolve_home, resolve_store_url
from ..fleet import Fleet, NightState, system_url
from ..fleet.queue import PRIORITY, due
from ..store import Store, shown_url
from .context import State, pass_state
from .output import console, print_json


def _where(state: State) -> tuple[Path, Config, str, str]:
    """The home, its config, the store's URL and the queue's."""
    home = resolve_home(state.home)
    config = load_config(home)
    store = resolve_store_url(home, config, state.store)
    return home, config, store, system_url(home, config, store)


@click.group()
def fleet() -> None:
    """Nights for many agents: enqueue, run workers, see where each agent's night is."""


@fleet.command("enqueue")
@click.option(
    "--agent",
    "agents",
    multiple=True,
    help="An agent to put to sleep (repeatable); default: every agent with unconsolidated "
    "episodes.",
)
@click.option(
    "--priority",
    type=click.IntRange(1, 2**31 - 1),
    default=PRIORITY,
    show_default=True,
    help="Lower runs first.",
)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def enqueue(state: State, agents: tuple[str, ...], priority: int, as_json: bool) -> None:
    """Put one sleep per agent on the queue; an agent already waiting is not added twice."""
    _, config, store_url, queue_url = _where(state)
    if agents:
        wanted = [check_agent(a) for a in dict.fromkeys(agents)]
    else:
        store = Store.open(store_url)
        try:
            wanted = due(store)
        finally:
            store.close()
    with Fleet(queue_url, config.fleet) as queue:
        added, waiting = queue.enqueue(wanted, priority=priority)
    if as_json:
        print_json({"enqueued": added, "already_waiting": waiting, "queue": shown_url(queue_url)})
        return
    if not wanted:
        console.print("no agent has unconsolidated episodes: nothing to enqueue")
        return
    console.print(
        f"enqueued {len(added)} night(s)"
        + (f"; {len(waiting)} agent(s) already waiting: {', '.join(waiting)}" if waiting else "")
    )


@fleet.command("worker")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    help="Sleeps at once in each worker (default fleet.concurrency); the queue keeps one "
    "per-worker limit, so the last worker started sets it for all.",
)
@pass_state
def worker(state: State, concurrency: int | None) -> None:
    """Run nights from the queue until stopped (SIGTERM or Ctrl-C stops it cleanly).

    Start as many as you like, on one host or many (with a PostgreSQL queue): each takes
    nights within the queue's limits, and recovers the nights of a worker that died."""
    from ..fleet.worker import Worker, serve  # noqa: PLC0415

    home, config, store_url, queue_url = _where(state)
    serve(
        Worker(
            home,
            store_url,
            config,
            queue_url,
            concurrency=concurrency,
            say=lambda text: console.print(escape(text)),
        )
    )


@fleet.command("status")
@click.option("--agent", "agents", multiple=True, help="Only this agent (repeatable).")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def status(state: State, agents: tuple[str, ...], as_json: bool) -> None:
    """Each agent's latest night: queued, running, done or failed, and the totals."""
    _, config, _, queue_url = _where(state)
    with Fleet(queue_url, config.fleet) as queue:
        nights = queue.nights(list(agents) or None)
    counts = Counter(n.state for n in nights)
    totals = {str(s): counts.get(s, 0) for s in NightState}
    if as_json:
        print_json({"totals": totals, "nights": [n.to_dict() for n in nights]})
        return
    if not nights:
        console.print("no nights on the queue yet; `sleepcycle fleet enqueue` adds them")
        return
    table = Table(title=f"nights on {escape(shown_url(queue_url))}")
    for column in ("agent", "state", "updated", "worker", "detail"):
        table.add_column(column)
    for night in nights:
        updated = f"{night.updated:%Y-%m-%d %H:%M:%S}" if night.updated else "-"
        table.add_row(
            escape(night.agent),
            str(night.state),
            updated,
            escape(night.executor or "-"),
            escape(night.detail),
        )
    console.print(table)
    console.print(", ".join(f"{n} {s}" for s, n in totals.items()))


COMMANDS = [fleet]
