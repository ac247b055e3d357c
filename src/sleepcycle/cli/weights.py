"""``sleepcycle train`` and ``sleepcycle adapters``: learning in weights, and what is served."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.table import Table

from ..records import Adapter
from ..serialize import activation_json, adapter_json
from .context import State, pass_state
from .output import console, err_console, print_json, short_time

if TYPE_CHECKING:
    from ..mind import Mind


@click.command()
@click.option("--json", "as_json", is_flag=True, help="The result and the whole report.")
@pass_state
def train(state: State, as_json: bool) -> None:
    """Train a LoRA adapter on the foreground model from verified memories and the persona.

    Kept and activated only if held-out probe questions are answered better and the retention
    probes hold. Needs the train extra. Exit code 0 when kept or nothing to learn, 1 when
    rejected or failed.
    """
    mind = state.mind
    started = time.perf_counter()

    def progress(text: str) -> None:
        if not as_json:
            err_console.print(f"[dim]{time.perf_counter() - started:6.1f}s[/] {escape(text)}")

    result = mind.train(progress=progress)
    if as_json:
        print_json(result.to_json())
    elif result.adapter is None:
        console.print(f"{result.outcome}: {escape(str(result.report.get('reason', '')))}")
    else:
        print_report(result.adapter, active=mind.active_adapter() == result.adapter)
    if result.outcome not in ("kept", "nothing-to-learn"):
        raise SystemExit(1)


def print_report(adapter: Adapter, *, active: bool) -> None:
    """What the adapter learned, what it kept, and the gate's decision."""
    report = adapter.report
    state = "active" if active else "inactive"
    console.print(
        f"adapter [cyan]v{adapter.version}[/] ({adapter.id}) {adapter.status.value}, {state}"
    )
    if adapter.error:
        console.print(f"  error: {escape(adapter.error)}")
    data, trained = report.get("dataset", {}), report.get("training", {})
    if data:
        console.print(
            f"  dataset: {data['pairs']} pairs from {data['memories']} memories "
            f"({data['new']} new), {data['replay']} replayed general answers"
        )
    if trained:
        console.print(
            f"  training: {trained['examples']} examples, {trained['epochs']} epochs in "
            f"{trained['seconds']} s ({trained['seconds_per_100']} s per 100 per epoch), "
            f"loss {trained['first_loss']} -> {trained['last_loss']}, "
            f"{trained['adapter_bytes'] / 2**20:.1f} MiB"
        )
    probes = report.get("probes", {})
    if probes:
        table = Table(title="probes (held out, never trained on)")
        for column in ("question", "answer", "before", "after"):
            table.add_column(column, overflow="fold")
        before, after = probes["before"]["scores"], probes["after"]["scores"]
        for b, a in zip(before, after, strict=True):
            table.add_row(escape(a["question"]), escape(a["answer"]), _said(b), _said(a))
        console.print(table)
        console.print(f"  probe accuracy {_pct(probes, 'before')} -> {_pct(probes, 'after')}")
    retention = report.get("retention", {})
    if retention:
        console.print(
            f"  retention {_pct(retention, 'before')} -> {_pct(retention, 'after')} "
            f"({retention['after']['total']} questions)"
        )
    for reason in report.get("decision", {}).get("reasons", []):
        console.print(f"  {escape(reason)}")


def _said(score: dict[str, Any]) -> str:
    mark = "[green]✓[/]" if score["passed"] else "[red]✗[/]"
    return f"{mark} {escape(score['reply'][:60])}"


def _pct(result: dict[str, Any], when: str) -> str:
    return f"{result[when]['accuracy']:.0%}"


@click.group()
def adapters() -> None:
    """This agent's LoRA adapters and which one the foreground serves."""


@adapters.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def adapters_list(state: State, as_json: bool) -> None:
    """Every adapter, newest first, with its probe and retention accuracy."""
    mind = state.mind
    active = mind.active_adapter()
    found = mind.adapters()
    if as_json:
        print_json([adapter_json(a, active=a == active) for a in found])
        return
    if not found:
        console.print("no adapters yet; sleepcycle train makes one")
        return
    table = Table()
    for column in ("", "version", "id", "status", "probes", "retention", "created", "sleep"):
        table.add_column(column, overflow="fold")
    for a in found:
        row = adapter_json(a)
        table.add_row(
            "*" if a == active else "",
            f"v{a.version}",
            a.id,
            a.status.value,
            _span(row["probes"]),
            _span(row["retention"]),
            short_time(a.created),
            a.sleep_id or "",
        )
    console.print(table)
    if active is None:
        console.print("serving the base model alone")


def _span(value: dict[str, float | None]) -> str:
    if value["before"] is None or value["after"] is None:
        return ""
    return f"{value['before']:.0%} -> {value['after']:.0%}"


@adapters.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def adapters_show(state: State, ref: str, as_json: bool) -> None:
    """One adapter (by version such as v3, id or id prefix) with its training report."""
    mind = state.mind
    adapter = mind.adapter(ref)
    active = mind.active_adapter() == adapter
    if as_json:
        print_json(adapter_json(adapter, active=active, report=True))
    else:
        print_report(adapter, active=active)


@adapters.command("activate")
@click.argument("ref")
@click.option("--reason", help="Why; kept in the activation log.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def adapters_activate(state: State, ref: str, reason: str | None, as_json: bool) -> None:
    """Serve adapter REF (v3, an id, or "none" for the base model alone) from the next load."""
    mind = state.mind
    adapter = mind.activate_adapter(None if ref == "none" else ref, reason=reason)
    _served(mind, adapter, as_json, "")


@adapters.command("rollback")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def adapters_rollback(state: State, as_json: bool) -> None:
    """Go back to what was served before the latest activation."""
    mind = state.mind
    adapter = mind.rollback_adapter()
    _served(mind, adapter, as_json, "rolled back: ")


def _served(mind: Mind, adapter: Adapter | None, as_json: bool, prefix: str) -> None:
    """What is served now: the latest activation as JSON, or a line."""
    if as_json:
        print_json(activation_json(mind.activations()[0]))
    elif adapter is None:
        console.print(f"{prefix}serving the base model alone")
    else:
        console.print(f"{prefix}serving adapter v{adapter.version} ({adapter.id})")


@adapters.command("log")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def adapters_log(state: State, as_json: bool) -> None:
    """Every change of the served adapter, newest first."""
    log = state.mind.activations()
    if as_json:
        print_json([activation_json(a) for a in log])
        return
    if not log:
        console.print("no adapter was ever activated")
        return
    versions = {a.id: f"v{a.version}" for a in state.mind.adapters()}
    for a in log:
        served = versions.get(a.adapter_id, a.adapter_id) if a.adapter_id else "base model"
        why = f": {escape(a.reason)}" if a.reason else ""
        console.print(f"{a.seq:>4} {short_time(a.at)} {served} by {escape(a.by)}{why}")


COMMANDS = [train, adapters]
