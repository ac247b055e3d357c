"""What a listing or a search selects, and the SQL for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..records import MemoryKind, MemoryStatus, Role
from .codec import placeholders, time_in

__all__ = ["EpisodeFilter", "MemoryFilter"]


@dataclass(frozen=True, slots=True)
class MemoryFilter:
    """Memories by kind and status (active only by default) and by time.

    Time bounds select memories whose validity, from ``valid_from`` to ``valid_to``, overlaps
    [since, until); an unset bound is open (a fact with no known start was true "always").
    An empty tuple means any."""

    kinds: tuple[MemoryKind, ...] = ()
    statuses: tuple[MemoryStatus, ...] = (MemoryStatus.ACTIVE,)
    since: datetime | None = None
    until: datetime | None = None

    def sql(self, alias: str = "") -> tuple[str, list[object]]:
        """A WHERE fragment (without the agent) and its arguments."""
        p = f"{alias}." if alias else ""
        where: list[str] = []
        args: list[object] = []
        if self.kinds:
            where.append(f"{p}kind IN ({placeholders(self.kinds)})")
            args.extend(k.value for k in self.kinds)
        if self.statuses:
            where.append(f"{p}status IN ({placeholders(self.statuses)})")
            args.extend(s.value for s in self.statuses)
        if self.until is not None:
            where.append(f"({p}valid_from IS NULL OR {p}valid_from < ?)")
            args.append(time_in(self.until))
        if self.since is not None:
            where.append(f"({p}valid_to IS NULL OR {p}valid_to > ?)")
            args.append(time_in(self.since))
        return " AND ".join(where) or "TRUE", args


@dataclass(frozen=True, slots=True)
class EpisodeFilter:
    """Episodes by role, session and time in [since, until). An empty tuple means any."""

    roles: tuple[Role, ...] = ()
    sessions: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None

    def sql(self, alias: str = "") -> tuple[str, list[object]]:
        p = f"{alias}." if alias else ""
        where: list[str] = []
        args: list[object] = []
        if self.roles:
            where.append(f"{p}role IN ({placeholders(self.roles)})")
            args.extend(r.value for r in self.roles)
        if self.sessions:
            where.append(f"{p}session IN ({placeholders(self.sessions)})")
            args.extend(self.sessions)
        if self.since is not None:
            where.append(f"{p}time >= ?")
            args.append(time_in(self.since))
        if self.until is not None:
            where.append(f"{p}time < ?")
            args.append(time_in(self.until))
        return " AND ".join(where) or "TRUE", args
