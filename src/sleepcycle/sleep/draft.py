"""Drafts: the memories that code can write from the night's lines, for the verifier to judge.

Most of what is worth remembering from a chat is what people say about themselves: "I moved
to Lisbon last week", "my manager is Inês", "I'm allergic to peanuts". Turning such a line
into a memory is a rewrite, not an act of imagination: the speaker's name for *I* and *we*,
*Maya's* for *my*, the verb agreed with the new subject. That is a job for code, which does
it the same way every night and cannot invent a dog's bakery; a 135M dreamer cannot. The
dreamer model, where it is good enough (``sleep.dreamer``), adds what code cannot see.

Only statements are drafted: questions, requests, greetings, hedges and hypotheticals, lines
about the listener (*you*) and shouting are left alone, as are the assistant's own lines and
internal ones. A night drafts at most one memory per ``sleep.draft_every`` episodes (two per
line), the most informative lines first (names, numbers, content words), so memory stays
smaller than the chat it comes from. A draft is a proposal like any other: the code checks
and the verifier decide, and a later statement of the same kind about the same person
(where they live, where they work, what they drink), on a later day, supersedes the earlier.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..recall import STOPWORDS
from ..records import Episode, MemoryKind, Role
from .crunch import CrunchOutput
from .proposals import TEXT_LIMIT, Proposal

__all__ = ["Draft", "draft", "third_person"]

_SPLIT = re.compile(r"(?<=[.!?])\s+|\s+[-–—]\s+|\n+|;\s+")
_CLAUSE = re.compile(
    r",\s+(?=(?:and\s+|but\s+|so\s+)?I\b)|\s+(?:and|but|because|so|though)\s+(?=I\b)"
)
_LEAD = re.compile(
    r"^(?:(?:also|and|but|so|oh|well|anyway|plus|btw|honestly|actually|again|ok|okay)\b[,:]?\s+)+",
    re.IGNORECASE,
)
_LABEL = re.compile(r"^[\w\s'’-]{1,30}:\s+(?=\S)")  # "Random thought: ...", "Big change: ..."
_REMIND = re.compile(r"\b(?:remind|tell) me (?:that |again )?(?=I\b)", re.IGNORECASE)
_FIRST = re.compile(
    r"\b(?:I|I['’](?:m|ve|d|ll)|[Mm]y|mine|myself|[Ww]e|[Ww]e['’](?:re|ve|ll|d)|[Oo]urs?)\b"
)
_SKIP = re.compile(
    r"\b(?:you|your|yours|ya|u|please|thanks?|thank you|maybe|perhaps|might|imagine|"
    r"let['’]s|shall we|lol|haha)\b|\bI (?:think|guess|suppose|wonder|hope|wish|feel like|"
    r"bet|believe|doubt)\b|\bnot sure\b",
    re.IGNORECASE,
)
_MODAL = re.compile(r"\b(?:will|would|could|can|should|might|may)\b|['’](?:ll|d)\b", re.I)
_IF = re.compile(r"\s+(?:if|unless|whenever|in case)\s+", re.IGNORECASE)
_GREETING = re.compile(
    r"^(?:hi|hey|hello|morning|good (?:morning|evening|night)|bye|cheers)\b", re.I
)
_ADVERBS = frozenset(
    [
        "just",
        "really",
        "also",
        "still",
        "now",
        "finally",
        "usually",
        "always",
        "never",
        "often",
        "already",
        "actually",
        "recently",
        "sometimes",
        "totally",
        "absolutely",
        "definitely",
        "mostly",
        "even",
        "only",
    ]
)
_UNCHANGED = frozenset(
    [
        "can",
        "could",
        "will",
        "would",
        "should",
        "must",
        "might",
        "may",
        "did",
        "had",
        "was",
        "got",
        "went",
        "made",
        "took",
        "came",
        "saw",
        "left",
        "began",
        "ran",
        "met",
        "found",
        "felt",
        "kept",
        "told",
        "said",
        "thought",
        "bought",
        "brought",
        "caught",
        "taught",
        "spent",
        "sent",
        "built",
        "lost",
        "won",
        "wrote",
        "read",
        "heard",
        "paid",
        "gave",
        "sold",
        "sat",
        "stood",
        "knew",
        "grew",
        "drew",
        "flew",
        "threw",
        "woke",
        "broke",
        "chose",
        "spoke",
        "drove",
        "rode",
        "froze",
        "hid",
        "forgot",
        "became",
        "fell",
        "held",
        "led",
        "lent",
        "meant",
        "slept",
        "swam",
        "sang",
        "rang",
        "drank",
        "began",
        "cannot",
        "can't",
        "couldn't",
        "won't",
        "wouldn't",
        "didn't",
        "wasn't",
        "shouldn't",
        "mustn't",
        "hadn't",
    ]
)
_IRREGULAR = {
    "am": "is", "are": "is", "were": "was", "have": "has", "do": "does", "don't": "doesn't",
    "don’t": "doesn’t", "haven't": "hasn't", "haven’t": "hasn’t", "aren't": "isn't",
    "aren’t": "isn’t", "weren't": "wasn't", "weren’t": "wasn’t", "go": "goes",
}  # fmt: skip
_CONTRACTION = {"m": "is", "ve": "has", "d": "would", "ll": "will", "re": "is"}
_WORD = re.compile(r"[^\W_][\w'’-]*")


@dataclass(frozen=True, slots=True)
class Draft:
    """One drafted memory: its text, the line it comes from, and what it says about whom."""

    text: str
    source: Episode
    subject: str
    slot: str | None  # "home", "work", "drink", ... when a later statement replaces it


def _agree(verb: str) -> str:
    """The third-person singular of a verb that followed *I* or *we*."""
    low = verb.lower()
    if low in _IRREGULAR:
        return _IRREGULAR[low]
    past = low.endswith("ed") and not low.endswith("eed")
    if low in _UNCHANGED or past or low.endswith(("n't", "n’t")) or not low.isalpha():
        return verb
    if low.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if len(low) > 2 and low.endswith("y") and low[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def third_person(sentence: str, name: str) -> str:
    """``sentence`` as said by ``name``, rewritten about them: *I* and *we* become the name
    (with the verb agreed), *my* and *our* the name's possessive (their, once named)."""
    words = sentence.split(" ")
    out: list[str] = []
    named = False
    agree_next = False
    for word in words:
        core = word.strip(',.!:;"“”()')
        lead = word[: len(word) - len(word.lstrip(',.!:;"“”()'))]
        tail = word[len(lead) + len(core) :]
        low = core.lower()
        match = re.fullmatch(r"(I|we|We)['’](m|ve|d|ll|re)", core)
        if match:
            out.append(f"{lead}{name} {_CONTRACTION[match.group(2)]}{tail}")
            named = True
            continue
        if core == "I" or low == "we":
            out.append(f"{lead}{name}{tail}")
            named, agree_next = True, True
            continue
        if low in ("my", "our"):
            out.append(f"{lead}{'their' if named else name + chr(39) + 's'}{tail}")
            named = True
            continue
        if low in ("me", "us"):
            out.append(f"{lead}{name}{tail}")
            continue
        if low in ("mine", "ours"):
            out.append(f"{lead}{name}'s{tail}")
            continue
        if low in ("myself", "ourselves"):
            out.append(f"{lead}themselves{tail}")
            continue
        if agree_next and core:
            if low in _ADVERBS:
                out.append(word)
                continue
            agree_next = False
            out.append(f"{lead}{_agree(core)}{tail}")
            continue
        out.append(word)
    text = " ".join(out).strip()
    return text[:1].upper() + text[1:]


