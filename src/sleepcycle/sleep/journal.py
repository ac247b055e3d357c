"""The dream journal, readable: per stage, what was considered, proposed, kept and rejected.

Journal text never enters recall: it lives in its own table, outside the full-text and vector
indexes, so the agent does not "remember" its own deliberations as facts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..records import JournalEntry, Sleep
from ..times import format_time

__all__ = ["entry_json", "render_markdown", "render_rich", "summary_lines"]

STYLES = {
    "considered": "cyan",
    "proposed": "blue",
    "passed": "green",
    "committed": "bold green",
    "failed": "yellow",
    "rewritten": "magenta",
    "rejected": "red",
    "refused": "red",
    "skipped": "red",
    "dropped": "dim",
    "error": "bold red",
    "interrupted": "bold yellow",
    "resumed": "green",
    "summary": "bold",
}


def entry_json(entry: JournalEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "stage": entry.stage,
        "kind": entry.kind,
        "text": entry.text,
        "refs": dict(entry.refs),
        "created": format_time(entry.created),
    }


def summary_lines(sleep: Sleep) -> list[str]:
    """The sleep's summary as short lines of text."""
    s = sleep.stats
    ended = sleep.outcome.value if sleep.outcome else sleep.status.value
    lines = [
        f"sleep {sleep.id} ({sleep.agent}): {ended}"
        + (" (dry run)" if sleep.dry_run else "")
        + (f", error: {sleep.error}" if sleep.error else "")
    ]
    lines += [f"interrupted: {text}" for text in s.get("interruptions") or []]
    ops = s.get("operations") or {}
    if ops:
        lines.append(
            "operations: "
            + ", ".join(
                f"{op} {row['accepted']}/{row['proposed']}" for op, row in sorted(ops.items())
            )
            + " (accepted/proposed)"
        )
    verifier = s.get("verifier") or {}
    if verifier.get("asked"):
        lines.append(
            f"verifier: passed {verifier['passed']} of {verifier['asked']} "
            f"({100 * (verifier.get('pass_rate') or 0):.0f}%); rewrites {s.get('rewrites', 0)}, "
            f"rejections {s.get('rejections', 0)}"
        )
    tokens = s.get("tokens") or {}
    if tokens:
        lines.append(
            "tokens: "
            + ", ".join(
                f"{role} {t['tokens_in']} in / {t['tokens_out']} out in {t['calls']} calls"
                for role, t in tokens.items()
            )
        )
    stage_ms = s.get("stage_ms") or {}
    if stage_ms:
        lines.append(
            "time: "
            + ", ".join(f"{k} {v / 1000:.1f}s" for k, v in stage_ms.items())
            + (
                f"; {100 * s['outside_models_share']:.1f}% outside model calls"
                if s.get("outside_models_share") is not None
                else ""
            )
        )
    return lines


def render_rich(sleep: Sleep, entries: Sequence[JournalEntry]) -> RenderableType:
    parts: list[RenderableType] = []
    stage = None
    table: Table | None = None
    for entry in entries:
        if entry.stage != stage:
            stage = entry.stage
            table = Table(show_header=False, box=None, padding=(0, 1), title_justify="left")
            table.add_column("kind", no_wrap=True)
            table.add_column("text", overflow="fold")
            parts.append(Text(f"\n{stage}", style="bold underline"))
            parts.append(table)
        assert table is not None
        style = STYLES.get(entry.kind, "")
        table.add_row(Text(entry.kind, style=style), Text(entry.text))
    summary = "\n".join(escape(line) for line in summary_lines(sleep))
    parts.append(Panel(summary, title="summary", title_align="left"))
    return Group(*parts)


def render_markdown(sleep: Sleep, entries: Sequence[JournalEntry]) -> str:
    out = [f"# Dream journal: sleep {sleep.id}", ""]
    out += [f"- {line}" for line in summary_lines(sleep)]
    stage = None
    for entry in entries:
        if entry.stage != stage:
            stage = entry.stage
            out += ["", f"## {stage}", ""]
        out.append(f"- **{entry.kind}**: {entry.text}")
    return "\n".join(out) + "\n"
