"""The MCP server: an agent's memory as tools for any MCP client (``sleepcycle mcp``).

Tools: ``remember``, ``recall``, ``park``, ``dismiss``, ``persona``, ``sleep_status`` and
``journal``. Each acts on one agent: its ``agent`` argument, or else the server's agent
(``--agent``); over HTTP, a key that reaches exactly one agent makes that one the default.

Over stdio the server is the user's own process, so no key is asked. Over streamable HTTP
(``sleepcycle mcp --http``, and ``/mcp`` in ``sleepcycle serve``) callers send the keys of
``[api]`` in config.toml (``Authorization: Bearer KEY`` or ``X-Api-Key``): a missing or unknown
key is refused with 401 before MCP sees the request, and a key that may not reach the agent gets
a tool error. Without keys, HTTP is served on loopback only, with the SDK's DNS-rebinding guard.

Needs the ``server`` extra; ``import sleepcycle`` never imports this module.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Annotated, Any, ParamSpec, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from .errors import SleepcycleError
from .lock import asleep
from .mind import Mind
from .recall import Hit
from .records import Author, MemoryKind, ThoughtKind
from .serialize import persona_json, sleep_json, thought_json
from .server.auth import Forbidden, Gate, Unauthorized
from .server.deps import Caller, Hub
from .server.edge import Edge
from .sleep.journal import entry_json, render_markdown, summary_lines
from .times import format_time

__all__ = ["HttpEndpoint", "create_mcp", "http_app", "mount"]

PATH = "/mcp"
LOOPBACK_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
LOOPBACK_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]

INSTRUCTIONS = """\
Long-term memory for the agent {agent}. Call `recall` before answering anything that depends on \
the user or on earlier conversations. Call `remember` for lasting facts, preferences, plans and \
events (one short third-person sentence each). Call `park` for a question or idea to think over \
later, and `dismiss` for one that should not come up again: sleeps consolidate both. \
`sleep_status`, `persona` and `journal` show what the last sleep did."""

Agent = Annotated[
    str | None,
    Field(
        description="Whose memory to use; leave empty for this server's agent.",
        min_length=1,
        max_length=200,
    ),
]

P = ParamSpec("P")
R = TypeVar("R")


def _one_line_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn sleepcycle's errors into tool errors that keep their one-line message."""

    @functools.wraps(fn)
    def tool(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except SleepcycleError as exc:
            raise ToolError(str(exc)) from exc

    return tool


def _hit_json(hit: Hit) -> dict[str, Any]:
    memory = hit.memory
    return {
        "id": hit.id,
        "text": hit.text,
        "score": round(hit.score, 4),
        "kind": memory.state.kind.value if memory else None,
        "tags": list(memory.state.tags) if memory else [],
        "sources": list(hit.sources),
        "updated": format_time(memory.updated) if memory else None,
    }


class Tools:
    """The tools, bound to a hub of minds. ``gated``: check the caller's key (HTTP)."""

    def __init__(self, hub: Hub, *, gated: bool):
        self.hub = hub
        self.gated = gated

    def _caller(self, ctx: Context) -> Caller:
        if not self.gated:
            return Caller(None, None)
        key = Gate.key_of(ctx.headers or {}, {})
        return Caller(self.hub.gate.name_of(key), self.hub.gate.agents_for(key))

    def _default_agent(self, caller: Caller) -> str:
        """The server's agent, or else the key's only agent."""
        base = self.hub.base.agent
        named = sorted((caller.agents or frozenset()) - {"*"})
        if caller.reaches(base) or not named:
            return base
        if len(named) == 1:
            return named[0]
        raise Forbidden(
            f"this key may not reach the server's agent {base!r}; "
            f"pass `agent`, one of: {', '.join(named)}"
        )

    def _open(self, ctx: Context, agent: str | None) -> tuple[Mind, Author]:
        """The agent's mind, after checking the key, and the author of its changes."""
        caller = self._caller(ctx)
        name = agent or self._default_agent(caller)
        Gate.allow_agents(caller.agents, name)
        return self.hub.mind(name), Author.agent(caller.name or name)

    def remember(
        self,
        ctx: Context,
        text: Annotated[
            str,
            Field(
                description="One self-contained sentence, in the third person "
                "(e.g. 'Maya is allergic to peanuts.').",
                min_length=1,
                max_length=20_000,
            ),
        ],
        kind: Annotated[MemoryKind, Field(description="What sort of memory it is.")] = (
            MemoryKind.FACT
        ),
        tags: Annotated[list[str], Field(description="Optional labels.", max_length=50)] = [],  # noqa: B006
        reason: Annotated[
            str | None, Field(description="Why it is worth remembering.", max_length=2000)
        ] = None,
        agent: Agent = None,
    ) -> dict[str, Any]:
        """Store a long-term memory now. Use it for lasting facts, preferences, plans and events,
        not for small talk. The next sleep checks it against what was said and may merge or
        correct it. Returns the stored memory with its id."""
        mind, author = self._open(ctx, agent)
        return mind.add(text, kind=kind, tags=tags, reason=reason, author=author).to_json()

    def recall(
        self,
        ctx: Context,
        query: Annotated[
            str,
            Field(description="What to look for, in plain words.", min_length=1, max_length=2000),
        ],
        k: Annotated[int, Field(description="How many memories at most.", ge=1, le=50)] = 8,
        kinds: Annotated[
            list[MemoryKind] | None, Field(description="Only these kinds of memory.")
        ] = None,
        agent: Agent = None,
    ) -> dict[str, Any]:
        """Search long-term memory (keywords and meaning). Returns the best memories first,
        each with its id, text, score, kind and sources (the episode ids it rests on)."""
        mind, _ = self._open(ctx, agent)
        result = mind.recall(query, k=k, kinds=kinds or ())
        out: dict[str, Any] = {"agent": mind.agent, "hits": [_hit_json(h) for h in result.hits]}
        if result.unembedded:
            out["unembedded"] = result.unembedded
        return out

    def park(
        self,
        ctx: Context,
        text: Annotated[
            str,
            Field(
                description="The question or idea, self-contained.",
                min_length=1,
                max_length=20_000,
            ),
        ],
        agent: Agent = None,
    ) -> dict[str, Any]:
        """Park a question or idea to think over during the next sleep, instead of now (for
        example something to ask the user about later). Returns the stored thought."""
        mind, _ = self._open(ctx, agent)
        return thought_json(mind.think(text, kind=ThoughtKind.PARKED))

    def dismiss(
        self,
        ctx: Context,
        text: Annotated[
            str,
            Field(
                description="The idea that was dismissed, and why.",
                min_length=1,
                max_length=20_000,
            ),
        ],
        agent: Agent = None,
    ) -> dict[str, Any]:
        """Record an idea or suggestion that was dismissed, so sleeps know it was considered
        and do not raise it again. Returns the stored thought."""
        mind, _ = self._open(ctx, agent)
        return thought_json(mind.think(text, kind=ThoughtKind.DISMISSED))

    def persona(self, ctx: Context, agent: Agent = None) -> dict[str, Any]:
        """The agent's persona: who it is and how it speaks, as sleeps have refined it. `text`
        and `version` are null until a persona exists."""
        mind, _ = self._open(ctx, agent)
        current = mind.persona()
        if current is None:
            return {"agent": mind.agent, "version": None, "text": None}
        return persona_json(current)

    def sleep_status(self, ctx: Context, agent: Agent = None) -> dict[str, Any]:
        """Whether the agent is asleep now (and which sleep), a summary of the last sleep, and
        what waits for the next one: unconsolidated episodes and open thoughts."""
        mind, _ = self._open(ctx, agent)
        running = asleep(mind.store, mind.agent)
        latest = mind.sleeps(limit=1)
        counts = mind.status()
        last = None
        if latest:
            last = {k: v for k, v in sleep_json(latest[0]).items() if k != "stats"}
            last["summary"] = summary_lines(latest[0])
        return {
            "agent": mind.agent,
            "asleep": running is not None,
            "sleep": running,
            "last_sleep": last,
            "unconsolidated_episodes": counts["unconsolidated"],
            "open_thoughts": counts["thoughts_open"],
            "memories": counts["memories"],
            "persona_version": counts["persona_version"],
        }

    def journal(
        self,
        ctx: Context,
        sleep: Annotated[
            str | None,
            Field(description="A sleep id or id prefix; leave empty for the latest sleep."),
        ] = None,
        agent: Agent = None,
    ) -> CallToolResult:
        """The dream journal of a night, as readable text: what the sleep considered, proposed,
        kept and rejected, and why, stage by stage, with a summary."""
        mind, _ = self._open(ctx, agent)
        night, entries = mind.journal(sleep)
        return CallToolResult(
            content=[TextContent(type="text", text=render_markdown(night, entries))],
            structured_content={
                "sleep": sleep_json(night),
                "entries": [entry_json(e) for e in entries],
            },
        )


def create_mcp(hub: Hub, *, gated: bool) -> MCPServer:
    """The MCP server over ``hub``'s store. ``gated``: check API keys (HTTP); stdio is not."""
    server: MCPServer = MCPServer(
        "sleepcycle",
        title="sleepcycle memory",
        instructions=INSTRUCTIONS.format(agent=hub.base.agent),
        version=version("sleepcycle"),
        log_level="WARNING",
    )
    tools = Tools(hub, gated=gated)
    reads = ToolAnnotations(read_only_hint=True, open_world_hint=False)
    adds = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
    table: list[tuple[Callable[..., Any], ToolAnnotations]] = [
        (tools.remember, adds),
        (tools.recall, reads),
        (tools.park, adds),
        (tools.dismiss, adds),
        (tools.persona, reads),
        (tools.sleep_status, reads),
        (tools.journal, reads),
    ]
    for fn, hints in table:
        server.add_tool(_one_line_errors(fn), annotations=hints)
    return server


def _refusal(status: int, kind: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        {"error": {"kind": kind, "message": message}}, status_code=status, headers=headers
    )


class HttpEndpoint:
    """The streamable HTTP endpoint, an ASGI app. Enter ``running()`` in the host app's
    lifespan: each start gets a fresh session manager (the SDK's runs only once)."""

    def __init__(self, hub: Hub):
        self.gate = hub.gate
        self.server = create_mcp(hub, gated=True)
        self._manager: StreamableHTTPSessionManager | None = None

    def _security(self) -> TransportSecuritySettings:
        # Keyless servers listen on loopback only; refuse pages that rebind a name to it.
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=self.gate.open,
            allowed_hosts=LOOPBACK_HOSTS,
            allowed_origins=LOOPBACK_ORIGINS,
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        self.server.streamable_http_app(
            streamable_http_path=PATH, transport_security=self._security()
        )
        manager = self.server.session_manager
        async with manager.run():
            self._manager = manager
            try:
                yield
            finally:
                self._manager = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self._unauthorized(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
        elif self._manager is None:
            await _refusal(503, "unavailable", "the MCP endpoint is not running")(
                scope, receive, send
            )
        else:
            await self._manager.handle_request(scope, receive, send)

    def _unauthorized(self, scope: Scope) -> JSONResponse | None:
        """A 401 for a request without a known key, when the server has keys."""
        if self.gate.open:
            return None
        try:
            self.gate.agents_for(Gate.key_of(Headers(scope=scope), {}))
        except Unauthorized as exc:
            return _refusal(401, exc.kind, str(exc))
        return None


def mount(app: Starlette, hub: Hub) -> HttpEndpoint:
    """Serve MCP at ``/mcp`` in ``app``; the caller enters ``endpoint.running()`` in its
    lifespan."""
    endpoint = HttpEndpoint(hub)
    app.router.routes.append(Route(PATH, endpoint, include_in_schema=False))
    return endpoint


def http_app(hub: Hub) -> Starlette:
    """A server of its own for MCP over streamable HTTP (``sleepcycle mcp --http``)."""
    endpoint = HttpEndpoint(hub)
    edge = Middleware(
        Edge,
        max_bytes=hub.base.config.limits.request_bytes,
        loopback_only=hub.gate.open,
        refuse=lambda status, kind, message: {"error": {"kind": kind, "message": message}},
    )
    return Starlette(
        routes=[Route(PATH, endpoint)],
        middleware=[edge],
        lifespan=lambda app: endpoint.running(),
    )
