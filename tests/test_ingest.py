"""Ingest: JSONL, JSON arrays, transcripts, single messages, events and thoughts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sleepcycle import InputError, Mind, Role, ThoughtKind, ThoughtStatus


def write_jsonl(path: Path, lines: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
    return path


def test_sample_ingests_every_episode_and_thought(mind: Mind, sample: Path) -> None:
    report = mind.ingest(sample)
    lines = [json.loads(x) for x in sample.read_text().splitlines() if x.strip()]
    thoughts = [x for x in lines if x.get("type") == "thought"]
    assert report.episodes_added == len(lines) - len(thoughts)
    assert report.thoughts_added == len(thoughts)
    assert report.sessions == ("2026-03-02", "2026-03-03", "2026-03-05", "2026-04-08")

    episodes = mind.episodes()
    assert len(episodes) == report.episodes_added
    assert {e.role for e in episodes} == {Role.USER, Role.ASSISTANT, Role.THINKING, Role.EVENT}
    assert all(e.consolidated_in is None for e in episodes)
    first = episodes[0]
    assert first.name == "Maya" and first.session == "2026-03-02"
    assert first.time.isoformat() == "2026-03-02T08:05:00+00:00"

    kept = {t.kind: t for t in mind.thoughts()}
    assert set(kept) == {ThoughtKind.PARKED, ThoughtKind.DISMISSED, ThoughtKind.INTERNAL}
    assert all(t.status is ThoughtStatus.OPEN for t in kept.values())
    # A thought in a file cites the episode just before it.
    parked = kept[ThoughtKind.PARKED]
    (source,) = parked.sources
    assert mind.episode(source).content == "Good, I think. Second round is on Thursday."


def test_ingesting_the_same_file_twice_adds_nothing(mind: Mind, sample: Path) -> None:
    first = mind.ingest(sample)
    again = mind.ingest(sample)
    assert again.episodes_added == 0 and again.thoughts_added == 0
    assert again.episodes_present == first.episodes_added
    assert again.thoughts_present == first.thoughts_added
    assert len(mind.episodes()) == first.episodes_added


def test_appended_lines_are_the_only_ones_added(mind: Mind, tmp_path: Path) -> None:
    log = write_jsonl(
        tmp_path / "log.jsonl",
        [{"role": "user", "content": "ok"}, {"role": "assistant", "content": "ok"}],
    )
    assert mind.ingest(log).episodes_added == 2
    with log.open("a") as out:
        out.write(json.dumps({"role": "user", "content": "ok"}) + "\n")
    report = mind.ingest(log)
    assert (report.episodes_added, report.episodes_present) == (1, 2)
    # Identical lines in one file are kept apart, not collapsed.
    assert [e.content for e in mind.episodes()] == ["ok", "ok", "ok"]


def test_a_bad_line_names_its_number_and_nothing_is_written(mind: Mind, tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    path.write_text(
        '{"role": "user", "content": "hello"}\n'
        '{"role": "assistant", "content": "hi"}\n'
        '{"role": "user", "content": "unfinished\n'
    )
    with pytest.raises(InputError) as caught:
        mind.ingest(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:3: not valid JSON")
    assert "nothing was ingested" in message
    assert caught.value.line == 3
    assert mind.episodes() == []


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"role": "wizard", "content": "x"}', 'unknown role "wizard"'),
        ('{"content": "x"}', 'missing "role"'),
        ('{"role": "user", "content": ""}', 'empty "content"'),
        ('{"role": "user", "content": "x", "time": "yesterday"}', "time"),
        ('["not", "an", "object"]', "expected a JSON object"),
        ('{"type": "thought", "kind": "someday", "content": "x"}', "kind"),
    ],
)
def test_bad_lines_say_what_is_wrong(mind: Mind, tmp_path: Path, line: str, expected: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"role": "user", "content": "fine"}\n' + line + "\n")
    with pytest.raises(InputError, match=f":2: .*{expected}"):
        mind.ingest(path)
    assert mind.episodes() == []


def test_openai_message_shapes(mind: Mind, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "openai.jsonl",
        [
            {"role": "system", "content": "You are helpful."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in"},
                    {"type": "text", "text": "this?"},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "reasoning_content": "The user wants the weather.",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city": "Lisbon"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "18C, sunny"},
            {"role": "event", "content": "Calendar: dentist at 3pm", "timestamp": 1772356440},
            {"type": "thought", "kind": "internal", "text": "User seems tired.", "sources": []},
        ],
    )
    report = mind.ingest(path, session="weather-chat")
    assert report.episodes_added == 6 and report.thoughts_added == 1
    episodes = mind.episodes()
    roles = [e.role for e in episodes]
    assert roles.count(Role.THINKING) == 1
    by_role = {e.role: e for e in episodes}
    assert by_role[Role.USER].content == "What is in\nthis?"
    assert by_role[Role.THINKING].content == "The user wants the weather."
    assert by_role[Role.ASSISTANT].content == 'called weather({"city": "Lisbon"})'
    assert by_role[Role.ASSISTANT].meta["tool_calls"][0]["id"] == "c1"
    assert by_role[Role.TOOL].meta == {"tool_call_id": "c1"}
    assert by_role[Role.EVENT].time.isoformat() == "2026-03-01T09:14:00+00:00"
    assert {e.session for e in episodes} == {"weather-chat"}
    (thought,) = mind.thoughts()
    assert thought.kind is ThoughtKind.INTERNAL and thought.sources == ()


def test_json_array_and_messages_object(mind: Mind, tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps([{"role": "user", "content": "one"}]))
    (tmp_path / "b.json").write_text(
        json.dumps({"session": "s9", "messages": [{"role": "user", "content": "two"}]})
    )
    mind.ingest(tmp_path / "a.json")
    mind.ingest(tmp_path / "b.json")
    assert [(e.session, e.content) for e in mind.episodes()] == [("a", "one"), ("s9", "two")]
    (tmp_path / "c.json").write_text(json.dumps([{"role": "user", "content": "x"}, {"role": "x"}]))
    with pytest.raises(InputError, match="message 2: "):
        mind.ingest(tmp_path / "c.json")


def test_transcript_with_times_speakers_and_continuations(mind: Mind, tmp_path: Path) -> None:
    path = tmp_path / "evening.txt"
    path.write_text(
        "[2026-03-02 19:40] Maya: Home now.\n"
        "Assistant: Welcome back!\n"
        "Maya: Pixel is asleep.\n"
        "  She snores, by the way.\n"
        "\n"
        "Ada: I'm the other assistant, see http://example.com: it works\n"
    )
    report = mind.ingest(path, speakers={"Ada": Role.ASSISTANT})
    assert report.episodes_added == 4
    episodes = mind.episodes()
    first, second, third, fourth = sorted(episodes, key=lambda e: e.source or "")
    assert (first.role, first.name, first.content) == (Role.USER, "Maya", "Home now.")
    assert first.time.isoformat() == "2026-03-02T19:40:00+00:00"
    assert (second.role, second.name) == (Role.ASSISTANT, None)
    assert third.content == "Pixel is asleep.\n  She snores, by the way."
    assert (fourth.role, fourth.name) == (Role.ASSISTANT, "Ada")
    assert fourth.content.endswith("http://example.com: it works")
    assert {e.session for e in episodes} == {"evening"}


def test_transcript_errors_name_the_line(mind: Mind, tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("no speaker here\nMaya: hi\n")
    with pytest.raises(InputError, match=r"t.txt:1: expected \"Name: text\""):
        mind.ingest(path)
    path.write_text("Maya: hi\n[not a time] Maya: hello\n")
    with pytest.raises(InputError, match=r"t.txt:2: not a time"):
        mind.ingest(path)
    assert mind.episodes() == []


def test_missing_unreadable_and_empty_files(mind: Mind, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        mind.ingest(tmp_path / "missing.jsonl")
    (tmp_path / "latin1.txt").write_bytes("Maya: café".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        mind.ingest(tmp_path / "latin1.txt")
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(InputError, match="holds no messages"):
        mind.ingest(tmp_path / "empty.jsonl")


def test_single_messages_events_and_thoughts(mind: Mind) -> None:
    ep = mind.record("user", "I'm flying to Lisbon", session="s1", time="2026-03-14T07:00:00Z")
    event = mind.record(Role.EVENT, "Boarding pass saved", session="s1")
    thought = mind.think("Ask how the flight went", sources=[ep.id[:8]])
    assert mind.episode(ep.id[:10]) == ep
    assert event.role is Role.EVENT
    assert thought.kind is ThoughtKind.PARKED and thought.sources == (ep.id,)
    with pytest.raises(InputError, match="unknown role"):
        mind.record("narrator", "x")
    with pytest.raises(InputError, match="empty thought"):
        mind.think("   ")


def test_messages_batch_is_all_or_nothing(mind: Mind) -> None:
    with pytest.raises(InputError, match="message 2: .*nothing was recorded"):
        mind.ingest_messages([{"role": "user", "content": "a"}, {"role": "user"}])
    assert mind.episodes() == []
    report = mind.ingest_messages(
        [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
        session="chat",
    )
    assert report.episodes_added == 2


def test_agents_are_separate(mind: Mind, sample: Path) -> None:
    mind.ingest(sample)
    other = mind.for_agent("someone-else")
    assert other.episodes() == []
    assert other.ingest(sample).episodes_added == len(mind.episodes())
