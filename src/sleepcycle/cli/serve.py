"""``sleepcycle serve``, ``proxy`` and ``daemon``: the HTTP API and web page, the chat proxy,
and the proxy with triggers."""

from __future__ import annotations

import click

from ..config import ApiSettings
from ..errors import ConfigError
from .context import State, pass_state
from .output import console


def _server_extra() -> None:
    try:
        import fastapi  # noqa: F401, PLC0415
        import uvicorn  # noqa: F401, PLC0415
    except ImportError:
        raise ConfigError(
            "this command needs the server extra; install it: pip install 'sleepcycle[server]'"
        ) from None


def _door(settings: ApiSettings, host: str) -> str:
    """Who the server lets in, in words; refuses a non-loopback address without api keys."""
    from ..server.auth import Gate  # noqa: PLC0415 - the server extra

    gate = Gate(settings)
    gate.check_host(host)
    return "open to loopback (no api keys)" if gate.open else f"{len(gate.keys)} api keys"


@click.command()
@click.option("--host", help="Address to listen on (default: proxy.host, 127.0.0.1).")
@click.option("--port", type=int, help="Port (default: proxy.port, 8787).")
@pass_state
def proxy(state: State, host: str | None, port: int | None) -> None:
    """Serve an OpenAI-compatible chat endpoint that records, remembers, and answers from
    the sub model while the agent sleeps."""
    _server_extra()
    import uvicorn  # noqa: PLC0415

    from ..proxy import create_app  # noqa: PLC0415

    mind = state.mind
    settings = mind.config.proxy
    host, port = host or settings.host, port or settings.port
    access = _door(mind.config.api, host)
    console.print(f"sleepcycle proxy for agent {mind.agent} on http://{host}:{port}/v1; {access}")
    uvicorn.run(create_app(mind), host=host, port=port, log_level="warning")


@click.command()
@click.option("--host", help="Address to listen on (default: proxy.host, 127.0.0.1).")
@click.option("--port", type=int, help="Port (default: proxy.port, 8787).")
@pass_state
def daemon(state: State, host: str | None, port: int | None) -> None:
    """Run the proxy and put the agent to sleep on schedule, when idle, or under pressure."""
    _server_extra()
    from ..daemon import run_daemon  # noqa: PLC0415

    mind = state.mind
    settings, triggers = mind.config.proxy, mind.config.daemon
    host, port = host or settings.host, port or settings.port
    access = _door(mind.config.api, host)
    on = [
        f"schedule {triggers.schedule!r}" if triggers.schedule else "",
        f"idle {triggers.idle_minutes:g} min" if triggers.idle_minutes else "",
        f"pressure {triggers.pressure}" if triggers.pressure else "",
    ]
    console.print(
        f"sleepcycle daemon for agent {mind.agent}: proxy on http://{host}:{port}/v1; "
        f"sleeps on {', '.join(x for x in on if x) or 'demand only (`sleepcycle sleep`)'}; "
        f"{access}"
    )
    run_daemon(mind, host, port)


@click.command()
@click.option("--host", help="Address to listen on (default: api.host, 127.0.0.1).")
@click.option("--port", type=int, help="Port (default: api.port, 8788).")
@pass_state
def serve(state: State, host: str | None, port: int | None) -> None:
    """Serve the HTTP API (/v1, described at /v1/openapi.json) and the web page (/) for every
    agent in the home. Without [[api.keys]] in config.toml it only listens on loopback."""
    _server_extra()
    import uvicorn  # noqa: PLC0415

    from ..api import create_server  # noqa: PLC0415

    mind = state.mind
    settings = mind.config.api
    host, port = host or settings.host, port or settings.port
    access = _door(settings, host)
    console.print(
        f"sleepcycle on http://{host}:{port}/ (web page), /v1 (API, described at "
        f"/v1/openapi.json) and /mcp (MCP); {access}; default agent {mind.agent}"
    )
    uvicorn.run(create_server(mind), host=host, port=port, log_level="warning")


COMMANDS = [serve, proxy, daemon]
