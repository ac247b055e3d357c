"""Model residency: loading, unloading, sleeping and waking a model on its engine.

Every engine exposes a different control surface (in-process, HTTP routes, a keep-alive
parameter, a sleep mode); an adapter gives them one shape. ``status`` is always asked of the
engine itself, never remembered, so a model loaded or unloaded by someone else is seen as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = ["AdapterBinding", "Residency", "State", "Status"]


class State(StrEnum):
    LOADED = "loaded"
    UNLOADED = "unloaded"
    SLEEPING = "sleeping"  # weights offloaded, the engine up (vLLM sleep mode)
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Status:
    state: State
    memory_mb: float | None = None  # what the engine reports holding, when it does
    detail: str = ""


@runtime_checkable
class Loadable(Protocol):
    """A backend in this process that loads its weights and frees them (``close``)."""

    model_id: str

    @property
    def loaded(self) -> bool: ...

    def load(self) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class Residency(Protocol):
    """Load, unload, sleep and wake one model; ``kind`` names the adapter."""

    kind: str
    model: str

    def status(self) -> Status: ...

    def load(self) -> None: ...

    def unload(self) -> None: ...

    def sleep(self) -> None:
        """Free the model's memory but keep the engine ready to wake it (else: unload)."""
        ...

    def wake(self) -> None:
        """Undo ``sleep`` (else: load)."""
        ...


@dataclass(frozen=True, slots=True)
class AdapterBinding:
    """The LoRA adapter an agent's foreground serves: its GGUF (llama.cpp, Ollama) and its
    PEFT directory (vLLM)."""

    id: str
    version: int
    gguf: Path
    peft: Path

    @property
    def served_name(self) -> str:
        """The model name an engine serves the adapter under."""
        return f"sleepcycle-{self.id.replace('_', '-')}"
