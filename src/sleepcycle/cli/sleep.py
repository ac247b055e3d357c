"""``sleepcycle sleep`` and what goes with it: wake, sleeps, journal, diff, rollback, models."""

from __future__ import annotations

import sys
import time

import click
from rich.markup import escape
from rich.table import Table

from ..errors import ModelError
from ..mind import Mind
from ..models import ChatRequest, call_record
from ..records import Outcome
from ..sleep import Diff
from ..sleep.journal import entry_json, render_markdown, render_rich, summary_lines
from .context import State, pass_state
from .output import console, err_console, print_json, short_time

EXIT = {Outcome.DONE: 0, Outcome.NOTHING_TO_DO: 0, Outcome.FAILED: 1, Outcome.INTERRUPTED: 3}


def print_diff(d: Diff) -> None:
    console.print(f"[bold]diff of sleep {d.sleep_id}[/]")
    if d.empty and not d.thoughts and not d.persona:
        console.print("  no memory changed")
    for c in d.added:
        console.print(f"  [green]+ {c.memory_id}[/] ({c.after.kind.value}) {escape(c.after.text)}")
    for c in d.changed:
        before = escape(c.before.text) if c.before else ""
        console.print(f"  [yellow]~ {c.memory_id}[/] {before}\n      -> {escape(c.after.text)}")
    for c in d.superseded:
        console.print(f"  [magenta]> {c.memory_id}[/] superseded: {escape(c.after.text)}")
    for c in d.retracted:
        console.print(f"  [red]- {c.memory_id}[/] retracted: {escape(c.after.text)}")
    for t in d.thoughts:
        console.print(f"  [cyan]? {t['id']}[/] thought {t['status']}: {escape(t['text'])}")
    if d.persona:
        console.print(f"  persona: new version {', '.join(map(str, d.persona))}")
    if d.dreamt_upon:
        console.print(f"  {len(d.dreamt_upon)} memories dreamt upon (marked deep, text unchanged)")
    console.print(f"  {d.episodes} episodes consolidated")


