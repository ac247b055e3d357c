"""JSON schema to a llama.cpp grammar, with llama-cpp-python's converter fixed.

The converter's ``char`` rule, ``[^"\\\\] | "\\\\" (...)``, lets raw control characters (newline,
tab, NUL) into JSON strings, which makes the reply invalid JSON; here the rule excludes U+0000 to
U+001F and U+007F, so a string can only hold them escaped. The reply is still validated after
generation: the grammar only makes invalid replies unlikely, and every schema is bounded
(``maxLength``, ``maxItems``, enums) so a small model cannot loop until ``max_tokens``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ModelError

__all__ = ["schema_to_gbnf"]

_CHAR_RULE = re.compile(r'^char ::= \[\^"\\\\\] \|', re.M)
_FIXED_CHAR = r'char ::= [^"\\\x7F\x00-\x1F] |'


def schema_to_gbnf(schema: Mapping[str, Any], order: Sequence[str] = ()) -> str:
    """GBNF text for ``schema``; properties come out in ``order`` where named."""
    try:
        from llama_cpp.llama_grammar import json_schema_to_gbnf  # noqa: PLC0415 - optional engine
    except ImportError:
        raise ModelError(
            "llama-cpp-python is not installed; reinstall sleepcycle (pip install sleepcycle)"
        ) from None
    grammar = json_schema_to_gbnf(json.dumps(schema), list(order))
    fixed, count = _CHAR_RULE.subn(lambda _: _FIXED_CHAR, grammar)
    if "char ::=" in grammar and count != 1:
        raise ModelError(
            "llama-cpp-python's grammar converter changed its string rule; "
            "update sleepcycle.models.grammar"
        )
    return fixed
