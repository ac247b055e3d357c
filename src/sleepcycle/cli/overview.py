"""``sleepcycle status``, ``config`` and ``demo``."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.markup import escape

from ..config import (
    CONFIG_FILE,
    DATABASE_FILE,
    check_agent,
    load_config,
    resolve_home,
    resolve_store_url,
)
from ..errors import UsageError
from ..mind import Mind
from ..mind import open as open_mind
from ..samples import DEMO_QUERIES, sample_path
from ..sleep.journal import summary_lines
from ..store import shown_url
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
    console.print(f"  store      {escape(info['store'])}")
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


@dataclass(frozen=True)
class _Demo:
    """Where a demo runs: its directory (config, marker, and the SQLite file when no store is
    given), the store's URL when one is (``--store``, ``$SLEEPCYCLE_STORE_URL`` or
    ``store.url``), and the agent. A given store is shared and nothing in it is deleted, so
    each demo there records under an agent of its own, named in the directory's marker."""

    target: Path
    store: str | None
    agent: str

    def open(self) -> Mind:
        return open_mind(self.target, self.agent, store=self.store)

    def unfinished(self) -> str | None:
        """How the last demo's sleep stopped, if it was cut off (killed, crashed or woken)."""
        if self.store is None and not (self.target / DATABASE_FILE).exists():
            return None
        with self.open() as mind:
            gap = mind.interrupted()
        return gap.summary if gap else None

    def mark(self) -> None:
        lines = ["created by `sleepcycle demo`; safe to delete"]
        if self.store is not None:
            lines += [f"agent: {self.agent}", f"store: {shown_url(self.store)}"]
        (self.target / DEMO_MARKER).write_text("\n".join(lines) + "\n")

    def explore(self, command: str) -> str:
        where = f"--home {self.target}"
        if self.store is not None:
            where += f" --store '{shown_url(self.store)}'"
        return f"sleepcycle {where} --agent {self.agent} {command}"


def _given_store(state: State) -> str | None:
    """The store a demo runs in when the user named one, else None (a file in the demo dir)."""
    home = resolve_home(state.home)
    settings = load_config(home)
    if not (state.store or os.environ.get("SLEEPCYCLE_STORE_URL") or settings.store.url):
        return None
    return resolve_store_url(home, settings, state.store)


def _last_agent(target: Path) -> str:
    """The agent the demo in ``target`` recorded under (its marker says, in a shared store)."""
    for line in (target / DEMO_MARKER).read_text().splitlines():
        if line.startswith("agent: "):
            return check_agent(line.removeprefix("agent: ").strip())
    return DEMO_AGENT


@click.command()
@click.option(
    "--dir",
    "demo_dir",
    type=click.Path(file_okay=False),
    help="Where to put the demo (default: <home>/demo, recreated each run, or resumed if its "
    "sleep was cut off). With --store, the memory goes to that store under a new agent.",
)
@pass_state
def demo(state: State, demo_dir: str | None) -> None:
    """Ingest the bundled sample chat, sleep on it with the embedded model, and recall.

    A demo whose sleep was cut off (the process killed or crashed) resumes that sleep. In a
    store given by --store (or SLEEPCYCLE_STORE_URL, or store.url), each demo records under a
    new agent, maya-<time>, since nothing there is deleted."""
    target = Path(demo_dir) if demo_dir else resolve_home(state.home) / "demo"
    store = _given_store(state)
    unfinished = None
    if target.exists():
        if not (target / DEMO_MARKER).exists():
            raise UsageError(
                f"{target} exists and is not a demo directory; choose another with --dir"
            )
        last = _Demo(target, store, _last_agent(target) if store else DEMO_AGENT)
        unfinished = last.unfinished()
        if unfinished is None:
            shutil.rmtree(target)
        else:
            run = last
    if unfinished is None:
        agent = f"{DEMO_AGENT}-{datetime.now(UTC):%Y%m%d-%H%M%S}" if store else DEMO_AGENT
        run = _Demo(target, store, agent)
        target.mkdir(parents=True)
        run.mark()
        config = resolve_home(state.home) / CONFIG_FILE
        if config.exists():  # the demo runs on the models you configured
            shutil.copy(config, target / CONFIG_FILE)
    sample = sample_path()
    console.rule("sleepcycle demo")
    where = escape(shown_url(store)) + f", agent {run.agent}" if store else str(target)
    console.print(f"store: {where}\nsample: {sample}\n")
    with run.open() as mind:
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
    console.print("\nExplore it yourself:")
    for command in ("journal", "recall 'Pixel' --in both"):
        console.print("  " + run.explore(command), markup=False, soft_wrap=True)
    console.print(
        "  " + run.explore("sleep") + "    # nothing new: nothing to do",
        markup=False,
        soft_wrap=True,
    )
    console.print(
        "  " + run.explore("serve") + "    # the journal and diff in a browser (needs the server "
        "extra)",
        markup=False,
        soft_wrap=True,
    )


COMMANDS = [status, config, demo]
