"""Drafts: code rewrites what speakers say about themselves as third-person memories, and a
later statement of the same kind about the same person supersedes the earlier one."""

from __future__ import annotations

from pathlib import Path

from sleepcycle import MemoryStatus, MiniLMEmbedder
from sleepcycle.records import Outcome
from sleepcycle.sleep.draft import third_person
from sleepkit import ONE_CLUSTER, open_mind


def test_first_person_becomes_the_speaker() -> None:
    assert third_person("I live in Alfama now.", "Maya") == "Maya lives in Alfama now."
    assert third_person("I'm allergic to peanuts.", "Maya") == "Maya is allergic to peanuts."
    assert third_person("My manager is Inês.", "Maya") == "Maya's manager is Inês."
    assert (
        third_person("I handed in my notice today.", "Maya") == "Maya handed in their notice today."
    )
    assert third_person("I really need a flat white.", "Sam") == "Sam really needs a flat white."
    assert (
        third_person("I've been learning Portuguese.", "Sam") == "Sam has been learning Portuguese."
    )
    assert third_person("I watch birds.", "Sam") == "Sam watches birds."
    assert third_person("I study history.", "Sam") == "Sam studies history."


CHAT = [
    {"session": "d1", "time": "2026-03-02T08:00:00Z", "role": "user", "name": "Maya",
     "content": "Morning! I'm a designer at Brightline Studio in Manchester."},
    {"session": "d1", "time": "2026-03-02T08:01:00Z", "role": "assistant",
     "content": "Good morning, Maya! What's on today?"},
    {"session": "d1", "time": "2026-03-02T08:02:00Z", "role": "user", "name": "Maya",
     "content": "Can you suggest a lunch place? Also remind me that I'm allergic to peanuts."},
    {"session": "d1", "time": "2026-03-02T08:03:00Z", "role": "assistant",
     "content": "Noted, no peanuts. Try the noodle bar."},
    {"session": "d2", "time": "2026-04-08T09:00:00Z", "role": "user", "name": "Maya",
     "content": "Big news: I'm a senior designer at Atlas Maps in Lisbon now."},
    {"session": "d2", "time": "2026-04-08T09:01:00Z", "role": "assistant",
     "content": "Congratulations!"},
    {"session": "d2", "time": "2026-04-08T09:02:00Z", "role": "user", "name": "Maya",
     "content": "Thanks! Do you think I should learn Portuguese?"},
]  # fmt: skip


def test_a_night_of_drafts_keeps_the_statements_and_supersedes_the_old_job(
    home: Path, embedder: MiniLMEmbedder
) -> None:
    sleep = {**ONE_CLUSTER.model_dump(), "dreamer": "draft", "draft_every": 2}
    mind = open_mind(home, embedder, rounds=0, settings={"sleep": sleep})
    mind.ingest_messages(CHAT)
    assert mind.sleep().outcome is Outcome.DONE
    active = {m.text for m in mind.memories()}
    assert active == {
        "Maya is allergic to peanuts.",
        "Maya is a senior designer at Atlas Maps in Lisbon now.",
    }
    (old,) = mind.memories(statuses=[MemoryStatus.SUPERSEDED])
    assert old.text == "Maya is a designer at Brightline Studio in Manchester."
    assert old.valid_to is not None and old.valid_to.month == 4
    (new,) = [m for m in mind.memories() if "Atlas" in m.text]
    assert {(a.id, a.relation) for a in new.associations} == {(old.id, "supersedes")}
    assert not mind.store.calls.count(mind.get_sleep().id, "dream")  # no dreamer call
    mind.close()


def test_a_line_is_one_memory_and_what_it_says_of_others_is_kept() -> None:
    from datetime import UTC, datetime

    from sleepcycle.records import Episode, Role
    from sleepcycle.sleep.draft import draft

    def line(n: int, content: str, name: str | None = "Maya") -> Episode:
        role = Role.USER if name else Role.ASSISTANT
        when = datetime(2026, 4, 8, 9, n, tzinfo=UTC)
        return Episode(id=f"e{n}", agent="maya", session="d", role=role, content=content,
                       time=when, recorded_at=when, name=name)  # fmt: skip

    night = [
        line(1, "We adopted Pixel, a grey cat."),  # Pixel: named inside a sentence
        line(2, "My manager is Inês and I'm on the offline maps team. Standup is at 10:00."),
        line(3, "Pixel needs a rabies jab before she can fly."),
        line(4, "It was 2 years ago. Inês, that is great. Maya sounds happy today.", "Sam"),
        line(5, "I gave up coffee. I drink green tea now. I love the window here."),
        line(6, "Lovely!", None),
    ]
    texts = {d.text: d.slot for d in draft(night, every=1)}
    assert texts == {
        "Maya adopted Pixel, a grey cat.": None,
        "Maya's manager is Inês.": "manager",
        "Maya is on the offline maps team. Standup is at 10:00.": None,
        "Pixel needs a rabies jab before she can fly.": None,
        "Maya gave up coffee. Maya drinks green tea now.": "drink",
        "Maya loves the window here.": None,
    }
