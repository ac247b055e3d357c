"""A model someone else keeps loaded (a hosted API): residency operations change nothing."""

from __future__ import annotations

from .base import State, Status

__all__ = ["AlwaysLoaded"]


class AlwaysLoaded:
    kind = "always"

    def __init__(self, model: str):
        self.model = model

    def status(self) -> Status:
        return Status(State.LOADED, detail="always loaded")

    def load(self) -> None:
        pass

    def unload(self) -> None:
        pass

    def sleep(self) -> None:
        pass

    def wake(self) -> None:
        pass
