"""The CLI's state: global options, and the Mind opened on first use."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

import click

from ..errors import InputError
from ..mind import Mind
from ..mind import open as open_mind
from ..times import parse_time

__all__ = ["State", "parse_time_option", "pass_state", "read_text_arg"]


class State:
    def __init__(self, home: str | None, agent: str, store: str | None = None):
        self.home = home
        self.agent = agent
        self.store = store
        self._mind: Mind | None = None

    @property
    def mind(self) -> Mind:
        if self._mind is None:
            self._mind = open_mind(self.home, self.agent, store=self.store)
        return self._mind

    def close(self) -> None:
        if self._mind is not None:
            self._mind.close()
            self._mind = None


pass_state: Callable[[Callable[..., Any]], Callable[..., Any]] = click.make_pass_decorator(State)


def parse_time_option(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> datetime | None:
    """Click callback: ISO 8601 (``2026-03-01``, ``2026-03-01T09:14:00Z``) or epoch seconds."""
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as exc:  # one line, like every sleepcycle error
        name = param.opts[0] if param.opts else str(param.name)
        raise InputError(f"{name}: {exc}") from None


def read_text_arg(value: str) -> str:
    """A text argument, or standard input when it is ``-``."""
    if value != "-":
        return value
    text = sys.stdin.read()
    if not text.strip():
        raise InputError("standard input was empty; pipe the text in or give it as an argument")
    return text
