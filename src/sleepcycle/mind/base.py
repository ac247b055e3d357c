"""What every part of ``Mind`` works with."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from ..config import Config
from ..embed import Embedder
from ..models import Models
from ..records import Author
from ..store import Store

__all__ = ["MindBase", "Progress", "TimeLike"]

Progress = Callable[[int, int], None]
TimeLike = datetime | str | int | float | None


class MindBase:
    """The state the parts of ``Mind`` share: one agent's view of one store."""

    store: Store
    agent: str
    config: Config
    home: Path
    embedder: Embedder
    models: Models
    author: Author
