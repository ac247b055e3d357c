"""The MCP server as a client meets it, through the SDK's own client: a real `sleepcycle mcp`
process over stdio, and streamable HTTP with API keys, at /mcp in `sleepcycle serve`'s app and
in `sleepcycle mcp --http`'s."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
import uvicorn
from click.testing import CliRunner
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult

import sleepcycle
from sleepcycle import MiniLMEmbedder
from sleepcycle.api import create_server
from sleepcycle.cli import cli
from sleepcycle.config import ApiSettings
from sleepcycle.mcp_server import http_app
from sleepcycle.records import AuthorKind, ThoughtKind
from sleepcycle.server.auth import Gate
from sleepcycle.server.deps import Hub
from sleepkit import Intent, dreamer, night, open_mind, sleep_with_proposals

ALICE = "alice-key-0123456789"
BOB = "bob-key-0123456789ab"
KEYS = ApiSettings.model_validate(
    {
        "keys": [
            {"name": "alice", "key": ALICE, "agents": ["maya"]},
            {"name": "bob", "key": BOB, "agents": ["sam"]},
        ]
    }
)
TOOLS = ["remember", "recall", "park", "dismiss", "persona", "sleep_status", "journal"]
PIXEL = "Maya has a grey cat called Pixel."


def text_of(result: CallToolResult) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


def data(result: CallToolResult) -> Any:
    assert not result.is_error, text_of(result)
    return result.structured_content


# stdio ---------------------------------------------------------------------------------------


def stdio_server(home: Path) -> StdioServerParameters:
    """`sleepcycle --home HOME --agent maya mcp`, as a desktop client would start it."""
    env = {k: os.environ[k] for k in ("HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME")}
    return StdioServerParameters(
        command=str(Path(sys.executable).parent / "sleepcycle"),
        args=["--home", str(home), "--agent", "maya", "mcp"],
        env=env,
    )


def slept_home(home: Path, embedder: MiniLMEmbedder) -> str:
    """A home where Maya's agent slept once (fake models) and learnt about Pixel."""
    with open_mind(
        home, embedder, dreamer=dreamer(Intent("add", PIXEL, sources=["Pixel, my grey cat"]))
    ) as mind:
        mind.set_persona("I am Maya's assistant. I keep it short.")
        night(mind)
        report = mind.sleep()
        return report.sleep.id


def test_an_agent_remembers_recalls_and_reads_its_nights_over_stdio(
    home: Path, embedder: MiniLMEmbedder
) -> None:
    sleep_id = slept_home(home, embedder)
    seen: dict[str, Any] = {}

    async def session() -> None:
        async with Client(stdio_server(home)) as client:
            listed = (await client.list_tools()).tools
            seen["tools"] = {t.name: t for t in listed}
            seen["pixel"] = data(await client.call_tool("recall", {"query": "What is her cat?"}))
            seen["added"] = data(
                await client.call_tool(
                    "remember",
                    {"text": "Maya's sister Ana lives in Porto.", "tags": ["family"]},
                )
            )
            seen["ana"] = data(
                await client.call_tool("recall", {"query": "Where does the sister live?", "k": 1})
            )
            seen["parked"] = data(
                await client.call_tool("park", {"text": "Ask Maya how Atlas Maps is going."})
            )
            seen["dismissed"] = data(
                await client.call_tool("dismiss", {"text": "Coffee tips: Maya gave up coffee."})
            )
            seen["persona"] = data(await client.call_tool("persona", {}))
            seen["status"] = data(await client.call_tool("sleep_status", {}))
            seen["journal"] = await client.call_tool("journal", {})
            seen["missing"] = await client.call_tool("journal", {"sleep": "slp_nosuchsleep"})
            seen["bad_k"] = await client.call_tool("recall", {"query": "cat", "k": 0})
            seen["sam"] = data(await client.call_tool("recall", {"query": "cat", "agent": "sam"}))

    anyio.run(session)

    tools = seen["tools"]
    assert list(tools) == TOOLS
    assert all(t.description and t.input_schema["type"] == "object" for t in tools.values())
    assert tools["recall"].annotations.read_only_hint is True
    assert tools["remember"].annotations.read_only_hint is False
    assert "agent" in tools["remember"].input_schema["properties"]

    top = seen["pixel"]["hits"][0]
    assert top["text"] == PIXEL and top["kind"] == "fact" and top["sources"]
    assert seen["ana"]["hits"][0]["id"] == seen["added"]["id"]
    assert seen["added"]["tags"] == ["family"]
    assert seen["parked"]["kind"] == "parked" and seen["parked"]["status"] == "open"
    assert seen["persona"]["text"] == "I am Maya's assistant. I keep it short."
    assert seen["persona"]["version"] == 1

    status = seen["status"]
    assert status["asleep"] is False and status["sleep"] is None
    assert status["last_sleep"]["id"] == sleep_id
    assert status["last_sleep"]["outcome"] == "done"
    assert status["last_sleep"]["summary"][0].startswith(f"sleep {sleep_id} (maya): done")
    assert status["unconsolidated_episodes"] == 0
    assert status["open_thoughts"] == 2

    journal = seen["journal"]
    assert not journal.is_error
    assert text_of(journal).startswith(f"# Dream journal: sleep {sleep_id}")
    assert PIXEL in text_of(journal)
    assert journal.structured_content["sleep"]["id"] == sleep_id
    assert journal.structured_content["entries"]

    for failed in (seen["missing"], seen["bad_k"]):
        assert failed.is_error and failed.structured_content is None
    assert "slp_nosuchsleep" in text_of(seen["missing"])
    assert "\n" not in text_of(seen["missing"])
    assert seen["sam"] == {"agent": "sam", "hits": []}

    with sleepcycle.open(home, "maya", embedder=embedder) as mind:
        thoughts = {t.kind: t.text for t in mind.thoughts()}
        assert thoughts[ThoughtKind.PARKED] == "Ask Maya how Atlas Maps is going."
        assert thoughts[ThoughtKind.DISMISSED] == "Coffee tips: Maya gave up coffee."
        (added,) = mind.history(seen["added"]["id"])
        assert (added.author.kind, added.author.name) == (AuthorKind.AGENT, "maya")


