"""An engine in this process (embedded llama.cpp): loaded by it, freed by closing it."""

from __future__ import annotations

import psutil

from .base import Loadable, State, Status

__all__ = ["EmbeddedResidency", "rss_mb"]


def rss_mb() -> float:
    """This process's resident memory in MiB."""
    return float(psutil.Process().memory_info().rss) / 2**20


class EmbeddedResidency:
    """In-process load and unload of an engine's backend (the one the role models use)."""

    kind = "embedded"

    def __init__(self, backend: Loadable):
        self.backend = backend
        self.model = backend.model_id
        self.last_change_mb: float | None = None  # RSS change of the last load or unload

    def status(self) -> Status:
        if self.backend.loaded:
            return Status(State.LOADED, detail="in this process")
        return Status(State.UNLOADED)

    def load(self) -> None:
        before = rss_mb()
        self.backend.load()
        self.last_change_mb = rss_mb() - before

    def unload(self) -> None:
        before = rss_mb()
        self.backend.close()
        self.last_change_mb = rss_mb() - before

    def sleep(self) -> None:
        self.unload()

    def wake(self) -> None:
        self.load()
