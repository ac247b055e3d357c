"""sleepcycle: long-term memory for LLM agents that consolidates offline, like sleep.

import sleepcycle

with sleepcycle.open(agent="maya") as mind:
    mind.ingest("chat.jsonl")
    print(mind.recall("where does Maya live?").hits[0].text)
"""

from .config import Config, EmbeddingSettings, RecallSettings
from .embed import Embedder, HashingEmbedder, MiniLMEmbedder
from .errors import (
    AmbiguousIdError,
    ConfigError,
    ConflictError,
    EmbeddingError,
    InputError,
    NotFoundError,
    RuntimeFailure,
    SleepcycleError,
    StoreError,
    UsageError,
)
from .ingest import Format, IngestReport
from .memfiles import FileFormat, ImportReport
from .mind import Mind, open
from .recall import Hit, Mode, Recall, Scope
from .records import (
    Association,
    Author,
    AuthorKind,
    Episode,
    ItemType,
    Memory,
    MemoryChange,
    MemoryKind,
    MemoryState,
    MemoryStatus,
    MemoryVersion,
    Op,
    PersonaVersion,
    Role,
    Thought,
    ThoughtKind,
    ThoughtStatus,
)

__version__ = "0.1.0"

__all__ = [
    "AmbiguousIdError",
    "Association",
    "Author",
    "AuthorKind",
    "Config",
    "ConfigError",
    "ConflictError",
    "Embedder",
    "EmbeddingError",
    "EmbeddingSettings",
    "Episode",
    "FileFormat",
    "Format",
    "HashingEmbedder",
    "Hit",
    "ImportReport",
    "IngestReport",
    "InputError",
    "ItemType",
    "Memory",
    "MemoryChange",
    "MemoryKind",
    "MemoryState",
    "MemoryStatus",
    "MemoryVersion",
    "Mind",
    "MiniLMEmbedder",
    "Mode",
    "NotFoundError",
    "Op",
    "PersonaVersion",
    "Recall",
    "RecallSettings",
    "Role",
    "RuntimeFailure",
    "Scope",
    "SleepcycleError",
    "StoreError",
    "Thought",
    "ThoughtKind",
    "ThoughtStatus",
    "UsageError",
    "__version__",
    "open",
]
