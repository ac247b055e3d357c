"""``sleepcycle status``, ``config`` and ``demo``."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import click
from rich.markup import escape

from ..config import CONFIG_FILE, DATABASE_FILE, load_config, resolve_home
from ..errors import UsageError
from ..mind import open as open_mind
from ..samples import DEMO_QUERIES, sample_path
from ..sleep.journal import summary_lines
from .context import State, pass_state
from .output import console, print_json
from .recall import recall_table
from .sleep import print_diff

DEMO_MARKER = ".sleepcycle-demo"
DEMO_AGENT = "maya"


@click.command()
@click.option("--json", "as_json", is_flag=True)
@pass_state
def status(state: State, as_json: bool) -> None:
    """Counts for the agent: episodes, thoughts, memories, pending vectors, an unfinished sleep."""
    info = state.mind.status()
    if as_json:
        print_json(info)
        return
    memories = ", ".join(f"{n} {s}" for s, n in sorted(info["memories"].items())) or "none"
    console.print(f"agent [bold]{info['agent']}[/] in {info['home']}")
    console.print(
        f"  episodes   {info['episodes']} ({info['unconsolidated']} not yet consolidated)"
    )
    console.print(f"  thoughts   {info['thoughts_open']} open")
    console.print(f"  memories   {memories}")
    console.print(f"  vectors    {info['pending_embeddings']} pending")
    console.print(f"  persona    version {info['persona_version'] or '-'}")
    if info["interrupted"]:
        console.print(
            f"  [yellow]unfinished[/] {escape(info['interrupted'])}; `sleepcycle sleep` resumes it"
        )


@click.group()
def config() -> None:
    """Show the settings in use."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def config_show(state: State, as_json: bool) -> None:
    """Print every setting with its current value."""
    home = resolve_home(state.home)
    settings = load_config(home)
    if as_json:
        print_json(settings.model_dump())
        return
    console.print(f"# {home / CONFIG_FILE}")
    for section, values in settings.model_dump().items():
        if isinstance(values, dict):
            console.print(f"[{section}]", markup=False)
            for key, value in values.items():
                console.print(f"{key} = {value!r}", markup=False)
        else:
            console.print(f"{section} = {values!r}", markup=False)


@config.command("path")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def config_path(state: State, as_json: bool) -> None:
    """Print where the config file is (or would be)."""
    path = resolve_home(state.home) / CONFIG_FILE
    if as_json:
        print_json({"path": str(path), "exists": path.exists()})
    else:
        click.echo(path)


def _unfinished_demo(target: Path) -> str | None:
    """How the last demo's sleep stopped, if it was cut off (killed, crashed or woken)."""
    if not (target / DATABASE_FILE).exists():
        return None
    with open_mind(target, DEMO_AGENT) as mind:
        gap = mind.interrupted()
    return gap.summary if gap else None


@click.command()
@click.option(
    "--dir",
    "demo_dir",
    type=click.Path(file_okay=False),
    help="Where to put the demo store (default: <home>/demo, recreated each run, or resumed "
    "if its sleep was cut off).",
)
@pass_state
def demo(state: State, demo_dir: str | None) -> None:
    """Ingest the bundled sample chat, sleep on it with the embedded model, and recall.

    A demo whose sleep was cut off (the process killed or crashed) resumes that sleep."""
    target = Path(demo_dir) if demo_dir else resolve_home(state.home) / "demo"
    unfinished = None
    if target.exists():
        if not (target / DEMO_MARKER).exists():
            raise UsageError(
                f"{target} exists and is not a demo directory; choose another with --dir"
            )
        unfinished = _unfinished_demo(target)
        if unfinished is None:
            shutil.rmtree(target)
    if unfinished is None:
        target.mkdir(parents=True)
        (target / DEMO_MARKER).write_text("created by `sleepcycle demo`; safe to delete\n")
        config = resolve_home(state.home) / CONFIG_FILE
        if config.exists():  # the demo runs on the models you configured
            shutil.copy(config, target / CONFIG_FILE)
    sample = sample_path()
    console.rule("sleepcycle demo")
    console.print(f"store: {target}\nsample: {sample}\n")
    with open_mind(target, DEMO_AGENT) as mind:
        if unfinished is None:
            report = mind.ingest(sample)
            console.print(
                f"[bold]1. awake[/] recorded {report.episodes_added} episodes and "
                f"{report.thoughts_added} thoughts from {len(report.sessions)} days of chat"
            )
            embedded = mind.embed_pending()
            console.print(f"   embedded {embedded} episodes with {mind.embedder.model_id}")
        else:
            console.print(
                f"[bold]1. awake[/] already recorded by the last demo, whose {escape(unfinished)}"
            )
        console.print(
            "[bold]2. sleep[/] (on the bundled model, code drafts what Maya says about herself "
            "and the judge adapter checks each draft against its lines)"
        )
        started = time.perf_counter()

        def progress(stage: str, event: str) -> None:
            if event != "start":
                elapsed = time.perf_counter() - started
                console.print(f"   [dim]{elapsed:6.1f}s[/] {stage} {escape(event)}")

        slept = mind.sleep(progress=progress)
        for line in summary_lines(slept.sleep):
            console.print("   " + escape(line))
        print_diff(mind.diff(slept.sleep.id))
        console.print("[bold]3. recall[/] hybrid BM25 + vectors over memories and episodes\n")
        for query in DEMO_QUERIES:
            console.print(recall_table(mind.recall(query, k=3, scope="both")))
    console.print(
        "\nExplore it yourself:\n"
        f"  sleepcycle --home {target} --agent maya journal\n"
        f"  sleepcycle --home {target} --agent maya recall 'Pixel' --in both\n"
        f"  sleepcycle --home {target} --agent maya sleep    # nothing new: nothing to do\n"
        f"  sleepcycle --home {target} --agent maya serve    # the journal and diff in a browser"
        " (needs the server extra)"
    )


COMMANDS = [status, config, demo]
