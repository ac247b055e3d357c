"""``sleepcycle export`` and ``sleepcycle import``: memory files."""

from __future__ import annotations

import click

from ..memfiles import FileFormat
from .context import State, pass_state
from .memory import parse_statuses, statuses_option
from .output import console, print_json


@click.command("export")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice([f.value for f in FileFormat]),
    default="yaml",
    show_default=True,
)
@statuses_option(("all",))
@click.option("--json", "as_json", is_flag=True)
@pass_state
def export_command(
    state: State, directory: str, fmt: str, statuses: tuple[str, ...], as_json: bool
) -> None:
    """Write one file per memory (metadata and text) into DIRECTORY."""
    paths = state.mind.export(directory, format=fmt, statuses=parse_statuses(statuses))
    if as_json:
        print_json({"directory": directory, "files": [str(p) for p in paths]})
    else:
        console.print(f"exported {len(paths)} memories to {directory}")


@click.command("import")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Apply files written for an older version too.")
@click.option("--dry-run", is_flag=True, help="Check and report; change nothing.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def import_command(state: State, directory: str, force: bool, dry_run: bool, as_json: bool) -> None:
    """Apply memory files from DIRECTORY: new files add memories, edited files add versions."""
    report = state.mind.import_files(directory, force=force, dry_run=dry_run)
    if as_json:
        print_json(report.to_json())
        return
    prefix = "would import" if dry_run else "imported"
    console.print(
        f"{prefix}: {len(report.created)} created, {len(report.changed)} changed, "
        f"{len(report.unchanged)} unchanged"
    )
    for memory_id in report.changed:
        console.print(f"  changed {memory_id}")


COMMANDS = [export_command, import_command]
