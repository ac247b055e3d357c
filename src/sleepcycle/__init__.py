"""sleepcycle: long-term memory for LLM agents that consolidates offline, like sleep.

import sleepcycle

with sleepcycle.open(agent="maya") as mind:
    mind.ingest("chat.jsonl")
    print(mind.recall("where does Maya live?").hits[0].text)
"""

from .config import (
    Config,
    EmbeddingSettings,
    EngineSettings,
    RecallSettings,
    RoleSettings,
    SleepSettings,
)
from .embed import Embedder, HashingEmbedder, MiniLMEmbedder
from .errors import (
    AmbiguousIdError,
    ConfigError,
    ConflictError,
    EmbeddingError,
    InputError,
    LockedError,
    ModelError,
    NotFoundError,
    RuntimeFailure,
    SleepcycleError,
    SleepError,
    StoreError,
    UsageError,
)
from .ingest import Format, IngestReport
from .memfiles import FileFormat, ImportReport
from .mind import Mind, open
from .models import (
    Backend,
    ChatReply,
    ChatRequest,
    ChoiceModel,
    FunctionModel,
    LlamaBackend,
    Models,
    OpenAIBackend,
    ScriptedModel,
)
from .recall import Hit, Mode, Recall, Scope
from .records import (
    Association,
    Author,
    AuthorKind,
    Episode,
    ItemType,
    JournalEntry,
    Memory,
    MemoryChange,
    MemoryKind,
    MemoryState,
    MemoryStatus,
    MemoryVersion,
    Op,
    Outcome,
    PersonaVersion,
    Role,
    Sleep,
    SleepStatus,
    Thought,
    ThoughtKind,
    ThoughtStatus,
)
from .sleep import Diff, RollbackReport, SleepReport

__version__ = "0.1.0"

__all__ = [
    "AmbiguousIdError",
    "Association",
    "Author",
    "AuthorKind",
    "Backend",
    "ChatReply",
    "ChatRequest",
    "ChoiceModel",
    "Config",
    "ConfigError",
    "ConflictError",
    "Diff",
    "Embedder",
    "EmbeddingError",
    "EmbeddingSettings",
    "EngineSettings",
    "Episode",
    "FileFormat",
    "Format",
    "FunctionModel",
    "HashingEmbedder",
    "Hit",
    "ImportReport",
    "IngestReport",
    "InputError",
    "ItemType",
    "JournalEntry",
    "LlamaBackend",
    "LockedError",
    "Memory",
    "MemoryChange",
    "MemoryKind",
    "MemoryState",
    "MemoryStatus",
    "MemoryVersion",
    "Mind",
    "MiniLMEmbedder",
    "Mode",
    "ModelError",
    "Models",
    "NotFoundError",
    "Op",
    "OpenAIBackend",
    "Outcome",
    "PersonaVersion",
    "Recall",
    "RecallSettings",
    "Role",
    "RoleSettings",
    "RollbackReport",
    "RuntimeFailure",
    "Scope",
    "ScriptedModel",
    "Sleep",
    "SleepError",
    "SleepReport",
    "SleepSettings",
    "SleepStatus",
    "SleepcycleError",
    "StoreError",
    "Thought",
    "ThoughtKind",
    "ThoughtStatus",
    "UsageError",
    "__version__",
    "open",
]