def _statements(content: str) -> list[str]:
    """The first-person statements of a line, trimmed of fillers and labels."""
    found = []
    for raw in _SPLIT.split(content):
        sentence = raw.strip()
        if not sentence or sentence.endswith("?"):
            continue
        for part in _CLAUSE.split(_REMIND.sub("", sentence)):
            clause = _LABEL.sub("", _LEAD.sub("", part.strip())).strip()
            clause = _LEAD.sub("", clause).strip(" ,")
            condition = _IF.search(clause)
            if condition:  # "I'm allergic to X if we ...": the statement stands alone
                main = clause[: condition.start()]
                if _MODAL.search(main):
                    continue  # "I'll come if ...": not a fact
                clause = main.strip()
            if not clause or not _FIRST.search(clause) or _SKIP.search(clause):
                continue
            if _GREETING.match(clause) or (clause.upper() == clause and clause.lower() != clause):
                continue
            found.append(clause)
    return found


_SLOTS = (
    ("home", re.compile(r"\b(?:lives?|living|moved|relocated|based) (?:in|to)\b", re.I)),
    (
        "work",
        # "a designer at Atlas Maps": the employer's name is capitalised (no IGNORECASE there)
        re.compile(r"\b(?i:works? (?:at|for|as)|job (?:at|as))|\b[Aa]n? [\w -]{2,40} at [A-Z]"),
    ),
    ("drink", re.compile(r"\b(?:drinks?|coffee|tea|latte|flat white|espresso)\b", re.I)),
    ("manager", re.compile(r"\bmanager is\b", re.I)),
)


