"""``sleepcycle status``, ``config`` and ``demo``."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import click
from rich.markup import escape

from ..config import CONFIG_FILE, load_config, resolve_home
from ..errors import UsageError
from ..mind import open as open_mind
from ..samples import DEMO_QUERIES, sample_path
from ..sleep.journal import summary_lines
from .context import State, pass_state
from .output import console, print_json
from .recall import recall_table
from .sleep import print_diff

DEMO_MARKER = ".sleepcycle-demo"


@click.command()
@click.option("--json", "as_json", is_flag=True)
@pass_state
def status(state: State, as_json: bool) -> None:
    """Counts for the agent: episodes, thoughts, memories, pending vectors."""
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


@click.command()
@click.option(
    "--dir",
    "demo_dir",
    type=click.Path(file_okay=False),
    help="Where to put the demo store (default: <home>/demo, recreated each run).",
)
@pass_state
def demo(state: State, demo_dir: str | None) -> None:
    """Ingest the bundled sample chat, sleep on it with the embedded model, and recall."""
    target = Path(demo_dir) if demo_dir else resolve_home(state.home) / "demo"
    if target.exists():
        if not (target / DEMO_MARKER).exists():
            raise UsageError(
                f"{target} exists and is not a demo directory; choose another with --dir"
            )
        shutil.rmtree(target)
    target.mkdir(parents=True)
    (target / DEMO_MARKER).write_text("created by `sleepcycle demo`; safe to delete\n")
    config = resolve_home(state.home) / CONFIG_FILE
    if config.exists():  # the demo runs on the models you configured
        shutil.copy(config, target / CONFIG_FILE)
    sample = sample_path()
    console.rule("sleepcycle demo")
    console.print(f"store: {target}\nsample: {sample}\n")
    with open_mind(target, "maya") as mind:
        report = mind.ingest(sample)
        console.print(
            f"[bold]1. awake[/] recorded {report.episodes_added} episodes and "
            f"{report.thoughts_added} thoughts from {len(report.sessions)} days of chat"
        )
        embedded = mind.embed_pending()
        console.print(f"   embedded {embedded} episodes with {mind.embedder.model_id}")
        console.print(
            "[bold]2. sleep[/] (the bundled model is tiny: expect most proposals rejected)"
        )
        started = time.perf_counter()

        def progress(stage: str, event: str) -> None:
            if event != "start":
                console.print(f"   [dim]{time.perf_counter() - started:6.1f}s[/] {stage} {event}")

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
