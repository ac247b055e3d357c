"""Prompt templates, one file per model task, rendered strictly.

Templates use ``$name`` placeholders (``string.Template``) so JSON examples need no escaping;
a placeholder without a value raises instead of leaving a hole in the prompt.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from string import Template
from typing import Any

__all__ = ["data", "render"]


@cache
def _template(name: str) -> Template:
    return Template(resources.files(__package__).joinpath(f"{name}.md").read_text("utf-8"))


@cache
def data(name: str) -> Any:
    """The JSON file ``prompts/<name>.json`` (examples shown in prompts)."""
    return json.loads(resources.files(__package__).joinpath(f"{name}.json").read_text("utf-8"))


def render(name: str, **values: object) -> str:
    """The prompt ``prompts/<name>.md`` with every placeholder filled; KeyError if one is not."""
    return _template(name).substitute({k: str(v) for k, v in values.items()}).strip()
