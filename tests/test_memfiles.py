"""Memory files: export to YAML / JSON, import back, hand edits become user versions."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sleepcycle
from sleepcycle import (
    AuthorKind,
    ConflictError,
    InputError,
    MemoryChange,
    MemoryKind,
    MemoryStatus,
    Mind,
    MiniLMEmbedder,
    NotFoundError,
    Op,
)
from sleepcycle.samples import sample_path

# Any unicode, with the characters that trip YAML and JSON writers made frequent.
tricky = st.sampled_from(list("\r\n\t \x00\x85\u2028\u2029\ufeff'\"#:-|>&*!%@`{}[],?"))
texts = st.text(
    alphabet=st.one_of(st.characters(exclude_categories=("Cs",)), tricky), min_size=1, max_size=200
).filter(lambda t: t.strip() != "")
words = st.text(alphabet=st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=12)
metas = st.dictionaries(
    words,
    st.one_of(
        st.none(), st.booleans(), st.integers(-(10**9), 10**9), texts, st.lists(words, max_size=3)
    ),
    max_size=3,
)
spec = st.fixed_dictionaries(
    {
        "text": texts,
        "kind": st.sampled_from(list(MemoryKind)),
        "tags": st.lists(words, max_size=3),
        "n_sources": st.integers(0, 3),
        "retract": st.booleans(),
        "amend": st.one_of(st.none(), texts),
        "valid_from": st.one_of(st.none(), st.sampled_from(["2026-03-02T08:05:00Z", "2025-12-31"])),
        "meta": metas,
    }
)


def build(mind: Mind, specs: list[dict[str, object]]) -> None:
    episodes = [e.id for e in mind.episodes()]
    made = []
    for i, s in enumerate(specs):
        n = int(s["n_sources"])  # type: ignore[call-overload]
        m = mind.add(
            str(s["text"]),
            kind=s["kind"],  # type: ignore[arg-type]
            tags=s["tags"],  # type: ignore[arg-type]
            sources=episodes[i : i + n],
            valid_from=s["valid_from"],  # type: ignore[arg-type]
        )
        if s["meta"]:
            with mind.store.write() as tx:  # meta has no CLI; set it as an agent would
                tx.memories.apply(
                    mind.agent,
                    [
                        MemoryChange(
                            m.id, Op.EDIT, m.state.but(meta=s["meta"]), mind.author, m.version
                        )
                    ],
                )
        if s["amend"] is not None:
            mind.amend(m.id, str(s["amend"]))
        if made and i % 2:
            mind.link(m.id, made[-1], relation="related")
        if s["retract"]:
            mind.retract(m.id, reason="generated")
        made.append(m.id)


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=st.lists(spec, min_size=1, max_size=5), fmt=st.sampled_from(["yaml", "json"]))
def test_round_trip_is_lossless(specs: list[dict[str, object]], fmt: str) -> None:
    embedder = MiniLMEmbedder(Path(tempfile.gettempdir()) / "sleepcycle-test-cache")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with sleepcycle.open(root / "a", "maya", embedder=embedder) as a:
            a.ingest(sample_path())
            build(a, specs)
            a.export(root / "one", format=fmt)
            originals = a.memories(statuses=list(MemoryStatus))
        with sleepcycle.open(root / "b", "maya", embedder=embedder) as b:
            b.ingest(sample_path())
            report = b.import_files(root / "one")
            assert sorted(report.created) == sorted(m.id for m in originals)
            b.export(root / "two", format=fmt)
            assert b.memories(statuses=list(MemoryStatus)) == originals
            # Importing the same files again changes nothing.
            again = b.import_files(root / "two")
            assert again.created == [] and again.changed == []
        assert snapshot(root / "one") == snapshot(root / "two")


def test_yaml_files_read_like_the_memory(mind: Mind, tmp_path: Path) -> None:
    m = mind.add("Maya's morning:\n- green tea\n- standup at 10:00 with Inês", kind="plan")
    (path,) = mind.export(tmp_path / "out")
    text = path.read_text(encoding="utf-8")
    assert path.name == f"{m.id}.yaml"
    assert "text: |-\n  Maya's morning:\n  - green tea\n  - standup at 10:00 with Inês\n" in text
    assert yaml.safe_load(text)["kind"] == "plan"


def test_hand_edit_becomes_a_user_version(mind: Mind, tmp_path: Path) -> None:
    m = mind.add("Maya drinks oat flat whites.", kind="preference")
    (path,) = mind.export(tmp_path / "out")
    doc = yaml.safe_load(path.read_text())
    doc["text"] = "Maya drinks green tea in the mornings."
    doc["tags"] = ["drinks"]
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    report = mind.import_files(tmp_path / "out")
    assert report.changed == [m.id] and report.created == []
    now = mind.memory(m.id)
    assert (now.text, now.tags, now.version) == (
        "Maya drinks green tea in the mornings.",
        ("drinks",),
        2,
    )
    last = mind.history(m.id)[-1]
    assert last.op is Op.EDIT and last.author.kind is AuthorKind.USER
    assert last.reason == f"edited in memory file {path.name}"
    assert last.before is not None and last.before.text == "Maya drinks oat flat whites."


def test_retract_by_editing_status(mind: Mind, tmp_path: Path) -> None:
    m = mind.add("Maya lives in Manchester.")
    (path,) = mind.export(tmp_path / "out")
    path.write_text(path.read_text().replace("status: active", "status: retracted"))
    mind.import_files(tmp_path / "out")
    assert mind.memory(m.id).status is MemoryStatus.RETRACTED
    assert mind.history(m.id)[-1].op is Op.RETRACT


def test_stale_file_is_refused_unless_forced(mind: Mind, tmp_path: Path) -> None:
    m = mind.add("Maya works at Brightline Studio.")
    (path,) = mind.export(tmp_path / "out")
    mind.edit(m.id, text="Maya works at Atlas Maps.")
    path.write_text(path.read_text().replace("Brightline Studio", "Brightline Studio, Manchester"))
    with pytest.raises(ConflictError, match="changed since this file was exported"):
        mind.import_files(tmp_path / "out")
    assert mind.memory(m.id).text == "Maya works at Atlas Maps."
    mind.import_files(tmp_path / "out", force=True)
    assert mind.memory(m.id).text == "Maya works at Brightline Studio, Manchester."


def test_new_file_without_id_adds_a_memory(mind: Mind, tmp_path: Path) -> None:
    folder = tmp_path / "new"
    folder.mkdir()
    (folder / "pixel.yaml").write_text("kind: fact\ntext: Pixel is a grey cat.\ntags: [pets]\n")
    report = mind.import_files(folder)
    (created,) = report.created
    m = mind.memory(created)
    assert (m.text, m.tags, m.version) == ("Pixel is a grey cat.", ("pets",), 1)
    assert mind.history(created)[0].reason == "new in memory file pixel.yaml"


def test_dry_run_changes_nothing(mind: Mind, tmp_path: Path) -> None:
    folder = tmp_path / "new"
    folder.mkdir()
    (folder / "a.yaml").write_text("text: A new memory\n")
    report = mind.import_files(folder, dry_run=True)
    assert len(report.created) == 1 and report.dry_run
    assert mind.memories() == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("text: [unclosed\n", r"bad.yaml:\d+: not valid YAML"),
        ("text: hi\ncolour: blue\n", 'unknown field "colour"'),
        ("text: hi\nkind: feeling\n", 'field "kind"'),
        ("text: hi\nscore: 7\n", 'field "score"'),
        ("- just\n- a list\n", "expected a mapping"),
        ("text: ''\n", 'field "text"'),
        ("id: not-an-id\ntext: hi\n", 'field "id"'),
    ],
)
def test_bad_files_leave_the_store_as_it_was(
    mind: Mind, tmp_path: Path, content: str, expected: str
) -> None:
    keep = mind.add("Something true")
    folder = tmp_path / "files"
    mind.export(folder)
    (folder / "good.yaml").write_text("text: A fine new memory\n")
    (folder / "bad.yaml").write_text(content)
    with pytest.raises(InputError, match=expected):
        mind.import_files(folder)
    assert [m.id for m in mind.memories()] == [keep.id]
    assert mind.memory(keep.id).version == 1


def test_dangling_references_roll_the_whole_import_back(mind: Mind, tmp_path: Path) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "a.yaml").write_text("text: First\n")
    (folder / "b.yaml").write_text(
        "id: mem_abc123\ntext: Second\nassociations:\n- id: mem_nowhere\n  relation: related\n"
    )
    with pytest.raises(NotFoundError, match="links to mem_nowhere"):
        mind.import_files(folder)
    (folder / "b.yaml").write_text("id: mem_abc123\ntext: Second\nsources: [ep_missing]\n")
    with pytest.raises(NotFoundError, match="cites episode ep_missing"):
        mind.import_files(folder)
    assert mind.memories() == []


def test_duplicate_ids_and_missing_directory(mind: Mind, tmp_path: Path) -> None:
    m = mind.add("Only once")
    mind.export(tmp_path / "d")
    (tmp_path / "d" / "copy.yaml").write_text((tmp_path / "d" / f"{m.id}.yaml").read_text())
    with pytest.raises(InputError, match="also in"):
        mind.import_files(tmp_path / "d")
    with pytest.raises(InputError, match="no such directory"):
        mind.import_files(tmp_path / "nope")