@click.command("sleep")
@click.option(
    "--dry-run", is_flag=True, help="Everything but commit; the journal says what would change."
)
@click.option("--fresh", is_flag=True, help="Abandon an unfinished sleep instead of resuming it.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_state
def sleep_command(state: State, dry_run: bool, fresh: bool, as_json: bool) -> None:
    """Sleep once: consolidate everything since the last sleep into memory.

    Resumes an unfinished (killed or woken) sleep of this agent. Exit code 0 when done or
    nothing to do, 3 when woken before the end, 1 when it failed.
    """
    mind = state.mind
    started = time.perf_counter()

    def progress(stage: str, event: str) -> None:
        if as_json:
            return
        elapsed = time.perf_counter() - started
        labels = {"start": "...", "done": "done", "resumed": "resumed from checkpoint"}
        label = labels.get(event, escape(event))  # the train stage says what it is doing
        err_console.print(f"[dim]{elapsed:6.1f}s[/] {stage} {label}")

    report = mind.sleep(dry_run=dry_run, fresh=fresh, progress=progress)
    if as_json:
        print_json(report.to_json())
    else:
        for line in summary_lines(report.sleep):
            console.print(escape(line))
        if report.outcome is Outcome.DONE and not dry_run:
            print_diff(mind.diff(report.sleep.id))
        elif dry_run:
            console.print("dry run: nothing was written; see `sleepcycle journal`")
    code = EXIT[report.outcome] if report.outcome is not None else 1
    if code:
        sys.exit(code)


@click.command()
@click.option("--json", "as_json", is_flag=True)
@pass_state
def wake(state: State, as_json: bool) -> None:
    """Ask this agent's running sleep to stop at its next stage boundary."""
    sleep_id = state.mind.wake()
    if as_json:
        print_json({"sleep": sleep_id})
    elif sleep_id:
        console.print(f"asked sleep {sleep_id} to wake; it stops at its next stage boundary")
    else:
        console.print("no sleep is running for this agent")


@click.command()
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def sleeps(state: State, limit: int, as_json: bool) -> None:
    """This agent's sleeps, newest first; an unfinished one says how it stopped."""
    found = state.mind.sleeps(limit=limit)
    gap = state.mind.interrupted()
    if as_json:
        print_json(
            [
                {
                    "id": s.id,
                    "status": s.status.value,
                    "outcome": s.outcome.value if s.outcome else None,
                    "started": s.started.isoformat(),
                    "ended": s.ended.isoformat() if s.ended else None,
                    "dry_run": s.dry_run,
                    "stats": dict(s.stats),
                    "interrupted": gap.summary if gap and gap.sleep_id == s.id else None,
                }
                for s in found
            ]
        )
        return
    table = Table()
    for column in ("id", "started", "status", "outcome", "added", "rejected"):
        table.add_column(column)
    for s in found:
        committed = s.stats.get("committed") or {}
        gone = gap is not None and gap.sleep_id == s.id and gap.cause != "woken"
        table.add_row(
            s.id,
            short_time(s.started),
            s.status.value
            + (" (process gone)" if gone else "")
            + (" (dry run)" if s.dry_run else ""),
            s.outcome.value if s.outcome else "",
            str(len(committed.get("added", []))),
            str(s.stats.get("rejections", "")),
        )
    console.print(table)
    if gap is not None:
        console.print(f"{escape(gap.summary)}; `sleepcycle sleep` resumes it")


@click.command()
@click.argument("sleep_id", required=False)
@click.option("--json", "as_json", is_flag=True)
@click.option("--markdown", is_flag=True, help="Print it as Markdown.")
@pass_state
def journal(state: State, sleep_id: str | None, as_json: bool, markdown: bool) -> None:
    """The dream journal of a sleep (the latest by default)."""
    sleep, entries = state.mind.journal(sleep_id)
    gap = state.mind.interrupted()
    unfinished = gap.summary if gap is not None and gap.sleep_id == sleep.id else None
    if as_json:
        print_json(
            {
                "sleep": sleep.id,
                "outcome": sleep.outcome.value if sleep.outcome else None,
                "summary": dict(sleep.stats),
                "entries": [entry_json(e) for e in entries],
                "interrupted": unfinished,
            }
        )
        return
    if markdown:
        click.echo(render_markdown(sleep, entries), nl=False)
    else:
        console.print(render_rich(sleep, entries))
    if unfinished:
        click.echo(f"{unfinished}; `sleepcycle sleep` resumes it")


@click.command()
@click.argument("sleep_id", required=False)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def diff(state: State, sleep_id: str | None, as_json: bool) -> None:
    """What a sleep (the latest by default) added, changed, superseded and retracted."""
    d = state.mind.diff(sleep_id)
    if as_json:
        print_json(d.to_json())
    else:
        print_diff(d)


@click.command()
@click.argument("sleep_id")
@click.option("--force", is_flag=True, help="Also undo memories changed after the sleep.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def rollback(state: State, sleep_id: str, force: bool, yes: bool, as_json: bool) -> None:
    """Undo a sleep: restore what it changed (as new versions) and reopen its episodes."""
    mind = state.mind
    if not yes:
        d = mind.diff(sleep_id)
        print_diff(d)
        click.confirm(f"roll back sleep {d.sleep_id}?", abort=True)
    report = mind.rollback(sleep_id, force=force)
    if as_json:
        print_json(report.to_json())
    else:
        console.print(
            f"rolled back sleep {report.sleep_id}: {len(report.restored)} memories restored, "
            f"{len(report.retracted)} retracted, {len(report.thoughts)} thoughts reopened, "
            f"{report.episodes} episodes returned to the next sleep"
        )


@click.command()
@click.option("--no-check", is_flag=True, help="Only show the mapping; call no model.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def models(state: State, no_check: bool, as_json: bool) -> None:
    """The model behind each role, and whether it answers."""
    mind = state.mind
    rows = []
    checked: dict[str, tuple[bool, str]] = {}
    for role, settings in mind.config.roles.items():
        model = mind.config.models[settings.model]
        row = {
            "role": role,
            "model": settings.model,
            "engine": model.engine,
            "target": model.target(),
            "temperature": settings.temperature,
            "max_tokens": settings.max_tokens,
        }
        if not no_check:
            if settings.model not in checked:
                checked[settings.model] = _check(mind, role)
            row["answers"], row["detail"] = checked[settings.model]
        rows.append(row)
    if as_json:
        print_json(rows)
        return
    table = Table()
    for column in ("role", "model", "engine", "target", "temp", "max tokens", "check"):
        table.add_column(column, overflow="fold")
    for r in rows:
        check = "" if no_check else ("[green]ok[/] " if r["answers"] else "[red]fails[/] ")
        table.add_row(
            str(r["role"]),
            str(r["model"]),
            str(r["engine"]),
            escape(str(r["target"])),
            str(r["temperature"]),
            str(r["max_tokens"]),
            check + escape(str(r.get("detail", ""))),
        )
    console.print(table)
    if not no_check and not all(ok for ok, _ in checked.values()):
        sys.exit(1)


def _check(mind: Mind, role: str) -> tuple[bool, str]:
    """Ask the role's model for four tokens; the call is recorded like every other."""
    backend = mind.models.role(role).backend
    request = ChatRequest([{"role": "user", "content": "Reply with OK."}], max_tokens=4)
    try:
        reply = backend.complete(request)
    except ModelError as exc:
        return False, str(exc)
    with mind.store.write() as tx:
        tx.calls.add(call_record(request, reply, role=role, stage="check"))
    return True, f"{reply.model}, {reply.ms:.0f} ms"


COMMANDS = [sleep_command, wake, sleeps, journal, diff, rollback, models]
