"""Memory files: one YAML (or JSON) document per memory, metadata and text.

Export writes ``<id>.yaml`` files; import reads them back. The round trip is lossless: a
store's memories exported, imported into a store with the same episodes and exported again
give the same bytes. Import is how a person edits memory by hand:

- a file whose memory is unchanged does nothing;
- a changed file records a new version authored by the user ("edited in memory file ...");
  setting ``status: retracted`` retracts the memory;
- a file written for an older version of the memory is refused (the store moved on since
  the export; export again, or pass ``force``);
- a file with an id the store does not know is created with its id, version and times;
- a file without an id is a new memory.

Deleting a file deletes nothing. Every file is checked before anything is written, and the
whole import is one transaction.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import ConflictError, InputError, NotFoundError
from .ids import random_id
from .limits import check_value
from .records import (
    Association,
    Author,
    Memory,
    MemoryChange,
    MemoryKind,
    MemoryState,
    MemoryStatus,
    Op,
)
from .store import Store, Tx
from .times import format_time, now, parse_time

__all__ = [
    "FileFormat",
    "ImportReport",
    "export_memories",
    "import_memories",
    "memory_document",
    "read_memory_files",
]


class FileFormat(StrEnum):
    YAML = "yaml"
    JSON = "json"


_SUFFIXES = {".yaml": FileFormat.YAML, ".yml": FileFormat.YAML, ".json": FileFormat.JSON}


def memory_document(memory: Memory) -> dict[str, Any]:
    """The document for one memory, fields in reading order."""
    return {
        "id": memory.id,
        "kind": memory.kind.value,
        "status": memory.status.value,
        "text": memory.text,
        "tags": list(memory.tags),
        "valid_from": format_time(memory.valid_from) if memory.valid_from else None,
        "valid_to": format_time(memory.valid_to) if memory.valid_to else None,
        "sources": list(memory.sources),
        "associations": [{"id": a.id, "relation": a.relation} for a in memory.associations],
        "score": memory.score,
        "deep": memory.deep,
        "version": memory.version,
        "created": format_time(memory.created),
        "updated": format_time(memory.updated),
        "agent": memory.agent,
        "meta": dict(memory.meta),
    }


class _Dumper(yaml.SafeDumper):
    """Multi-line text as a literal block, so files read like the memory."""


_YAML11_BREAKS = ("\x85", "\u2028", "\u2029", "\ufeff")


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style: str | None = None
    if any(ch in value for ch in _YAML11_BREAKS):
        style = '"'  # these read back as line breaks unless escaped
    elif "\n" in value:
        style = "|"
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render(document: dict[str, Any], fmt: FileFormat) -> str:
    if fmt is FileFormat.JSON:
        return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def _write_atomic(path: Path, text: str) -> None:
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        Path(temp).replace(path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def export_memories(
    memories: Iterable[Memory], directory: Path, fmt: FileFormat = FileFormat.YAML
) -> list[Path]:
    """Write one file per memory into ``directory``; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for memory in memories:
        path = directory / f"{memory.id}.{fmt.value}"
        _write_atomic(path, render(memory_document(memory), fmt))
        written.append(path)
    return written


# import -------------------------------------------------------------------------------------


class _Link(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1)
    relation: str = Field("related", min_length=1)


class _MemoryFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, pattern=r"^mem_[0-9a-z]+$")
    kind: MemoryKind = MemoryKind.FACT
    status: MemoryStatus = MemoryStatus.ACTIVE
    text: str = Field(min_length=1)
    tags: list[str] = []
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    sources: list[str] = []
    associations: list[_Link] = []
    score: int | None = Field(None, ge=0, le=1)
    deep: bool = False
    version: int | None = Field(None, ge=1)
    created: datetime | None = None
    updated: datetime | None = None
    agent: str | None = None
    meta: dict[str, Any] = {}

    @field_validator("valid_from", "valid_to", "created", "updated", mode="before")
    @classmethod
    def _time(cls, value: Any) -> Any:
        if value is None or isinstance(value, datetime):
            return value
        return parse_time(value)

    def state(self) -> MemoryState:
        return MemoryState(
            kind=self.kind,
            text=self.text,
            status=self.status,
            score=self.score,
            deep=self.deep,
            valid_from=self.valid_from,
            valid_to=self.valid_to,
            sources=tuple(self.sources),
            associations=tuple(Association(a.id, a.relation) for a in self.associations),
            tags=tuple(self.tags),
            meta=self.meta,
        )


@dataclass(frozen=True, slots=True)
class MemoryFile:
    path: Path
    data: _MemoryFile


