"""The verify stage's code checks, each with a true memory it must pass and a false one it must
refuse (named by the check that refused it), through a real sleep with fake models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sleepcycle import Mind, MiniLMEmbedder
from sleepcycle.evidence import Line, addressed, coverage, negated
from sleepcycle.grounding import claims, ungrounded
from sleepcycle.records import Outcome
from sleepcycle.sleep.verify import VerifyOutput
from sleepkit import Intent, dreamer, open_mind, verifier

CHAT = [
    {"session": "d1", "time": "2026-05-08T13:56:00Z", "role": "user", "name": "Caroline",
     "content": "Hey Mel! I went to a support group yesterday and it was so inspiring."},
    {"session": "d1", "time": "2026-05-08T13:57:00Z", "role": "user", "name": "Melanie",
     "content": "That's great, Caroline! I painted a lake sunrise last year."},
    {"session": "d1", "time": "2026-05-08T13:58:00Z", "role": "user", "name": "Caroline",
     "content": "Painting sounds lovely. Do you like swimming?"},
    {"session": "d1", "time": "2026-05-08T13:59:00Z", "role": "user", "name": "Melanie",
     "content": "I took my two kids to the beach in Brighton last weekend."},
]  # fmt: skip


def verdicts(mind: Mind) -> dict[str, tuple[bool, list[str]]]:
    """Proposal text -> (passed, names of the failed code checks) for the last sleep."""
    sleep = mind.get_sleep()
    (stage,) = [s for s in mind.store.sleeps.stages(sleep.id) if s.name == "verify"]
    out = VerifyOutput.model_validate(json.loads(stage.checkpoint or "{}"))
    texts = {p.id: p.text for p in out.proposals}
    return {texts[v.proposal]: (v.passed, v.failed) for v in out.verdicts}


CASES = [
    # (check, true memory, its lines, false memory, its lines)
    ("grounding",
     "Caroline went to a support group yesterday.", ["support group"],
     "Caroline went to a support group in Boston.", ["support group"]),
    ("grounding",
     "Melanie took her two kids to the beach last weekend.", ["Brighton"],
     "Melanie took her three kids to the beach last month.", ["Brighton"]),
    ("speaker",
     "Caroline found the support group inspiring.", ["support group"],
     "Melanie found the support group inspiring.", ["support group"]),
    ("negation",
     "Melanie painted a lake sunrise last year.", ["lake sunrise"],
     "Melanie never painted a lake sunrise.", ["lake sunrise"]),
    ("similarity",
     "Melanie took her kids to the beach in Brighton.", ["Brighton"],
     "Melanie is learning to play the violin at night school.", ["Brighton"]),
    ("worth",
     "Caroline asked whether Melanie likes swimming.", ["swimming"],
     "Melanie likes swimming.", ["swimming"]),
    ("worth",
     "Caroline thinks painting sounds lovely.", ["Painting sounds"],
     "vegetarian", ["Painting sounds"]),
]  # fmt: skip


@pytest.mark.parametrize(("check", "true", "true_lines", "false", "false_lines"), CASES)
def test_each_check_passes_the_truth_and_refuses_the_falsehood(
    home: Path,
    embedder: MiniLMEmbedder,
    check: str,
    true: str,
    true_lines: list[str],
    false: str,
    false_lines: list[str],
) -> None:
    mind = open_mind(
        home,
        embedder,
        rounds=0,
        dreamer=dreamer(
            Intent("add", true, sources=true_lines), Intent("add", false, sources=false_lines)
        ),
        verifier=verifier(),
    )
    mind.ingest_messages(CHAT)
    assert mind.sleep().outcome is Outcome.DONE
    seen = verdicts(mind)
    assert seen[true] == (True, []), seen[true]
    passed, failed = seen[false]
    assert not passed and failed[:1] == [check], seen[false]
    assert [m.text for m in mind.memories()] == [true]
    mind.close()


def test_a_memory_may_cite_the_line_before_its_cluster(
    home: Path, embedder: MiniLMEmbedder
) -> None:
    """Lines another cluster took are shown as context and can be cited."""
    from sleepcycle.sleep import crunch

    mind = open_mind(home, embedder, rounds=0)
    mind.ingest_messages(CHAT)
    episodes = mind.episodes()
    out = crunch._context(episodes, [1, 3])  # clusters of lines 2 and 4 of the session
    assert out == [episodes[0].id, episodes[2].id]
    assert crunch._context(episodes, [0, 1]) == []
    mind.close()


def test_participants_are_grounded_and_numbers_and_times_are_claims() -> None:
    lines = ["Melanie: I took my 2 kids to the beach last weekend."]
    assert claims("Melanie took her two kids out two days ago.") == [
        "Melanie", "two", "2 days ago",
    ]  # fmt: skip
    assert ungrounded("Melanie's kids went to the beach last weekend with Caroline.", lines) == [
        "Caroline"
    ]
    assert ungrounded("Melanie's kids went to the beach with Caroline.", [*lines, "Caroline"]) == []
    assert ungrounded("Melanie took her two kids to the beach.", lines) == []
    assert ungrounded("Melanie took her three kids to the beach.", lines) == ["three"]
    assert ungrounded("Melanie went to the beach last month.", lines) == ["last month"]
    # a day as chat writes it, a name with a suffix, a name misspelt in the line
    fri = ["Melanie: Last Fri I took my kids to a pottery workshop."]
    assert ungrounded("Melanie took her kids to a workshop last Friday.", fri) == []
    assert ungrounded("Melanie took her kids to a workshop last Tuesday.", fri) == [
        "Tuesday", "last tuesday",
    ]  # fmt: skip
    game = ["Nate: I'm playing this fantasy RPG called Xeonoblade Chronicles, a Nintendo game."]
    assert ungrounded("Nate plays Xenoblade Chronicles, a Nintendo-made game.", game) == []
    assert ungrounded("Nate plays Xenogears Chronicles.", game) == ["Xenogears"]


def test_the_person_a_memory_is_about_must_be_the_one_the_line_is_about() -> None:
    people = ["Caroline", "Melanie"]
    said = [Line("Caroline", "Hey Mel! I went to a support group yesterday.")]
    assert addressed("Caroline went to a support group.", said, people)
    assert not addressed("Melanie went to a support group.", said, people)
    told = [Line("Caroline", "Wow, you painted that? It's stunning.")]
    assert addressed("Melanie painted a stunning picture.", told, people)
    named = [Line("Caroline", "Mel paints the best sunsets.")]
    assert addressed("Melanie paints sunsets.", named, people)
    thanks = [Line("Melanie", "Thanks Caroline, your support means a lot.")]
    assert addressed("Melanie appreciates Caroline's support.", thanks, people)
    assert not addressed("Caroline appreciates Melanie's support.", thanks, people)
    assert addressed("The assistant suggested tea.", [Line(None, "Try green tea!")], people)


def test_a_name_called_out_is_not_what_the_line_is_about() -> None:
    """ "Hey Mel, I love baking" is the speaker's; "you're so talented" is the addressee's,
    even from the claim's subject's own mouth; "do you hike?" tells nothing of anyone."""
    people = ["Caroline", "Melanie"]
    called = [Line("Caroline", "Hey Mel, I love making this chocolate cake with raspberries.")]
    assert addressed("Caroline loves making chocolate cake.", called, people)
    assert not addressed("Melanie loves making chocolate cake.", called, people)
    praised = [Line("Caroline", "No worries, Mel! You're so talented and passionate about dance.")]
    assert addressed("Melanie is talented and passionate about dance.", praised, people)
    assert not addressed("Caroline is talented and passionate about dance.", praised, people)
    told = [Line("Caroline", "Hey Mel! I wanted to tell ya I just joined a writers group.")]
    assert addressed("Caroline joined a writers group.", told, people)
    assert not addressed("Melanie joined a writers group.", told, people)
    asked = [Line("Caroline", "Glad you're back! Do you enjoy road trips and hiking?")]
    assert not addressed("Melanie enjoys road trips and hiking.", asked, people)
    guessed = [Line("Caroline", "I bet you felt so pumped running with everyone.")]
    assert addressed("Melanie felt pumped running with everyone.", guessed, people)


def test_negation_and_overlap() -> None:
    people = ["Sam"]
    line = [Line("Sam", "I haven't tried painting yet, but I'm keen.")]
    assert not negated("Sam has not tried painting yet.", line, people)
    assert negated("Sam never went swimming.", [Line("Sam", "I went swimming!")], people)
    assert not negated("Sam went swimming.", [Line("Sam", "I went swimming!")], people)
    # the negation must be over the same words, not anywhere in the sentence
    line = [Line("Sam", "Sharing it isn't always easy, but I feel it's important to help.")]
    assert negated("Sam feels sharing is not important.", line, people)
    assert not negated("Sam feels sharing is not always easy.", line, people)
    cheer = [Line("Sam", "You got the skills. Plus my full support. Don't give up, buddy!")]
    assert not negated("Sam encourages his friend not to give up.", cheer, people)
    assert negated("Sam does not support his friend.", cheer, people)
    assert coverage("Sam went swimming at the lake.", ["Sam: I went swimming in the lake!"]) == 1.0
    assert coverage("Sam plays the violin.", ["Sam: I went swimming in the lake!"], people) == 0.0


def test_the_judge_refuses_what_it_reads_as_false_after_the_code_checks_pass(
    home: Path, embedder: MiniLMEmbedder
) -> None:
    """verify.judge = choice: the verifier answers Yes or No by its probabilities; a memory
    that code cannot fault but the judge finds false is rejected, and every answer is a
    recorded call of the verify stage."""
    from sleepcycle import ChoiceModel

    true = "Melanie took her two kids to the beach in Brighton last weekend."
    false = "Melanie painted a lake sunrise last weekend with her two kids."
    judge = ChoiceModel(
        lambda req: (
            {"Yes": 0.03, "No": 0.97}
            if "Memory: Melanie painted" in str(req.messages[-1]["content"])
            else {"Yes": 0.6, "No": 0.4}
        )
    )
    mind = open_mind(
        home,
        embedder,
        rounds=0,
        settings={"verify": {"judge": "choice", "reject_above": 0.9, "settled_similarity": 1.01}},
        dreamer=dreamer(
            Intent("add", true, sources=["Brighton"]),
            Intent("add", false, sources=["lake sunrise", "Brighton"]),
        ),
        verifier=judge,
    )
    mind.ingest_messages(CHAT)
    assert mind.sleep().outcome is Outcome.DONE
    seen = verdicts(mind)
    assert seen[true] == (True, [])
    assert seen[false] == (False, [])  # no code check failed: the judge did
    assert [m.text for m in mind.memories()] == [true]
    question = str(judge.requests[0].messages[-1]["content"])
    assert "- Melanie: I took my two kids to the beach in Brighton" in question
    sleep = mind.get_sleep()
    assert mind.store.calls.count(sleep.id, "verify") == 2
    mind.close()


def test_what_its_lines_plainly_say_is_settled_without_the_judge(
    home: Path, embedder: MiniLMEmbedder
) -> None:
    """A memory whose cited line carries its words (verify.settled_similarity and
    settled_overlap) is settled by the code checks; the judge is asked about the rest."""
    from sleepcycle import ChoiceModel

    plain = "Melanie took her two kids to the beach in Brighton last weekend."
    loose = "Melanie and her children had a wonderful seaside holiday near Brighton."
    judge = ChoiceModel(lambda req: {"Yes": 0.001, "No": 0.999})
    mind = open_mind(
        home,
        embedder,
        rounds=0,
        settings={"verify": {"judge": "choice"}},
        dreamer=dreamer(
            Intent("add", plain, sources=["Brighton"]),
            Intent("add", loose, sources=["Brighton"]),
        ),
        verifier=judge,
    )
    mind.ingest_messages(CHAT)
    assert mind.sleep().outcome is Outcome.DONE
    assert [m.text for m in mind.memories()] == [plain]
    (asked,) = judge.requests
    assert f"Memory: {loose}" in str(asked.messages[-1]["content"])
    assert mind.store.calls.count(mind.get_sleep().id, "verify") == 1
    mind.close()


def test_the_judge_needs_a_model_that_scores_options(home: Path, embedder: MiniLMEmbedder) -> None:
    mind = open_mind(
        home,
        embedder,
        rounds=0,
        settings={"verify": {"judge": "choice"}},
        dreamer=dreamer(Intent("add", "Melanie went to Brighton.", sources=["Brighton"])),
    )
    mind.ingest_messages(CHAT)
    report = mind.sleep()
    assert report.outcome is Outcome.FAILED
    assert "verify: verify.judge = choice needs a model that scores options" in str(
        report.sleep.error
    )
    assert mind.memories() == []
    mind.close()
