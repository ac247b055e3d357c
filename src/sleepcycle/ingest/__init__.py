"""Reading chat logs into drafts: JSONL, JSON arrays and plain-text transcripts.

Parsing is separate from storing: a file is read whole and checked line by line first, so a
bad line stops the ingest before anything is written (``Mind.ingest`` then stores the batch in
one transaction).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from ..errors import InputError
from ..records import Role
from .drafts import Batch, Draft, EpisodeDraft, ThoughtDraft, build
from .messages import LineError, parse_json_array, parse_jsonl, parse_message
from .transcript import parse_transcript, role_for

__all__ = [
    "Batch",
    "Draft",
    "EpisodeDraft",
    "Format",
    "IngestReport",
    "ThoughtDraft",
    "build",
    "detect_format",
    "parse_message",
    "read_drafts",
    "role_for",
]


class Format(StrEnum):
    AUTO = "auto"
    JSONL = "jsonl"
    JSON = "json"
    TRANSCRIPT = "transcript"


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What one ingest did."""

    source: str
    episodes_added: int
    episodes_present: int
    thoughts_added: int
    thoughts_present: int
    sessions: tuple[str, ...]
    first: datetime | None
    last: datetime | None

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "episodes_added": self.episodes_added,
            "episodes_present": self.episodes_present,
            "thoughts_added": self.thoughts_added,
            "thoughts_present": self.thoughts_present,
            "sessions": list(self.sessions),
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
        }


def detect_format(path: Path, text: str) -> Format:
    """JSONL, JSON or transcript, from the extension and then the first character."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return Format.JSONL
    if suffix == ".json":
        return Format.JSON
    if suffix in (".txt", ".md", ".log"):
        return Format.TRANSCRIPT
    first = text.lstrip()[:1]
    if first == "{":
        return Format.JSONL
    if first == "[":
        return Format.JSON
    return Format.TRANSCRIPT


def _read_text(path: Path, max_bytes: int | None) -> str:
    if str(path) == "-":
        text = sys.stdin.read(max_bytes + 1) if max_bytes is not None else sys.stdin.read()
        if max_bytes is not None and len(text) > max_bytes:
            raise InputError(_too_big(max_bytes), path="<stdin>")
        return text
    try:
        if max_bytes is not None and path.stat().st_size > max_bytes:
            raise InputError(_too_big(max_bytes, path.stat().st_size), path=path)
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError("no such file; check the path", path=path) from None
    except IsADirectoryError:
        raise InputError("is a directory; give a file", path=path) from None
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not UTF-8 text (byte {exc.start}); convert the file to UTF-8", path=path
        ) from None
    except OSError as exc:
        raise InputError(f"cannot read it ({exc.strerror})", path=path) from None


def _too_big(limit: int, size: int | None = None) -> str:
    have = f" ({size:,} bytes)" if size is not None else ""
    return (
        f"larger than the limits.file_bytes limit of {limit:,} bytes{have}; split it, or "
        "raise the limit in config.toml; nothing was ingested"
    )


def read_drafts(
    path: Path,
    *,
    fmt: Format = Format.AUTO,
    session: str | None = None,
    speakers: Mapping[str, Role] | None = None,
    max_bytes: int | None = None,
    max_depth: int = 32,
) -> list[Draft]:
    """Every draft in the file, in order; raises InputError naming the file and line. A file
    over ``max_bytes`` is refused before it is read; JSON nested deeper than ``max_depth``
    is refused by its line."""
    text = _read_text(path, max_bytes)
    name = "<stdin>" if str(path) == "-" else str(path)
    default_session = session or ("stdin" if name == "<stdin>" else path.stem)
    if fmt is Format.AUTO:
        fmt = detect_format(path, text)
    parsed: Iterator[tuple[int, list[Draft]]] | Iterator[tuple[int, list[EpisodeDraft]]]
    if fmt is Format.JSONL:
        parsed = parse_jsonl(text, default_session, name, max_depth)
    elif fmt is Format.JSON:
        parsed = parse_json_array(text, default_session, name, max_depth)
    else:
        parsed = parse_transcript(text, default_session, name, speakers or {})
    drafts: list[Draft] = []
    try:
        for _, items in parsed:
            drafts.extend(items)
    except LineError as exc:
        raise InputError(f"{exc}; nothing was ingested", path=name, line=exc.line) from None
    if not drafts:
        raise InputError("holds no messages; nothing was ingested", path=name)
    return drafts
