"""Request bodies of the HTTP API: the untrusted input, validated where it enters."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ..records import MemoryKind, ThoughtKind
from ..times import parse_time

__all__ = [
    "AmendBody",
    "ApiTime",
    "EditBody",
    "EpisodesBody",
    "LinkBody",
    "MemoryBody",
    "PersonaBody",
    "ReasonBody",
    "RestoreBody",
    "ReviewBody",
    "RollbackBody",
    "SleepBody",
    "ThoughtBody",
]

Text = Field(min_length=1, max_length=20_000)

# A time in UTC; one that cannot be one (out of range in UTC) is a 422, not a crash.
ApiTime = Annotated[datetime, AfterValidator(parse_time)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EpisodesBody(_Body):
    """OpenAI-style messages (``role``, ``content``, optional ``name``, ``time``, ``session``),
    events (``role: event``) and thoughts (``type: thought``), recorded in one transaction."""

    messages: list[dict[str, Any]] = Field(min_length=1, max_length=10_000)
    session: str = Field("default", min_length=1, max_length=200)


class ThoughtBody(_Body):
    text: str = Text
    kind: ThoughtKind = ThoughtKind.PARKED
    sources: list[str] = Field(default_factory=list, max_length=50)


class MemoryBody(_Body):
    text: str = Text
    kind: MemoryKind = MemoryKind.FACT
    tags: list[str] = Field(default_factory=list, max_length=50)
    sources: list[str] = Field(default_factory=list, max_length=200)
    valid_from: ApiTime | None = None
    valid_to: ApiTime | None = None
    reason: str | None = Field(None, max_length=2000)


class EditBody(_Body):
    """Only the fields given change; ``valid_from`` / ``valid_to`` given as null clear them."""

    text: str | None = Field(None, min_length=1, max_length=20_000)
    kind: MemoryKind | None = None
    tags: list[str] | None = Field(None, max_length=50)
    valid_from: ApiTime | None = None
    valid_to: ApiTime | None = None
    reason: str | None = Field(None, max_length=2000)


class AmendBody(_Body):
    text: str = Text
    sources: list[str] = Field(default_factory=list, max_length=200)
    reason: str | None = Field(None, max_length=2000)


class ReasonBody(_Body):
    reason: str | None = Field(None, max_length=2000)


class RestoreBody(_Body):
    version: int | None = Field(None, ge=1)
    reason: str | None = Field(None, max_length=2000)


class LinkBody(_Body):
    other: str = Field(min_length=1, max_length=100)
    relation: str = Field("related", min_length=1, max_length=100)
    reason: str | None = Field(None, max_length=2000)


class PersonaBody(_Body):
    text: str = Text
    pinned: list[str] | None = Field(None, max_length=100)
    reason: str | None = Field(None, max_length=2000)


class SleepBody(_Body):
    dry_run: bool = False
    fresh: bool = False


class RollbackBody(_Body):
    force: bool = False


class ReviewBody(_Body):
    reason: str | None = Field(None, max_length=2000)
    force: bool = False
