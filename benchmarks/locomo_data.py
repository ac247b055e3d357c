"""LoCoMo's data as the benchmarks read it: conversations, sessions, turns and questions.

Read in place from ``../shared/data/locomo/locomo10.json`` (CC BY-NC 4.0, evaluation only),
never copied.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "locomo" / "locomo10.json"

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
EVIDENCE_ID = re.compile(r"D\d+:\d+")
SESSION_KEY = re.compile(r"session_(\d+)")
DATE_FORMAT = "%I:%M %p on %d %B, %Y"  # "1:56 pm on 8 May, 2023"
TURN_STEP = timedelta(minutes=1)


# data --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Turn:
    dia_id: str
    speaker: str
    content: str
    time: datetime


@dataclass(frozen=True, slots=True)
class Session:
    number: int
    time: datetime
    turns: tuple[Turn, ...]

    @property
    def name(self) -> str:
        return f"session_{self.number}"


@dataclass(frozen=True, slots=True)
class Conversation:
    sample_id: str
    sessions: tuple[Session, ...]

    @property
    def turn_ids(self) -> frozenset[str]:
        return frozenset(t.dia_id for s in self.sessions for t in s.turns)


@dataclass(frozen=True, slots=True)
class Question:
    sample_id: str
    text: str
    category: int
    evidence: tuple[str, ...]  # normalised turn ids
    raw_evidence: tuple[str, ...] = ()


def normalise_evidence(raw: Iterable[str]) -> tuple[str, ...]:
    """Turn ids in ``raw``, in order, de-duplicated: ``re.findall(r"D\\d+:\\d+", ...)``.

    Packed entries split (``"D8:6; D9:17"`` gives both); entries with no well-formed id give
    none (``"D"`` and the mistyped ``"D:11:26"`` give nothing: ``D`` is not followed by a
    digit, and ``11:26`` has no ``D``); ``"D30:05"`` stays ``"D30:05"`` and so never matches
    the turn ``D30:5``.
    """
    ids = (found for entry in raw for found in EVIDENCE_ID.findall(entry))
    return tuple(dict.fromkeys(ids))


def parse_session_time(text: str) -> datetime:
    """``"1:56 pm on 8 May, 2023"`` as an aware UTC datetime."""
    return datetime.strptime(text.strip(), DATE_FORMAT).replace(tzinfo=UTC)


def turn_content(turn: Mapping[str, Any]) -> str:
    """The turn's text, with the caption of a shared image appended."""
    text = str(turn.get("text") or "").strip()
    caption = str(turn.get("blip_caption") or "").strip()
    if caption:
        text = f"{text} [shares a photo: {caption}]".strip()
    return text


def parse_conversation(sample: Mapping[str, Any]) -> Conversation:
    conv = sample["conversation"]
    numbers = sorted(
        int(m.group(1)) for key in conv if (m := SESSION_KEY.fullmatch(key)) and conv[key]
    )
    sessions = []
    for number in numbers:
        start = parse_session_time(conv[f"session_{number}_date_time"])
        turns = tuple(
            Turn(str(t["dia_id"]), str(t["speaker"]), turn_content(t), start + i * TURN_STEP)
            for i, t in enumerate(conv[f"session_{number}"])
        )
        sessions.append(Session(number, start, turns))
    return Conversation(str(sample["sample_id"]), tuple(sessions))


def parse_questions(sample: Mapping[str, Any]) -> list[Question]:
    return [
        Question(
            sample_id=str(sample["sample_id"]),
            text=str(qa["question"]),
            category=int(qa["category"]),
            evidence=normalise_evidence(qa.get("evidence") or ()),
            raw_evidence=tuple(qa.get("evidence") or ()),
        )
        for qa in sample["qa"]
    ]


def load_locomo(path: Path) -> tuple[list[Conversation], list[Question]]:
    """Conversations and questions from ``locomo10.json`` (or a file shaped like it)."""
    samples = json.loads(path.read_text(encoding="utf-8"))
    conversations = [parse_conversation(s) for s in samples]
    questions = [q for s in samples for q in parse_questions(s)]
    return conversations, questions


def conversation_messages(conversation: Conversation) -> list[dict[str, Any]]:
    """The conversation as messages for ``Mind.ingest_messages``: both speakers as users."""
    return [
        {
            "role": "user",
            "name": turn.speaker,
            "content": turn.content,
            "time": turn.time,
            "session": session.name,
            "meta": {"dia_id": turn.dia_id},
        }
        for session in conversation.sessions
        for turn in session.turns
        if turn.content
    ]


def conversation_prefix(
    conversation: Conversation, questions: Sequence[Question], sessions: int
) -> tuple[Conversation, list[Question]]:
    """The first ``sessions`` sessions, and the questions whose evidence all lies in them
    (a question citing a later turn could not be answered from the prefix; it is dropped)."""
    kept = Conversation(conversation.sample_id, conversation.sessions[:sessions])
    turns = kept.turn_ids
    return kept, [q for q in questions if q.evidence and set(q.evidence) <= turns]
