"""What every route needs: the caller (from its key), the agent's ``Mind``, the author of a
change."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request

from ..config import AGENT_PATTERN
from ..mind import Mind
from ..records import Author
from .auth import Gate

__all__ = ["Caller", "Hub", "author_of", "caller_of", "hub_of", "mind_of", "reviewer_of"]

AGENT = Path(pattern=f"^{AGENT_PATTERN}$", description="an agent name")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking: the key's name (``None`` on an open server) and the agents it reaches
    (``None``: all)."""

    name: str | None
    agents: frozenset[str] | None

    def reaches(self, agent: str) -> bool:
        return self.agents is None or "*" in self.agents or agent in self.agents


class Hub:
    """The server's shared state: one store, a ``Mind`` per agent, the gate."""

    def __init__(self, mind: Mind, gate: Gate):
        self.base = mind
        self.gate = gate
        self._minds: dict[str, Mind] = {mind.agent: mind}
        self._lock = threading.Lock()

    def mind(self, agent: str) -> Mind:
        with self._lock:
            if agent not in self._minds:
                self._minds[agent] = self.base.for_agent(agent)
            return self._minds[agent]

    def agents(self, caller: Caller) -> list[str]:
        """The agents in the store, and those the caller's key names, that it may reach."""
        names = set(self.base.store.agents()) | {self.base.agent}
        names |= (caller.agents or frozenset()) - {"*"}
        return sorted(a for a in names if caller.reaches(a))


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def caller_of(request: Request, hub: Annotated[Hub, Depends(hub_of)]) -> Caller:
    key = Gate.key_of(request.headers, request.cookies)
    agents = hub.gate.agents_for(key)
    return Caller(hub.gate.name_of(key), agents)


def mind_of(
    agent: Annotated[str, AGENT],
    caller: Annotated[Caller, Depends(caller_of)],
    hub: Annotated[Hub, Depends(hub_of)],
) -> Mind:
    hub.gate.allow_agents(caller.agents, agent)
    return hub.mind(agent)


def author_of(
    agent: Annotated[str, AGENT], caller: Annotated[Caller, Depends(caller_of)]
) -> Author:
    """Changes made through the API are the agent's (or the key holder's, by name)."""
    return Author.agent(caller.name or agent)


def reviewer_of(
    caller: Annotated[Caller, Depends(caller_of)], hub: Annotated[Hub, Depends(hub_of)]
) -> str:
    """Review decisions are a person's: the key's name, or config ``user`` on an open server."""
    return caller.name or hub.base.config.user