def _slot(text: str) -> str | None:
    for name, pattern in _SLOTS:
        if pattern.search(text):
            return name
    return None


_LASTING = re.compile(
    r"\b(?:allergic|allergy|favou?rite|named|called|manager|boss|born|married|engaged|divorced|"
    r"wife|husband|partner|girlfriend|boyfriend|daughter|son|kids|children|sister|brother|"
    r"mother|father|mom|mum|dad|pet|dog|cat|vegan|vegetarian|birthday|degree|studying|learning)\b",
    re.IGNORECASE,
)


def _informative(text: str, slot: str | None, subject: str) -> float:
    """How much a drafted memory is likely worth: content words, names and numbers (other
    than its subject's), lasting facts (a slot, family, pets, health), less for rambling."""
    words = [w for w in _WORD.findall(text) if not w.startswith(subject)]
    content = [w for w in words if w.lower() not in STOPWORDS]
    names = sum(1 for w in words if w[:1].isupper())
    numbers = sum(1 for w in words if any(c.isdigit() for c in w))
    lasting = 4 if slot or _LASTING.search(text) else 0
    return len(content) + 2 * names + 2 * numbers + lasting - 0.5 * max(0, len(words) - 14)


PER_LINE = 2  # drafts from one line at most


def draft(episodes: Sequence[Episode], every: int) -> list[Draft]:
    """The drafts for a night's ``episodes``: at most one per ``every`` episodes (and two per
    line), the most informative first, returned in time order."""
    candidates: list[tuple[float, Draft]] = []
    said: set[str] = set()
    for episode in episodes:
        if episode.role is not Role.USER or not episode.name:
            continue
        found: list[tuple[float, Draft]] = []
        for statement in _statements(episode.content):
            text = third_person(statement, episode.name).rstrip(" ,;:")
            if len(_WORD.findall(text)) < 4 or len(text) > TEXT_LIMIT:
                continue
            if not text.endswith((".", "!")):
                text += "."
            text = text[:-1] + "." if text.endswith("!") else text
            slot = _slot(text)
            score = _informative(text, slot, episode.name)
            if text.casefold() not in said:  # a fact said again is drafted once
                said.add(text.casefold())
                found.append((score, Draft(text, episode, episode.name, slot)))
        candidates += sorted(found, key=lambda c: -c[0])[:PER_LINE]
    budget = max(1, len(episodes) // max(1, every))
    ranked = [d for _, d in sorted(candidates, key=lambda c: -c[0])]
    kept = ranked[:budget]
    while True:  # what a later statement supersedes does not stay active: it costs nothing
        extra = budget + len(_replaced(kept))
        if extra <= len(kept) or len(kept) == len(ranked):
            break
        kept = ranked[:extra]
    return sorted(kept, key=lambda d: d.source.time)


def _day(d: Draft) -> str:
    return d.source.time.date().isoformat()


def _replaced(drafts: Sequence[Draft]) -> dict[int, int]:
    """Index of a draft -> the index of the latest draft, on a later day, of the same slot
    and person (which supersedes it)."""
    latest: dict[tuple[str, str], int] = {}
    ordered = sorted(range(len(drafts)), key=lambda i: drafts[i].source.time)
    for i in ordered:
        slot = drafts[i].slot
        if slot is not None:
            latest[(drafts[i].subject, slot)] = i
    out = {}
    for i, d in enumerate(drafts):
        j = None if d.slot is None else latest.get((d.subject, d.slot))
        if j is not None and j != i and _day(drafts[j]) > _day(d):
            out[i] = j
    return out


def proposals(drafts: Sequence[Draft], crunched: CrunchOutput, start: int) -> list[Proposal]:
    """Drafts as proposals (``add``, role ``drafter``), each in the cluster of its line; a
    draft of the same slot and person on a later day supersedes an earlier one."""
    cluster_of = {e: c.id for c in crunched.clusters for e in (*c.episodes, *c.context)}
    out: list[Proposal] = []
    replaced = _replaced(drafts)
    ids = [f"p{start + n}" for n in range(len(drafts))]
    for n, d in enumerate(drafts):
        later = replaced.get(n)
        out.append(
            Proposal(
                id=ids[n],
                cluster=cluster_of.get(d.source.id, crunched.clusters[0].id),
                op="add",
                kind=MemoryKind.FACT,
                text=d.text,
                sources=[d.source.id],
                reason="drafted from the speaker's own words",
                role="drafter",
                superseded_by=ids[later] if later is not None else None,
            )
        )
    return out
