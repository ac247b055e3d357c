"""``sleepcycle persona``: the agent's persona document and its history."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from ..errors import InputError
from ..serialize import persona_json
from .context import State, pass_state, read_text_arg
from .output import console, print_json, short_time


@click.group()
def persona() -> None:
    """The persona document (the core memory block), versioned."""


@persona.command("show")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def persona_show(state: State, as_json: bool) -> None:
    """Print the current persona."""
    current = state.mind.persona()
    if as_json:
        print_json(persona_json(current) if current else None)
        return
    if current is None:
        console.print("no persona yet; set one with `sleepcycle persona set FILE`")
        return
    console.print(
        f"[dim]version {current.version}, {current.author}, {short_time(current.created)}[/]"
    )
    console.print(current.text, markup=False)
    for line in current.pinned:
        console.print(f"[dim]pinned:[/] {escape(line)}")


@persona.command("set")
@click.argument("source", required=False)
@click.option("--text", help="The persona text itself instead of a file.")
@click.option("--pin", "pins", multiple=True, help="A line that must never be dropped.")
@click.option("--reason", help="Why; kept in the history.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def persona_set(
    state: State,
    source: str | None,
    text: str | None,
    pins: tuple[str, ...],
    reason: str | None,
    as_json: bool,
) -> None:
    """Write a new persona version from SOURCE (a file, or - for standard input)."""
    if (source is None) == (text is None):
        raise InputError("give the persona as a file (or -) or with --text, not both")
    if source is not None:
        body = read_text_arg(source) if source == "-" else _read(Path(source))
    else:
        body = text or ""
    version = state.mind.set_persona(body, pinned=pins or None, reason=reason)
    if as_json:
        print_json(persona_json(version))
    else:
        console.print(f"persona version {version.version} saved")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read it ({exc.strerror})", path=path) from None


@persona.command("history")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def persona_history(state: State, as_json: bool) -> None:
    """Every persona version."""
    versions = state.mind.persona_history()
    if as_json:
        print_json([persona_json(v) for v in versions])
        return
    for v in versions:
        console.print(
            f"[bold]version {v.version}[/] {short_time(v.created)} {v.author} {v.reason or ''}"
        )
        console.print(v.text, markup=False)


COMMANDS = [persona]
