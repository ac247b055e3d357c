"""Who may reach which agent: API keys from ``[api]`` in config.toml.

A request names its key as ``Authorization: Bearer KEY`` or ``X-Api-Key: KEY`` (the web page
keeps it in a cookie after you enter it once). Each key lists the agents it may reach. Without
any key configured the server answers everyone, which is why ``sleepcycle serve`` then only
binds to loopback.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping

from ..config import ApiSettings
from ..errors import ConfigError, UsageError

__all__ = ["Forbidden", "Gate", "Unauthorized", "is_loopback"]

COOKIE = "sleepcycle_key"


class Unauthorized(UsageError):
    """No key, or an unknown one."""

    kind = "unauthorized"


class Forbidden(UsageError):
    """A valid key that may not reach this agent."""

    kind = "forbidden"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Gate:
    """Checks a request's key against the agent it asks for."""

    def __init__(self, settings: ApiSettings):
        self.keys: dict[str, tuple[str, frozenset[str]]] = {}
        for key in settings.keys:
            secret = key.secret()
            if not secret:
                raise ConfigError(
                    f"api key {key.name!r}: the environment variable {key.key_env} is not set"
                )
            self.keys[secret] = (key.name, frozenset(key.agents))

    @property
    def open(self) -> bool:
        """No keys: every request is let in (loopback only)."""
        return not self.keys

    def check_host(self, host: str) -> None:
        if self.open and not is_loopback(host):
            raise ConfigError(
                f"refusing to serve on {host} without api keys: anyone could read the agents' "
                "memory; add [[api.keys]] to config.toml or serve on 127.0.0.1"
            )

    @staticmethod
    def key_of(headers: Mapping[str, str], cookies: Mapping[str, str]) -> str | None:
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return headers.get("x-api-key") or cookies.get(COOKIE)

    def agents_for(self, key: str | None) -> frozenset[str] | None:
        """The agents a key reaches (None: any agent, on an open server)."""
        if self.open:
            return None
        for secret, (_, agents) in self.keys.items():
            if key is not None and hmac.compare_digest(secret, key):
                return agents
        raise Unauthorized(
            "missing or unknown API key; send it as 'Authorization: Bearer KEY' or 'X-Api-Key'"
        )

    def name_of(self, key: str | None) -> str | None:
        for secret, (name, _) in self.keys.items():
            if key is not None and hmac.compare_digest(secret, key):
                return name
        return None

    @staticmethod
    def allow_agents(agents: frozenset[str] | None, agent: str) -> None:
        if agents is not None and "*" not in agents and agent not in agents:
            raise Forbidden(f"this key may not reach agent {agent!r}; use a key listed for it")

    def allow(self, key: str | None, agent: str) -> None:
        self.allow_agents(self.agents_for(key), agent)
