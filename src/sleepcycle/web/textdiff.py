"""Text diffs for the page: word by word for a memory's text, line by line for the persona.

A diff is a list of ``(op, text)`` segments, ``op`` one of ``same``, ``del`` and ``ins``; the
templates show them as plain text, ``<del>`` and ``<ins>``.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

__all__ = ["Segment", "lines", "words"]

Segment = tuple[str, str]

_TOKEN = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)


def _segments(a: list[str], b: list[str], glue: str) -> list[Segment]:
    out: list[Segment] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            out.append(("same", glue.join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(("del", glue.join(a[i1:i2])))
        if j2 > j1:
            out.append(("ins", glue.join(b[j1:j2])))
    return out


def _joined(segments: list[Segment]) -> list[Segment]:
    """Changes separated only by spaces read as one change: "<del>oat milk</del><ins>green
    tea</ins>", not "<del>oat</del><ins>green</ins> <del>milk</del><ins>tea</ins>"."""
    out: list[Segment] = []
    block: dict[str, list[str]] = {"del": [], "ins": []}
    real = {"del": False, "ins": False}

    def flush() -> None:
        for op in ("del", "ins"):
            if real[op]:
                out.append((op, "".join(block[op])))
            block[op].clear()
            real[op] = False

    for i, (op, text) in enumerate(segments):
        between = any(real.values()) and i + 1 < len(segments) and segments[i + 1][0] != "same"
        if op == "same" and text.isspace() and between:
            block["del"].append(text)
            block["ins"].append(text)
        elif op == "same":
            flush()
            out.append((op, text))
        else:
            block[op].append(text)
            real[op] = True
    flush()
    return out


def words(before: str, after: str) -> list[Segment]:
    """``before`` -> ``after`` as runs of words (spaces and punctuation are tokens too)."""
    return _joined(_segments(_TOKEN.findall(before), _TOKEN.findall(after), ""))


def lines(before: str, after: str) -> list[Segment]:
    """``before`` -> ``after`` one line per segment, for documents such as the persona."""
    out: list[Segment] = []
    for op, text in _segments(before.splitlines(), after.splitlines(), "\n"):
        out += [(op, line) for line in text.split("\n")]
    return out
