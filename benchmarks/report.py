"""Writing a benchmark's section of ``docs/benchmarks.md``.

Each script owns the text between its ``<!-- name:start -->`` and ``<!-- name:end -->``
markers and rewrites only that; everything else in the file is left alone. Scripts may run
side by side, so the file is read late, written to a temp file and swapped in only if nobody
changed it meanwhile.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

HEADER = """# Benchmarks

Numbers measured by the scripts in `benchmarks/` (see `benchmarks/README.md`). Each script
rewrites only its own section, between its `<!-- name:start -->` and `<!-- name:end -->`
markers; everything else in this file is left alone.
"""


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def write_section(path: Path, name: str, body: str, attempts: int = 5) -> None:
    """Put ``body`` between ``name``'s markers in ``path`` (appended if they are not there)."""
    start, end = markers(name)
    block = f"{start}\n{body.strip()}\n{end}"
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(attempts):
        before = path.read_text(encoding="utf-8") if path.exists() else None
        text = before if before is not None else HEADER
        first, last = text.find(start), text.find(end)
        if first != -1 and last > first:
            text = text[:first] + block + text[last + len(end) :]
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
        temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temp.write_text(text, encoding="utf-8")
        if (path.read_text(encoding="utf-8") if path.exists() else None) == before:
            temp.replace(path)
            return
        temp.unlink()
        time.sleep(0.2)
    raise RuntimeError(f"{path} kept changing while writing; run again")
