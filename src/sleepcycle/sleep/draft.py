"""Drafts: the memories that code can write from the night's lines, for the verifier to judge.

Most of what is worth remembering from a chat is what people say about themselves: "I moved
to Lisbon last week", "my manager is Inês", "I'm allergic to peanuts". Turning such a line
into a memory is a rewrite, not an act of imagination: the speaker's name for *I* and *we*,
*Maya's* for *my*, the verb agreed with the new subject. That is a job for code, which does
it the same way every night and cannot invent a dog's bakery; a 135M dreamer cannot. The
dreamer model, where it is good enough (``sleep.dreamer``), adds what code cannot see.

Only statements are drafted: questions, requests, greetings, hedges and hypotheticals, lines
about the listener (*you*) and shouting are left alone, as are the assistant's own lines and
internal ones. What a speaker says about someone or something the night names ("Pixel needs a
rabies jab"), or with a number in it ("Standup is at 10:00"), is kept as it stands. A line's
statements become one memory, and those that fill a slot (where someone lives, where they
work, what they drink, who their manager is) one memory per slot, since a later day's
statement of the same slot about the same person supersedes it. A night drafts at most one
memory per ``sleep.draft_every`` episodes, lasting facts first (slots, family, pets, health),
then the most informative (names, numbers, content words), so memory stays smaller than the
chat it comes from. A draft is a proposal like any other: the code checks and the verifier
decide.
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


_POINTER_WORDS = """it its this that these those there here they them he him his she her which
what who everything something nothing anything someone everyone"""
_POINTER = frozenset(_POINTER_WORDS.split())
_NAMED = re.compile(r"(?<=[^.!?\s]\s)([A-Z][\w'’-]+)")  # a capitalised word inside a sentence


def names_in(episodes: Sequence[Episode]) -> frozenset[str]:
    """The names the night's lines use for someone or something other than a speaker: words
    capitalised inside a sentence (so not only because they start it)."""
    speakers = {e.name for e in episodes if e.name}
    found: set[str] = set()
    for e in episodes:
        for word in _NAMED.findall(e.content):
            core = re.sub(r"['’]s$", "", word)
            if core not in speakers and core.lower() not in STOPWORDS:
                found.add(core)
    return frozenset(found)


def _about_others(clause: str, names: frozenset[str]) -> bool:
    """A statement in the third person worth drafting as it stands: about someone or
    something the night names ("Pixel needs a rabies jab"; not a speaker: what one says of
    the other is mostly praise), or stating a number or a time ("Standup is at 10:00 every
    day"), and not about a pointer word (*it*, *that*, *they*)."""
    words = _WORD.findall(clause)
    if len(words) < 4 or words[0].lower() in _POINTER:
        return False
    head = re.sub(r"['’]s$", "", words[0])
    vocative = clause[len(words[0]) : len(words[0]) + 1] == ","  # "Jon, that's great"
    return (head in names and not vocative) or _digits(clause)


def _digits(text: str) -> bool:
    return any(c.isdigit() for c in text)


def _statements(content: str, names: frozenset[str] = frozenset()) -> list[str]:
    """The statements of a line worth a memory, trimmed of fillers and labels: what the
    speaker says about themselves, and what they say about someone or something named
    (``names``) or with a number in it."""
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
            if not clause or _SKIP.search(clause):
                continue
            if not _FIRST.search(clause) and not _about_others(clause, names):
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
    than its subject's), lasting facts first (a slot, family, pets, health), less for rambling."""
    words = [w for w in _WORD.findall(text) if not w.startswith(subject)]
    content = [w for w in words if w.lower() not in STOPWORDS]
    names = sum(1 for w in words if w[:1].isupper())
    numbers = sum(1 for w in words if any(c.isdigit() for c in w))
    lasting = 8 if slot or _LASTING.search(text) else 0  # what a person writes down first
    return len(content) + 2 * names + 2 * numbers + lasting - 0.5 * max(0, len(words) - 14)


PER_LINE = 3  # statements joined into a line's draft at most


def _join(parts: list[tuple[int, float, str]]) -> tuple[float, str] | None:
    """The most informative ``PER_LINE`` parts of a line, in its order, as one text; scored
    by the best part and half the rest (a long line is not worth its length)."""
    best = sorted(sorted(parts, key=lambda r: -r[1])[:PER_LINE])
    while len(" ".join(t for _, _, t in best)) > TEXT_LIMIT:
        best.remove(min(best, key=lambda r: r[1]))
    if not best:
        return None
    scores = sorted((r[1] for r in best), reverse=True)
    return scores[0] + 0.5 * sum(scores[1:]), " ".join(t for _, _, t in best)


def _line_drafts(
    episode: Episode, names: frozenset[str], said: set[str]
) -> list[tuple[float, Draft]]:
    """One line's drafts: its statements joined in the line's order into one memory, so a
    line that says three things costs one memory, not three; those that fill a slot are
    joined apart, one memory per slot, since a later statement of the slot replaces them."""
    assert episode.name
    parts: dict[str | None, list[tuple[int, float, str]]] = {}
    for n, statement in enumerate(_statements(episode.content, names)):
        text = third_person(statement, episode.name).rstrip(" ,;:")
        if len(_WORD.findall(text)) < 4 or len(text) > TEXT_LIMIT:
            continue
        if not text.endswith((".", "!")):
            text += "."
        text = text[:-1] + "." if text.endswith("!") else text
        if text.casefold() in said:  # a fact said again is drafted once
            continue
        said.add(text.casefold())
        slot = _slot(text)
        parts.setdefault(slot, []).append((n, _informative(text, slot, episode.name), text))
    out = []
    for slot, group in parts.items():
        joined = _join(group)
        if joined is not None:
            out.append((joined[0], Draft(joined[1], episode, episode.name, slot)))
    return out


def draft(episodes: Sequence[Episode], every: int) -> list[Draft]:
    """The drafts for a night's ``episodes``: at most one per ``every`` episodes, the most
    informative first, returned in time order."""
    candidates: list[tuple[float, Draft]] = []
    said: set[str] = set()
    names = names_in(episodes)
    for episode in episodes:
        if episode.role is Role.USER and episode.name:
            candidates += _line_drafts(episode, names, said)
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
