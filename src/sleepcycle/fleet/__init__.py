"""Nights for many agents: one sleep per agent on a durable DBOS queue (the ``fleet`` extra).

``fleet enqueue`` puts a sleep per agent on the queue (deduplicated per agent), workers run
them (``fleet worker``), ``fleet status`` reads where each is. DBOS keeps the queue in its
system database (SQLite by default, PostgreSQL for workers on several hosts); the sleep keeps
its own stage checkpoints and recorded model calls in the store, so a sleep recovered from a
dead worker resumes where it was, without asking a model again what it already answered.
"""

from .queue import QUEUE, WORKFLOW, Fleet, Night, NightState
from .system import system_url

__all__ = ["QUEUE", "WORKFLOW", "Fleet", "Night", "NightState", "system_url"]
