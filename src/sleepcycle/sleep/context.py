"""What every stage of a sleep works with: the host, the models, the journal, the stop flag.

Model calls go through :meth:`SleepContext.ask`, which records every call (role, model, prompt
hash, tokens, milliseconds) in its own transaction as soon as it returns, and replays the reply
when a resumed sleep asks the same thing again: a sleep killed mid-stage resumes without paying
for the calls it already made.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from ..config import SleepSettings
from ..models import (
    ChatReply,
    ChatRequest,
    Choice,
    Message,
    Models,
    ReplyError,
    call_record,
    key_seed,
    request_hash,
)
from ..records import Author, JournalEntry, SleepStatus
from ..store import Store
from ..times import now

if TYPE_CHECKING:
    from ..host import Host

__all__ = ["SleepContext", "Stopped"]

T = TypeVar("T", bound=BaseModel)


class Stopped(Exception):
    """A wake request or SIGTERM arrived; the sleep stops at this point and can resume."""


@dataclass
class SleepContext:
    host: Host
    models: Models
    sleep_id: str
    dry_run: bool = False
    stop_flag: threading.Event = field(default_factory=threading.Event)
    stage: str = ""
    entries: list[JournalEntry] = field(default_factory=list)

    @property
    def store(self) -> Store:
        return self.host.store

    @property
    def agent(self) -> str:
        return self.host.agent

    @property
    def settings(self) -> SleepSettings:
        return self.host.config.sleep

    def author(self, stage: str, role: str | None = None) -> Author:
        model = "code" if role == "drafter" else self.models.role(role).model_id if role else None
        return Author.sleep(self.sleep_id, stage, model)

    # journal ------------------------------------------------------------------------------

    def note(self, kind: str, text: str, **refs: Any) -> None:
        """Add a journal entry for the current stage (written with the stage's checkpoint)."""
        self.entries.append(JournalEntry(self.sleep_id, self.stage, kind, text, now(), refs))

    def take_entries(self) -> list[JournalEntry]:
        taken, self.entries = self.entries, []
        return taken

    # stopping -----------------------------------------------------------------------------

    def check_stop(self) -> None:
        """Raise Stopped if a wake was requested (by signal, or by `sleepcycle wake`)."""
        if self.stop_flag.is_set() or self.store.sleeps.status(self.sleep_id) is (
            SleepStatus.STOPPING
        ):
            raise Stopped

    # models -------------------------------------------------------------------------------

    def ask(
        self,
        role: str,
        key: str,
        messages: Sequence[Message],
        schema: Mapping[str, Any],
        parse: Callable[[str], T],
        *,
        max_tokens: int | None = None,
    ) -> T:
        """A validated reply from ``role``, replayed if this sleep already got one."""
        model = self.models.role(role)
        request = model.request(messages, schema, max_tokens=max_tokens, seed=key_seed(key))
        call_key = f"{self.stage}:{key}:{request_hash(request)}"
        cached = self.store.calls.reply(self.sleep_id, call_key)
        if cached is not None:
            try:
                return parse(cached)
            except ReplyError:
                pass  # a reply recorded by an older version; ask again
        tries = 0

        def record(sent: ChatRequest, reply: ChatReply, error: str | None) -> None:
            nonlocal tries
            tries += 1
            with self.store.write() as tx:
                tx.calls.add(
                    call_record(
                        sent,
                        reply,
                        role=role,
                        sleep_id=self.sleep_id,
                        stage=self.stage,
                        key=call_key if error is None else f"{call_key}#invalid{tries}",
                        error=error,
                    )
                )

        return model.ask(request, parse, retries=self.settings.reply_retries, on_reply=record)

    def choose(self, key: str, messages: Sequence[Message], options: Sequence[str]) -> Choice:
        """The verifier's judge's probabilities for ``options`` as the first word of its reply
        (``Models.judge``), recorded as a call and replayed when this sleep asks again."""
        judge = self.models.judge()
        assert judge is not None, "choose is asked only where verify.judge chose a judge"
        request = ChatRequest(messages=tuple(messages), temperature=0.0, max_tokens=1)
        call_key = f"{self.stage}:{key}:choice:{request_hash(request)}"
        cached = self.store.calls.reply(self.sleep_id, call_key)
        if cached is not None:
            recorded = json.loads(cached)
            if isinstance(recorded, dict) and set(recorded) == set(options):
                return Choice({o: float(recorded[o]) for o in options}, judge.model_id)
        choice = judge.choose(request, options)
        with self.store.write() as tx:
            tx.calls.add(
                call_record(
                    request,
                    choice,
                    role="verifier",
                    sleep_id=self.sleep_id,
                    stage=self.stage,
                    key=call_key,
                )
            )
        return choice