# streamable HTTP -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yields its base URL."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@asynccontextmanager
async def mcp_over_http(base: str, key: str | None = None) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(streamable_http_client(f"{base}/mcp", http_client=http)) as client,
    ):
        yield client


def test_an_approved_proposal_is_recalled_over_http_and_mcp_but_not_with_another_agents_key(
    home: Path, embedder: MiniLMEmbedder
) -> None:
    mind = sleep_with_proposals(home, embedder)
    add = next(i for i in mind.review() if i.op == "add")
    mind.approve(add.id, by="alice")
    seen: dict[str, Any] = {}

    async def sessions(base: str) -> None:
        async with mcp_over_http(base, ALICE) as alice:
            seen["alice"] = data(await alice.call_tool("recall", {"query": "grey cat Pixel"}))
            seen["added"] = data(
                await alice.call_tool("remember", {"text": "Maya's sister Ana lives in Porto."})
            )
        async with mcp_over_http(base, BOB) as bob:
            seen["bob_maya"] = await bob.call_tool(
                "recall", {"query": "grey cat Pixel", "agent": "maya"}
            )
            seen["bob_park"] = await bob.call_tool("park", {"text": "x", "agent": "maya"})
            seen["bob_own"] = data(await bob.call_tool("recall", {"query": "grey cat Pixel"}))
        with pytest.raises(Exception):  # noqa: B017 (the SDK's error for the 401 below)
            async with mcp_over_http(base, "not-a-key-0123456789") as stranger:
                await stranger.call_tool("recall", {"query": "cat"})

    with serving(create_server(mind, settings=KEYS)) as base:
        anyio.run(sessions, base)
        over_http = httpx.get(
            f"{base}/v1/agents/maya/recall",
            params={"q": "grey cat Pixel"},
            headers={"Authorization": f"Bearer {ALICE}"},
        ).json()
        bob_http = httpx.get(
            f"{base}/v1/agents/maya/recall",
            params={"q": "grey cat Pixel"},
            headers={"Authorization": f"Bearer {BOB}"},
        )
        keyless = httpx.post(f"{base}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})

    assert seen["alice"]["hits"][0]["text"] == PIXEL
    assert over_http["hits"][0]["text"] == PIXEL
    assert bob_http.status_code == 403

    for refused in (seen["bob_maya"], seen["bob_park"]):
        assert refused.is_error and refused.structured_content is None
        assert "may not reach agent 'maya'" in text_of(refused)
        assert PIXEL not in text_of(refused)
    assert seen["bob_own"] == {"agent": "sam", "hits": []}  # the key's only agent by default

    assert keyless.status_code == 401
    assert keyless.json()["error"]["kind"] == "unauthorized"

    (added,) = mind.history(seen["added"]["id"])
    assert (added.author.kind, added.author.name) == (AuthorKind.AGENT, "alice")
    assert {t.text for t in mind.thoughts()} == set()  # bob's park was refused
    mind.close()


def test_mcp_http_serves_loopback_without_keys_and_refuses_rebound_hosts(
    home: Path, embedder: MiniLMEmbedder
) -> None:
    seen: dict[str, Any] = {}

    async def session(base: str) -> None:
        async with mcp_over_http(base) as client:
            await client.call_tool("remember", {"text": "Maya is allergic to peanuts."})
            seen["hits"] = data(await client.call_tool("recall", {"query": "What can't she eat?"}))

    with sleepcycle.open(home, "maya", embedder=embedder) as mind:
        with serving(http_app(Hub(mind, Gate(ApiSettings())))) as base:
            anyio.run(session, base)
            rebound = httpx.post(
                f"{base}/mcp",
                json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                headers={"Host": "evil.example", "Accept": "application/json, text/event-stream"},
            )
    assert seen["hits"]["hits"][0]["text"] == "Maya is allergic to peanuts."
    assert rebound.status_code == 403  # the edge's guard, as in serve: only loopback names
    assert "only requests to 127.0.0.1 or localhost" in rebound.json()["error"]["message"]


def test_mcp_command_refuses_what_it_cannot_serve_safely() -> None:
    runner = CliRunner()
    exposed = runner.invoke(cli, ["mcp", "--http", "--host", "0.0.0.0"])
    assert exposed.exit_code == 2
    assert "refusing to serve on 0.0.0.0 without api keys" in exposed.output
    stray = runner.invoke(cli, ["mcp", "--port", "9000"])
    assert stray.exit_code == 2
    assert "--host and --port need --http" in stray.output
