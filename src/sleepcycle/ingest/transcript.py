"""Plain-text transcripts: ``Name: text`` lines.

    [2026-03-02 09:14] Maya: I moved to Lisbon last week!
    Assistant: Congratulations! How is the new flat?
    Maya: Small, but the light is lovely.
      The landlord is nice too.

A speaker is a name of up to 40 characters that starts with a letter, followed by a colon and a
space. An optional ``[time]`` before the name gives the time. Lines that do not start a new
speaker continue the message above them. Speakers named like a role (``User``, ``Assistant``,
``System``, ``Tool``, ``Thinking``, ``Event``, and ``Human``, ``AI``, ``Bot``) get that role;
other names are users unless ``speakers`` maps them (``{"Ada": Role.ASSISTANT}``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import datetime

from ..records import Role
from ..times import parse_time
from .drafts import EpisodeDraft
from .messages import ROLE_ALIASES, LineError

__all__ = ["parse_transcript", "role_for"]

_SPEAKER = re.compile(
    r"^(?:\[(?P<time>[^\]]{1,40})\]\s*)?(?P<name>[A-Za-z][\w .'\-]{0,39}):(?:\s+|$)(?P<text>.*)$"
)


def role_for(name: str, speakers: Mapping[str, Role]) -> tuple[Role, str | None]:
    """The role of a speaker, and the name to keep (None when the name is just the role)."""
    for known, role in speakers.items():
        if known.casefold() == name.casefold():
            return role, name
    lowered = name.strip().lower()
    if lowered in ROLE_ALIASES:
        return ROLE_ALIASES[lowered], None
    try:
        return Role(lowered), None
    except ValueError:
        return Role.USER, name


def parse_transcript(
    text: str, default_session: str, path: str, speakers: Mapping[str, Role]
) -> Iterator[tuple[int, list[EpisodeDraft]]]:
    """(line number, [draft]) for each message, numbered by the line that starts it."""
    current: tuple[int, str, datetime | None, list[str]] | None = None

    def finish() -> Iterator[tuple[int, list[EpisodeDraft]]]:
        if current is None:
            return
        number, name, when, lines = current
        content = "\n".join(lines).strip()
        if not content:
            raise LineError(f'"{name}:" has no text; write it after the colon', number)
        role, kept = role_for(name, speakers)
        yield (
            number,
            [EpisodeDraft(role, content, default_session, when, kept, {}, f"{path}:{number}")],
        )

    for number, raw in enumerate(text.split("\n"), start=1):  # lines end at newlines only
        line = raw.rstrip()
        match = _SPEAKER.match(line)
        if match is None:
            if current is None:
                if not line.strip():
                    continue
                raise LineError('expected "Name: text" (for example "User: hello")', number)
            current[3].append(line)
            continue
        yield from finish()
        when = None
        if match["time"]:
            try:
                when = parse_time(match["time"])
            except ValueError as exc:
                raise LineError(str(exc), number) from None
        current = (number, match["name"].strip(), when, [match["text"]])
    yield from finish()
