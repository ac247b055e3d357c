"""Identifiers.

Episodes and thoughts get ids derived from their content (``ep_`` / ``th_`` + 16 hex digits
of a SHA-256), which makes ingest idempotent: the same line ingested twice has the same id.
Memories and sleeps get random ids (``mem_`` / ``slp_`` + 12 base-32 characters, 60 bits), since
they are created, not observed. The CLI accepts any unique prefix of an id.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

__all__ = ["content_id", "random_id"]

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base 32, lower case


def random_id(prefix: str) -> str:
    """A fresh random id such as ``mem_5k2x9q8f3a1c``."""
    bits = secrets.randbits(60)
    chars = [_ALPHABET[(bits >> shift) & 31] for shift in range(55, -1, -5)]
    return f"{prefix}_{''.join(chars)}"


def content_id(prefix: str, *parts: Any) -> str:
    """A stable id for content: the same parts always give the same id."""
    canonical = json.dumps(parts, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{prefix}_{digest[:16]}"
