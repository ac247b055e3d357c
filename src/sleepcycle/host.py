"""What a sleep and a training see of the agent they work for: the ``Host`` Protocol.

``Mind`` is one (the only one in the package), but the sleep's stages and the trainer are typed
to this narrow view, not to ``Mind``'s fifty methods: they read through the store and write
only through ``store.write()`` in the stage that owns the write (commit, for memory), and the
adapter they train is put to use by whoever holds them (``adapter_models`` returns new models;
it changes nothing in place).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from .config import Config
from .embed import Embedder
from .models import Models
from .recall import Recall
from .records import ItemType, PersonaVersion
from .store import Store

__all__ = ["Host"]


class Host(Protocol):
    """One agent's store, settings, embedder and models, and the reads a sleep needs."""

    @property
    def store(self) -> Store: ...
    @property
    def agent(self) -> str: ...
    @property
    def config(self) -> Config: ...
    @property
    def home(self) -> Path: ...
    @property
    def embedder(self) -> Embedder: ...
    @property
    def models(self) -> Models: ...

    def recall(self, query: str, *, k: int | None = None) -> Recall:
        """The agent's best active memories for ``query`` (hybrid recall)."""
        ...

    def embed_pending(self, *, item_types: Sequence[ItemType] = tuple(ItemType)) -> int:
        """Compute the vectors still missing; how many were computed."""
        ...

    def persona(self) -> PersonaVersion | None: ...

    def adapter_models(self) -> Models | None:
        """Models serving the adapter active in the store now, or None when ``models`` do."""
        ...
