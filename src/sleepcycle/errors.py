"""Every error sleepcycle raises on purpose.

    SleepcycleError
    ├── UsageError          the caller must change something (input, arguments, config)
    │   ├── InputError      a bad file, line or value; carries the path and line number
    │   ├── NotFoundError   no such memory, episode, thought or sleep
    │   ├── AmbiguousIdError  an id prefix that matches more than one item
    │   ├── ConflictError   the item changed since it was read (a stale version)
    │   └── ConfigError     the config file is invalid
    └── RuntimeFailure      something outside the caller failed
        ├── StoreError      the database cannot be opened, migrated or written
        ├── EmbeddingError  the embedding model cannot be loaded or run
        ├── ModelError      a chat model cannot be loaded, reached, or gave no usable reply
        └── SleepError      a sleep failed (its journal says where and why)

Messages name the problem and how to fix it, in one line. Errors are translated to
exit codes and JSON only at the edges (CLI, HTTP, MCP); the library raises these.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "AmbiguousIdError",
    "ConfigError",
    "ConflictError",
    "EmbeddingError",
    "InputError",
    "LockedError",
    "ModelError",
    "NotFoundError",
    "RuntimeFailure",
    "SleepError",
    "SleepcycleError",
    "StoreError",
    "UsageError",
]


class SleepcycleError(Exception):
    """Base class of every error sleepcycle raises on purpose."""

    kind = "error"


class UsageError(SleepcycleError):
    """The caller must change something: input, arguments or configuration."""

    kind = "usage"


class InputError(UsageError):
    """A bad file, line or value. ``path`` and ``line`` say where, when known."""

    kind = "input"

    def __init__(self, message: str, *, path: Path | str | None = None, line: int | None = None):
        self.path = str(path) if path is not None else None
        self.line = line
        where = ""
        if self.path is not None:
            where = f"{self.path}:{line}: " if line is not None else f"{self.path}: "
        super().__init__(f"{where}{message}")


class NotFoundError(UsageError):
    """No item with that id in this agent's store."""

    kind = "not_found"


class AmbiguousIdError(UsageError):
    """An id prefix that matches more than one item."""

    kind = "ambiguous_id"


class ConflictError(UsageError):
    """The item changed since the caller read it."""

    kind = "conflict"


class LockedError(ConflictError):
    """Another process holds the agent's sleep lock."""

    kind = "locked"


class ConfigError(UsageError):
    """The configuration file or a setting is invalid."""

    kind = "config"


class RuntimeFailure(SleepcycleError):
    """Something outside the caller failed: the database, a model, the disk."""

    kind = "runtime"


class StoreError(RuntimeFailure):
    """The database cannot be opened, migrated or written."""

    kind = "store"


class EmbeddingError(RuntimeFailure):
    """The embedding model cannot be loaded or run."""

    kind = "embedding"


class ModelError(RuntimeFailure):
    """A chat model cannot be loaded or reached, or gave no usable reply."""

    kind = "model"


class SleepError(RuntimeFailure):
    """A sleep failed; its journal says at which stage and why."""

    kind = "sleep"
