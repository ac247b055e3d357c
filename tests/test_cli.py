"""The CLI as a user meets it: output, --json, errors, and documentation of every command."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from sleepcycle.cli import cli
from sleepcycle.config import ROLES, Config, RoleSettings
from sleepcycle.plugins import engines
from sleepcycle.store import shown_url

DOCS = Path(__file__).parent.parent / "docs"


def run(*args: str, input: str | None = None, code: int = 0) -> str:
    result = CliRunner().invoke(
        cli, ["--agent", "maya", *args], input=input, env={"COLUMNS": "250"}
    )
    assert result.exit_code == code, (result.output, result.exception)
    return result.output


def run_json(*args: str) -> object:
    return json.loads(run(*args, "--json"))


def commands(
    group: click.Group, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name), command


def doc_section(text: str, heading: str) -> str:
    match = re.search(rf"^#+ {re.escape(heading)}\n(.*?)(?=^#+ |\Z)", text, re.M | re.S)
    assert match, f"docs/cli.md has no section '{heading}'"
    return match.group(1)


@pytest.mark.parametrize(
    ("path", "command"),
    list(commands(cli)),
    ids=lambda x: " ".join(x) if isinstance(x, tuple) else "",
)
def test_every_command_and_option_is_documented(
    path: tuple[str, ...], command: click.Command
) -> None:
    section = doc_section((DOCS / "cli.md").read_text(), "sleepcycle " + " ".join(path))
    for param in command.params:
        for opt in param.opts:
            if opt.startswith("-"):
                assert f"`{opt}" in section, f"{' '.join(path)}: {opt} is not documented"
    read_only = {"list", "show", "history", "status", "path", "recall", "export", "import", "embed"}
    if path[-1] in read_only or path[0] in ("recall", "status"):
        assert any("--json" in p.opts for p in command.params if isinstance(p, click.Option))


def test_every_setting_is_documented() -> None:
    text = (DOCS / "config.md").read_text()
    for section, value in Config().model_dump().items():
        if section == "models":
            fields = {key for e in engines().values() for key in e.settings.model_fields}
            names = [f"models.NAME.{key}" for key in sorted(fields)]
        elif section == "roles":
            names = [f"roles.ROLE.{key}" for key in RoleSettings.model_fields]
            names += [f"roles.{role}" for role in ROLES]
        elif isinstance(value, dict):
            names = [f"{section}.{key}" for key in value]
        else:
            names = [section]
        for name in names:
            assert f"`{name}`" in text, name


def test_ingest_then_recall(sample: Path) -> None:
    out = run("ingest", str(sample))
    assert "31 episodes added, 0 already present, 3 thoughts" in out
    assert "embedded 31 items" in out
    again = run("ingest", str(sample), "--no-embed")
    assert "0 episodes added, 31 already present" in again
    data = run_json("recall", "peanut allergy", "--in", "episodes", "-k", "2")
    assert isinstance(data, dict) and data["query"] == "peanut allergy"
    hits = data["hits"]
    assert len(hits) == 2 and all("peanut" in h["text"] for h in hits)
    assert {"id", "text", "score", "bm25", "cosine", "sources", "episode"} <= set(hits[0])
    table = run("recall", "Pixel the cat", "--in", "both")
    assert "recall: Pixel the cat" in table and "ep_" in table
    assert table.rstrip().endswith(
        "no memories yet: `sleepcycle sleep` turns this agent's 31 unconsolidated episodes "
        "into memories; the hits above are episodes"
    )


def test_recall_says_why_no_memory_answered(sample: Path) -> None:
    """No memories yet, or none that match: one line says so, and where the answer may be."""
    assert run("recall", "Pixel") == (
        "nothing recalled for 'Pixel'\nnothing recorded for this agent yet: `sleepcycle "
        "ingest` a chat, then sleep\n"
    )
    run("ingest", str(sample))
    out = run("recall", "Pixel the cat")
    assert out == (
        "nothing recalled for 'Pixel the cat'\nno memories yet: `sleepcycle sleep` turns this "
        "agent's 31 unconsolidated episodes into memories; episodes do: `--in both` shows them\n"
    )
    run("memory", "add", "Maya prefers window seats on trains.")
    out = run("recall", "Pixel the cat", "--mode", "bm25")
    assert out.splitlines()[-1] == "no memory matched; episodes do: `--in both` shows them"
    out = run("recall", "window seats")
    assert "Maya prefers window seats" in out and "no memory" not in out
    out = run("recall", "zyzzyva", "--in", "both", "--mode", "bm25")
    assert out.splitlines() == ["nothing recalled for 'zyzzyva'", "no memory matched"]


def test_memory_commands_end_to_end(sample: Path) -> None:
    run("ingest", str(sample), "--no-embed")
    episodes = run_json("episode", "list", "--role", "user", "--since", "2026-04-08")
    assert isinstance(episodes, list)
    evidence = next(e["id"] for e in episodes if "Alfama" in e["content"])
    added = run_json(
        "memory", "add", "Maya lives in Alfama, Lisbon.", "--source", evidence[:10], "--tag", "home"
    )
    assert isinstance(added, dict) and added["sources"] == [evidence]
    mid = added["id"]
    assert "edited" in run(
        "memory", "edit", mid[:8], "--text", "Maya lives in Alfama.", "--reason", "shorter"
    )
    assert "amended" in run("memory", "amend", mid, "Her flat has a huge window.")
    other = run_json("memory", "add", "Maya has a grey cat called Pixel.")
    assert isinstance(other, dict)
    assert "linked" in run("memory", "link", mid, other["id"], "--relation", "home")
    shown = run_json("memory", "show", mid)
    assert isinstance(shown, dict)
    assert shown["text"] == "Maya lives in Alfama. Her flat has a huge window."
    assert shown["source_episodes"][0]["id"] == evidence
    assert shown["associations"] == [{"id": other["id"], "relation": "home"}]
    assert "Olá from Lisbon" in run("memory", "show", mid)
    run("memory", "retract", other["id"], "--reason", "testing")
    history = run_json("memory", "history", mid)
    assert isinstance(history, list)
    assert [v["op"] for v in history] == ["add", "edit", "amend", "link"]
    assert history[1]["reason"] == "shorter" and history[1]["author"]["kind"] == "user"
    table = run("memory", "history", mid)
    assert "- Maya lives in Alfama, Lisbon." in table and "+ Maya lives in Alfama." in table
    listed = run_json("memory", "list")
    assert isinstance(listed, list) and [m["id"] for m in listed] == [mid]
    all_statuses = run_json("memory", "list", "--status", "all")
    assert isinstance(all_statuses, list) and len(all_statuses) == 2
    restored = run_json("memory", "restore", other["id"])
    assert isinstance(restored, dict) and restored["status"] == "active"


def test_export_and_import(tmp_path: Path) -> None:
    made = run_json("memory", "add", "Maya drinks green tea.")
    assert isinstance(made, dict)
    out = run("export", str(tmp_path / "mem"))
    assert "exported 1 memories" in out
    path = tmp_path / "mem" / f"{made['id']}.yaml"
    path.write_text(path.read_text().replace("green tea", "jasmine tea"))
    assert "would import: 0 created, 1 changed" in run("import", str(tmp_path / "mem"), "--dry-run")
    report = run_json("import", str(tmp_path / "mem"))
    assert isinstance(report, dict) and report["changed"] == [made["id"]]
    shown = run_json("memory", "show", made["id"])
    assert isinstance(shown, dict) and shown["text"] == "Maya drinks jasmine tea."


def test_thoughts_episodes_persona_status_config() -> None:
    ep = run_json(
        "episode", "add", "I start at Atlas Maps on 6 April", "--time", "2026-03-05T18:30:00Z"
    )
    assert isinstance(ep, dict) and ep["session"] == "default"
    assert ep["id"] in run("episode", "show", ep["id"][:9])
    thought = run_json("thought", "add", "Ask about the first day", "--source", ep["id"])
    assert isinstance(thought, dict) and thought["sources"] == [ep["id"]]
    assert "Ask about the first day" in run("thought", "list", "--status", "open")
    run("persona", "set", "-", "--pin", "I am kind.", input="I am kind.\nI like maps.\n")
    assert "I like maps." in run("persona", "show")
    versions = run_json("persona", "history")
    assert isinstance(versions, list) and versions[0]["pinned"] == ["I am kind."]
    error = run("persona", "set", "--text", "I like maps.", code=2)
    assert "pinned line 'I am kind.' is not in the new persona" in error
    status = run_json("status")
    assert isinstance(status, dict)
    assert (status["episodes"], status["thoughts_open"], status["persona_version"]) == (1, 1, 1)
    config = run_json("config", "show")
    assert isinstance(config, dict) and config["recall"]["k"] == 10
    assert run("config", "path").strip().endswith("config.toml")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["memory", "show", "mem_nothing"], 2, "error: no memory matches 'mem_nothing'"),
        (["memory", "add", "  "], 2, "error: empty memory text; give some text"),
        (["recall", "x", "--since", "soon"], 2, "not a time"),
        (["ingest", "/nonexistent/chat.jsonl"], 2, "error: /nonexistent/chat.jsonl: no such file"),
        (["ingest", "x.txt", "--speaker", "Ada"], 2, "write NAME=ROLE"),
    ],
)
def test_errors_are_one_line_with_exit_code(args: list[str], code: int, message: str) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == code
    assert message in result.output
    assert "Traceback" not in result.output


def test_bad_line_in_a_real_process(tmp_path: Path) -> None:
    """The installed console script: one line on stderr, exit code 2, nothing stored."""
    bad = tmp_path / "chat.jsonl"
    bad.write_text('{"role": "user", "content": "hi"}\n{"role": "user", "content": 5}\n')
    env = {**os.environ, "SLEEPCYCLE_HOME": str(tmp_path / "home")}
    script = Path(sys.executable).parent / "sleepcycle"
    result = subprocess.run(
        [str(script), "ingest", str(bad)], env=env, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr == (
        f'error: {bad}:2: field "content": should be a string or a list of content parts; '
        "nothing was ingested\n"
    )
    assert result.stdout == ""
    listing = subprocess.run(
        [str(script), "episode", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(listing.stdout) == []


def test_demo_sleeps_on_a_fresh_home(tmp_path: Path) -> None:
    """The Quickstart's job: ingest the sample, a real sleep with the bundled model, recall."""
    home = tmp_path / "home"
    home.mkdir()
    # Fewer, smaller dreams than the defaults, to keep the test short; still the real model.
    (home / "config.toml").write_text(
        "[sleep]\ncluster_size = 16\nmax_operations = 2\nreshape_rounds = 0\n"
    )
    env = {**os.environ, "SLEEPCYCLE_HOME": str(home), "COLUMNS": "120"}
    script = Path(sys.executable).parent / "sleepcycle"
    result = subprocess.run(
        [str(script), "demo"], env=env, capture_output=True, text=True, check=True
    )
    out = result.stdout
    assert "1. awake recorded 31 episodes and 3 thoughts from 4 days of chat" in out
    assert re.search(r"sleep slp_\w+ \(maya\): done", out), out
    assert "diff of sleep" in out and "31 episodes consolidated" in out
    assert "recall: Where does Maya live?" in out and "Alfama" in out
    assert "Maya is allergic to peanuts." in out  # a memory drafted, judged and committed
    demo = home / "demo"
    assert (demo / "sleepcycle.db").exists() and (demo / "config.toml").exists()
    again = subprocess.run(
        [str(script), "--home", str(demo), "--agent", "maya", "sleep", "--json"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(again.stdout)["outcome"] == "nothing-to-do"
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "precious.txt").write_text("keep me")
    refused = subprocess.run(
        [str(script), "demo", "--dir", str(tmp_path / "other")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2 and "is not a demo directory" in refused.stderr
    assert (tmp_path / "other" / "precious.txt").read_text() == "keep me"


def test_a_bad_store_url_is_one_line_that_names_it(tmp_path: Path) -> None:
    runner = CliRunner()
    home = ["--home", str(tmp_path / "home")]
    unknown = runner.invoke(cli, [*home, "--store", "nosuch://x", "status"])
    assert unknown.exit_code == 2
    assert unknown.output.strip().splitlines() == [
        "error: no store for nosuch:// URLs; registered: postgres://, postgresql://, sqlite:// "
        "(a store comes from a package's sleepcycle.stores entry point)"
    ]
    closed = runner.invoke(
        cli, [*home, "--store", "postgresql://me:secret@127.0.0.1:1/m", "status"]
    )
    assert closed.exit_code == 1
    (line,) = closed.output.strip().splitlines()
    assert line.startswith("error: cannot connect to the store at postgresql://me@127.0.0.1:1/m")
    assert "secret" not in line
    assert not (tmp_path / "home" / "sleepcycle.db").exists()


def test_demo_in_a_postgresql_store_records_under_a_new_agent_each_run(
    tmp_path: Path, postgres_url: str
) -> None:
    """`sleepcycle --store postgresql://... demo`: nothing in a shared store is deleted, so each
    demo records and sleeps under an agent of its own, and the commands it prints reach it."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        "[sleep]\ncluster_size = 16\nmax_operations = 2\nreshape_rounds = 0\n"
    )
    env = {**os.environ, "SLEEPCYCLE_HOME": str(home), "COLUMNS": "250"}
    script = Path(sys.executable).parent / "sleepcycle"
    agents = []
    for _ in range(2):
        result = subprocess.run(
            [str(script), "--store", postgres_url, "demo"],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        out = result.stdout
        assert "1. awake recorded 31 episodes and 3 thoughts from 4 days of chat" in out
        found = re.search(r"sleep slp_\w+ \((maya-\d{8}-\d{6})\): done", out)
        assert found, out
        agents.append(found.group(1))
        assert "Alfama" in out
        shown = shown_url(postgres_url)  # the password, if any, is not printed
        assert f"--store '{shown}' --agent {found.group(1)} journal" in out
        time.sleep(1.1)  # agents are named to the second
    assert agents[0] != agents[1]
    assert not (home / "demo" / "sleepcycle.db").exists()  # the memory went to PostgreSQL
    for agent in agents:
        at = [str(script), "--store", postgres_url, "--agent", agent]
        status = subprocess.run(
            [*at, "status", "--json"], env=env, capture_output=True, text=True, check=True
        )
        info = json.loads(status.stdout)
        assert info["store"] == shown_url(postgres_url) and info["episodes"] == 31
        assert info["unconsolidated"] == 0 and sum(info["memories"].values()) > 0
        again = subprocess.run(
            [*at, "sleep", "--json"], env=env, capture_output=True, text=True, check=True
        )
        assert json.loads(again.stdout)["outcome"] == "nothing-to-do"


def test_a_demo_cut_off_by_a_crash_says_so_and_resumes(tmp_path: Path) -> None:
    """A native crash mid-sleep (the AMX SIGSEGV of a -march=native llama.cpp build): the
    status and sleeps commands say what happened, and running the demo again resumes it."""
    import signal
    import sqlite3
    import time

    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        '[sleep]\ncluster_size = 16\nmax_operations = 2\nreshape_rounds = 0\ndreamer = "both"\n'
    )
    env = {**os.environ, "SLEEPCYCLE_HOME": str(home), "COLUMNS": "250"}
    script = Path(sys.executable).parent / "sleepcycle"
    first = subprocess.Popen(
        [str(script), "demo"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    db = home / "demo" / "sleepcycle.db"
    deadline = time.monotonic() + 300
    while True:  # crash it once the dreamer is at work, as the AMX kernel did
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        if db.exists():
            conn = sqlite3.connect(db, timeout=5)
            try:
                row = conn.execute(
                    "SELECT 1 FROM sleep_stages WHERE stage = 'dream' AND status = 'running'"
                ).fetchone()
            except sqlite3.OperationalError:  # not migrated yet
                row = None
            finally:
                conn.close()
            if row:
                break
        time.sleep(0.2)
    first.send_signal(signal.SIGSEGV)
    out, _ = first.communicate(timeout=60)
    assert first.returncode == -signal.SIGSEGV
    assert "1. awake recorded 31 episodes" in out

    demo = home / "demo"
    at = [str(script), "--home", str(demo), "--agent", "maya"]
    status = subprocess.run([*at, "status"], env=env, capture_output=True, text=True, check=True)
    line = " ".join(status.stdout.split("unfinished", 1)[1].split())  # rich wraps long lines
    assert re.search(
        r"sleep slp_\w+ crashed during dream at .+: process \d+ on .+ died of "
        r"Segmentation fault in .+; `sleepcycle sleep` resumes it",
        line,
    ), line
    listing = subprocess.run([*at, "sleeps"], env=env, capture_output=True, text=True, check=True)
    assert "running (process gone)" in listing.stdout
    assert "`sleepcycle sleep` resumes it" in " ".join(listing.stdout.split())

    second = subprocess.run([str(script), "demo"], env=env, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    out = second.stdout
    assert "already recorded by the last demo, whose sleep slp_" in out
    assert re.search(r"resume sleep slp_\w+ crashed during dream", out), out
    assert "resume finished stages up to crunch kept" in out
    assert re.search(r"sleep slp_\w+ \(maya\): done", out), out
    assert "interrupted: sleep slp_" in out and "31 episodes consolidated" in out
    journal = json.loads(
        subprocess.run(
            [*at, "journal", "--json"], env=env, capture_output=True, text=True, check=True
        ).stdout
    )
    kinds = [e["kind"] for e in journal["entries"] if e["stage"] == "resume"]
    assert kinds == ["interrupted", "resumed"] and journal["interrupted"] is None
    (cut,) = [e for e in journal["entries"] if e["kind"] == "interrupted"]
    assert cut["refs"]["cause"] == "crashed" and cut["refs"]["stage"] == "dream"
    assert journal["summary"]["interruptions"] == [cut["text"]]


def test_user_text_is_printed_literally() -> None:
    """Text that looks like rich markup is shown as written, not styled or swallowed."""
    text = "[bold]not bold[/] and [red]x"
    assert text in run("memory", "add", text)
    assert text in run("memory", "list")
    assert text in run("recall", "bold red")


def test_sleep_commands_end_to_end(tmp_path: Path) -> None:
    """sleep, sleeps, journal, diff, rollback, wake and models through the CLI, on the real
    bundled model with a small night."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        '[sleep]\nmax_operations = 2\nreshape_rounds = 0\ndreamer = "both"\n'
    )
    env = {"SLEEPCYCLE_HOME": str(home), "COLUMNS": "200"}

    def cli_run(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(cli, ["--agent", "maya", *args], env=env)
        assert result.exit_code == code, (result.output, result.exception)
        return result.output

    nightly = tmp_path / "night.jsonl"
    nightly.write_text(
        "\n".join(
            json.dumps(m)
            for m in [
                {
                    "role": "user",
                    "name": "Maya",
                    "content": "I moved to Lisbon. I live in Alfama now.",
                },
                {"role": "assistant", "content": "Welcome to Lisbon!"},
                {"role": "user", "name": "Maya", "content": "My grey cat Pixel loves the window."},
            ]
        )
    )
    cli_run("ingest", str(nightly))
    summary = json.loads(cli_run("sleep", "--json"))
    assert summary["outcome"] == "done" and summary["sleep"].startswith("slp_")
    sleep_id = summary["sleep"]
    assert summary["tokens"]["dreamer"]["calls"] >= 1
    assert set(summary["stage_ms"]) == {"gather", "crunch", "dream", "verify", "persona", "commit"}

    listed = json.loads(cli_run("sleeps", "--json"))
    assert [s["id"] for s in listed] == [sleep_id]
    journal_md = cli_run("journal", sleep_id[:8], "--markdown")
    assert journal_md.startswith(f"# Dream journal: sleep {sleep_id}")
    assert "## dream" in journal_md and "## commit" in journal_md
    journal_json = json.loads(cli_run("journal", "--json"))
    assert journal_json["sleep"] == sleep_id and journal_json["entries"]
    assert "summary" in cli_run("journal")
    diff_json = json.loads(cli_run("diff", "--json"))
    assert diff_json["sleep"] == sleep_id and diff_json["episodes_consolidated"] == 3
    assert f"diff of sleep {sleep_id}" in cli_run("diff")

    again = json.loads(cli_run("sleep", "--json"))
    assert again["outcome"] == "nothing-to-do"
    rolled = json.loads(cli_run("rollback", sleep_id, "--yes", "--json"))
    assert rolled["sleep"] == sleep_id and rolled["episodes_returned"] == 3
    assert "already rolled back" in cli_run("rollback", sleep_id, "--yes", code=2)
    status = json.loads(cli_run("status", "--json"))
    assert status["unconsolidated"] == 3
    assert "no sleep is running" in cli_run("wake")

    mapping = json.loads(cli_run("models", "--no-check", "--json"))
    assert {row["role"] for row in mapping} == {
        "foreground",
        "sub",
        "dreamer",
        "verifier",
        "reshaper",
    }
    checked = json.loads(cli_run("models", "--json"))
    assert all(row["answers"] for row in checked)
    assert "SmolLM2-135M (bundled)" in cli_run("models", "--no-check")
