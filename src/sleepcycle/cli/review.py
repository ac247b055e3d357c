"""``sleepcycle review``: what sleeps proposed for a person to approve or reject."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.table import Table

from ..records import ReviewStatus
from ..serialize import review_json
from .context import State, pass_state
from .output import console, print_json, short_time


@click.group()
def review() -> None:
    """Operations sleeps proposed instead of applying ([review] in config.toml)."""


@review.command("list")
@click.option("--all", "show_all", is_flag=True, help="Decided items too.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def review_list(state: State, show_all: bool, as_json: bool) -> None:
    """The queue, oldest first (pending items unless --all)."""
    items = state.mind.review(status=None if show_all else ReviewStatus.PENDING)
    if as_json:
        print_json([review_json(i) for i in items])
        return
    if not items:
        console.print("nothing waits for review")
        return
    table = Table()
    for column in ("id", "sleep", "op", "change", "status", "when"):
        table.add_column(column, overflow="fold")
    for i in items:
        table.add_row(
            i.id, i.sleep_id or "", i.op, escape(i.summary), i.status.value, short_time(i.created)
        )
    console.print(table)


@review.command("show")
@click.argument("item_id")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def review_show(state: State, item_id: str, as_json: bool) -> None:
    """One item, with the sleep's verdict."""
    item = state.mind.review_item(item_id)
    if as_json:
        print_json(review_json(item))
        return
    console.print(f"[cyan]{item.id}[/] {item.op} from sleep {item.sleep_id} ({item.status.value})")
    console.print(escape(item.summary))
    verdict = item.payload.get("verdict") or {}
    if verdict:
        console.print(
            f"  verifier: score {verdict.get('score')}, {escape(str(verdict.get('reasons', '')))}"
        )
    if item.decided_by:
        console.print(f"  {item.status.value} by {item.decided_by} {short_time(item.decided_at)}")


@review.command("approve")
@click.argument("item_id")
@click.option("--reason", help="Why; kept in the memory's history.")
@click.option("--force", is_flag=True, help="Apply it even if its memories changed since.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def review_approve(
    state: State, item_id: str, reason: str | None, force: bool, as_json: bool
) -> None:
    """Apply the item; the change is authored by you."""
    item = state.mind.approve(item_id, reason=reason, force=force)
    if as_json:
        print_json(review_json(item))
    else:
        console.print(f"approved {item.id}: {escape(item.summary)}")


@review.command("reject")
@click.argument("item_id")
@click.option("--reason", help="Why; later sleeps see it.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def review_reject(state: State, item_id: str, reason: str | None, as_json: bool) -> None:
    """Decline the item; memory stays as it is."""
    item = state.mind.reject(item_id, reason=reason)
    if as_json:
        print_json(review_json(item))
    else:
        console.print(f"rejected {item.id}: {escape(item.summary)}")


COMMANDS = [review]
