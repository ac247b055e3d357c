"""The queue of nights, from outside a worker: enqueue sleeps and read where they are.

One workflow per night (``WORKFLOW``) on one queue (``QUEUE``). Its id is
``night:<agent>:<time>`` and its deduplication id is the agent, so an agent has at most one
night queued or running: enqueueing it again while it waits says so instead of adding another.
The queue's limits come from ``[fleet]``: ``concurrency`` sleeps per worker and
``model_concurrency`` across all workers, since every worker's sleeps call the same models.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..config import FleetSettings
from ..errors import ConfigError, StoreError
from ..store import Store
from .system import APP, dbos

__all__ = ["PRIORITY", "QUEUE", "WORKFLOW", "Fleet", "Night", "NightState", "night_id"]

QUEUE = "sleepcycle-nights"
WORKFLOW = "sleepcycle.night"
PRIORITY = 100  # lower runs first; DBOS takes 1 to 2**31 - 1
POLL_S = 0.25  # how often a worker looks for nights it may start (DBOS's default is 1 s)


class NightState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


_STATES = {
    "ENQUEUED": NightState.QUEUED,
    "DELAYED": NightState.QUEUED,
    "PENDING": NightState.RUNNING,
    "SUCCESS": NightState.DONE,
    "ERROR": NightState.FAILED,
    "CANCELLED": NightState.FAILED,
    "MAX_RECOVERY_ATTEMPTS_EXCEEDED": NightState.FAILED,
}


@dataclass(frozen=True, slots=True)
class Night:
    """One agent's night on the queue: its workflow, state and, when it ended, how."""

    agent: str
    workflow: str
    state: NightState
    created: datetime | None
    updated: datetime | None
    executor: str | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "workflow": self.workflow,
            "state": str(self.state),
            "created": self.created.isoformat() if self.created else None,
            "updated": self.updated.isoformat() if self.updated else None,
            "executor": self.executor,
            "detail": self.detail,
        }


def night_id(agent: str, at: datetime) -> str:
    """The workflow id of ``agent``'s night enqueued at ``at`` (agent names hold no ``:``)."""
    return f"night:{agent}:{at.astimezone(UTC):%Y%m%dT%H%M%S.%fZ}"


def _agent_of(workflow_id: str) -> str | None:
    parts = workflow_id.split(":")
    return parts[1] if len(parts) == 3 and parts[0] == "night" else None


def _time(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC) if ms else None


def _detail(status: Any) -> str:
    if status.error is not None:
        return str(status.error).strip().splitlines()[0] if str(status.error).strip() else ""
    output = status.output
    if isinstance(output, dict):
        return " ".join(str(output[k]) for k in ("sleep", "outcome") if output.get(k))
    return ""


def register_queue(client_or_dbos: Any, settings: FleetSettings, concurrency: int) -> None:
    """Declare the queue with this configuration's limits (the last declaration wins)."""
    if concurrency > settings.model_concurrency:
        raise ConfigError(
            f"a worker's concurrency ({concurrency}) cannot exceed fleet.model_concurrency "
            f"({settings.model_concurrency}); lower it or raise fleet.model_concurrency"
        )
    client_or_dbos.register_queue(
        QUEUE,
        worker_concurrency=concurrency,
        global_concurrency=settings.model_concurrency,
        polling_interval_sec=POLL_S,
        on_conflict="always_update",
    )


class Fleet:
    """A client of the queue that runs no workflows: what ``fleet enqueue`` and ``fleet
    status`` use. Creates DBOS's system database (its tables) when it is not there yet."""

    def __init__(self, url: str, settings: FleetSettings):
        module = dbos()
        self.url = url
        self.settings = settings
        try:
            module.DBOS.migrate(url)
            self._client = module.DBOSClient(system_database_url=url, application_name=APP)
        except Exception as exc:  # DBOS raises SQLAlchemy's and its own errors
            raise StoreError(
                f"cannot open the fleet's queue: {_first_line(exc)}; check fleet.system_database"
            ) from None
        register_queue(self._client, settings, settings.concurrency)

    def close(self) -> None:
        self._client.destroy()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def enqueue(
        self, agents: Iterable[str], *, priority: int = PRIORITY
    ) -> tuple[list[str], list[str]]:
        """Put a night on the queue for each agent; returns (enqueued, already waiting)."""
        module = dbos()
        added: list[str] = []
        waiting: list[str] = []
        for agent in agents:
            options = {
                "workflow_name": WORKFLOW,
                "queue_name": QUEUE,
                "workflow_id": night_id(agent, datetime.now(UTC)),
                "deduplication_id": agent,
                "priority": priority,
            }
            try:
                self._client.enqueue(options, agent)
            except module.error.DBOSQueueDeduplicatedError:
                waiting.append(agent)
            else:
                added.append(agent)
        return added, waiting

    def nights(self, agents: Sequence[str] | None = None) -> list[Night]:
        """Each agent's latest night (by when it was enqueued), ordered by agent."""
        latest: dict[str, Night] = {}
        rows = self._client.list_workflows(
            name=WORKFLOW, load_input=False, load_output=True, sort_desc=False
        )
        for status in rows:
            agent = _agent_of(status.workflow_id)
            if agent is None or (agents and agent not in agents):
                continue
            latest[agent] = Night(
                agent=agent,
                workflow=status.workflow_id,
                state=_STATES.get(str(status.status), NightState.FAILED),
                created=_time(status.created_at),
                updated=_time(status.updated_at),
                executor=status.executor_id,
                detail=_detail(status),
            )
        return [latest[a] for a in sorted(latest)]


def due(store: Store) -> list[str]:
    """The agents with episodes that no sleep has consolidated yet."""
    return [a for a in store.agents() if store.episodes.count(a, unconsolidated=True) > 0]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