class _Loader(yaml.SafeLoader):
    """YAML for memory files: no aliases (``*name``: an alias bomb expands to gigabytes from a
    few lines, and exported files never hold one), and timestamps stay text, so an unquoted
    ``created: 2026-03-01`` is read by ``parse_time`` like a quoted one."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in memory files", event.start_mark
            )
        node: yaml.Node | None = super().compose_node(parent, index)
        return node


_Loader.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _parse(path: Path, max_bytes: int, max_depth: int) -> MemoryFile:
    try:
        if path.stat().st_size > max_bytes:
            raise InputError(
                f"larger than the limits.file_bytes limit of {max_bytes:,} bytes; a memory "
                "file holds one memory",
                path=path,
            )
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read it ({exc})", path=path) from None
    try:
        raw = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_Loader)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg})", path=path, line=exc.lineno) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or "not valid YAML"
        line = mark.line + 1 if mark is not None else None
        raise InputError(f"not valid YAML ({problem})", path=path, line=line) from None
    except RecursionError:
        raise InputError(
            f"nested too deeply; keep it under {max_depth} levels", path=path
        ) from None
    if not isinstance(raw, dict):
        raise InputError("expected a mapping of fields (id, kind, text, ...)", path=path)
    try:
        check_value(raw, "the file", max_depth=max_depth)
    except InputError as exc:
        raise InputError(str(exc), path=path) from None
    try:
        return MemoryFile(path, _MemoryFile.model_validate(raw))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        if first["type"] == "extra_forbidden":
            message = f'unknown field "{where}"; memory files hold only the exported fields'
        else:
            message = f'field "{where}": {first["msg"]}'
        raise InputError(message, path=path) from None


def _inside(directory: Path, path: Path) -> Path:
    """``path``, refused if it is a link that leads out of ``directory``."""
    if path.is_symlink():
        target = path.resolve()
        if not target.is_relative_to(directory.resolve()):
            raise InputError(
                f"is a link to {target}, outside the directory; import does not follow links "
                "out of it (copy the file in instead)",
                path=path,
            )
    return path


def read_memory_files(
    directory: Path, *, max_bytes: int = 256 * 1024 * 1024, max_depth: int = 32
) -> list[MemoryFile]:
    """Every memory file in ``directory`` (not recursive), checked, sorted by name. Files over
    ``max_bytes``, nested deeper than ``max_depth``, and links out of the directory are refused."""
    if not directory.is_dir():
        raise InputError("no such directory; give the directory you exported to", path=directory)
    paths = sorted(
        _inside(directory, p)
        for p in directory.iterdir()
        if p.suffix in _SUFFIXES and p.is_file() and not p.name.startswith(".")
    )
    files = [_parse(p, max_bytes, max_depth + 1) for p in paths]
    seen: dict[str, Path] = {}
    for f in files:
        if f.data.id is None:
            continue
        if f.data.id in seen:
            raise InputError(
                f"memory {f.data.id} is also in {seen[f.data.id].name}; keep one file per memory",
                path=f.path,
            )
        seen[f.data.id] = f.path
    return files


@dataclass(slots=True)
class ImportReport:
    created: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    dry_run: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "created": self.created,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "dry_run": self.dry_run,
        }


def _plan_change(
    current: Memory, f: MemoryFile, author: Author, force: bool
) -> MemoryChange | None:
    after = f.data.state()
    if after == current.state:
        return None
    if f.data.version is not None and f.data.version != current.version and not force:
        raise ConflictError(
            f"{f.path}: memory {current.id} changed since this file was exported (file "
            f"version {f.data.version}, store version {current.version}); export again and "
            "redo the edit, or import with --force"
        )
    op = Op.EDIT
    if after.status is MemoryStatus.RETRACTED and current.status is not MemoryStatus.RETRACTED:
        op = Op.RETRACT
    elif after.status is MemoryStatus.ACTIVE and current.status is not MemoryStatus.ACTIVE:
        op = Op.RESTORE
    reason = f"edited in memory file {f.path.name}"
    return MemoryChange(current.id, op, after, author, current.version, reason)


def import_memories(
    store: Store,
    agent: str,
    files: Sequence[MemoryFile],
    *,
    author: Author,
    force: bool = False,
    dry_run: bool = False,
) -> ImportReport:
    """Apply memory files to ``agent``'s memories in one transaction (rolled back on a dry run)."""
    report = ImportReport(dry_run=dry_run)
    try:
        with store.write() as tx:
            tx.ensure_agent(agent)
            _apply(tx, agent, files, author, force, report)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return report


def _apply(
    tx: Tx,
    agent: str,
    files: Sequence[MemoryFile],
    author: Author,
    force: bool,
    report: ImportReport,
) -> None:
    stamp = now()
    touched: list[tuple[str, MemoryState]] = []
    for f in files:
        data, state = f.data, f.data.state()
        if data.id is None:
            change = MemoryChange(
                random_id("mem"), Op.ADD, state, author, None, f"new in memory file {f.path.name}"
            )
            tx.memories.apply(agent, [change], check=False, at=stamp)
            report.created.append(change.memory_id)
            touched.append((change.memory_id, state))
            continue
        try:
            current = tx.memories.get(agent, data.id)
        except NotFoundError:
            created = data.created or stamp
            memory = Memory(
                id=data.id,
                agent=agent,
                version=data.version or 1,
                created=created,
                updated=data.updated or created,
                **{name: getattr(state, name) for name in _STATE_FIELDS},
            )
            reason = f"imported from memory file {f.path.name}"
            tx.memories.insert_exact(
                memory, op=Op.IMPORT, author=author, reason=reason, check=False
            )
            report.created.append(data.id)
            touched.append((data.id, state))
            continue
        edit = _plan_change(current, f, author, force)
        if edit is None:
            report.unchanged.append(data.id)
            continue
        tx.memories.apply(agent, [edit], check=False, at=stamp)
        report.changed.append(data.id)
        touched.append((data.id, edit.after))
    for memory_id, after in touched:
        tx.memories.check_references(agent, memory_id, after)


_STATE_FIELDS = tuple(f.name for f in dataclasses.fields(MemoryState))


class _DryRun(Exception):
    """Raised inside the transaction to roll a dry run back."""
