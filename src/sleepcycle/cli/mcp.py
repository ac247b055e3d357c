"""``sleepcycle mcp``: the agent's memory as an MCP server, over stdio or streamable HTTP."""

from __future__ import annotations

import click

from ..config import ApiSettings
from ..errors import ConfigError
from .context import State, pass_state
from .serve import _server_extra

DEFAULT_PORT = 8789


def _mcp_extra() -> None:
    _server_extra()
    try:
        import mcp  # noqa: F401, PLC0415
    except ImportError:
        raise ConfigError(
            "this command needs the server extra; install it: pip install 'sleepcycle[server]'"
        ) from None


@click.command("mcp")
@click.option("--http", "http", is_flag=True, help="Serve streamable HTTP at /mcp, not stdio.")
@click.option("--host", help="With --http: address to listen on (default: api.host, 127.0.0.1).")
@click.option("--port", type=int, help=f"With --http: port (default {DEFAULT_PORT}).")
@pass_state
def mcp(state: State, http: bool, host: str | None, port: int | None) -> None:
    """Serve the agent's memory to MCP clients: remember, recall, park, dismiss, persona,
    sleep_status, journal. Speaks stdio (for Claude Desktop and other local clients) unless
    --http; over HTTP, callers send the [api] keys of config.toml."""
    _mcp_extra()
    from ..server.auth import Gate  # noqa: PLC0415
    from ..server.deps import Hub  # noqa: PLC0415

    if not http:
        if host or port:
            raise click.UsageError("--host and --port need --http")
        import anyio  # noqa: PLC0415

        from ..mcp_server import create_mcp  # noqa: PLC0415

        mind = state.mind
        # The client started this process as the user: no keys (the gate stays unused).
        server = create_mcp(Hub(mind, Gate(ApiSettings())), gated=False)
        click.echo(f"sleepcycle mcp for agent {mind.agent} on stdio ({mind.home})", err=True)
        anyio.run(server.run_stdio_async)
        return

    import uvicorn  # noqa: PLC0415

    from ..mcp_server import PATH, http_app  # noqa: PLC0415

    mind = state.mind
    host, port = host or mind.config.api.host, port or DEFAULT_PORT
    gate = Gate(mind.config.api)
    gate.check_host(host)
    access = "open to loopback (no api keys)" if gate.open else f"{len(gate.keys)} api keys"
    click.echo(
        f"sleepcycle mcp on http://{host}:{port}{PATH} ({access}); default agent {mind.agent}",
        err=True,
    )
    uvicorn.run(http_app(Hub(mind, gate)), host=host, port=port, log_level="warning")


COMMANDS = [mcp]
