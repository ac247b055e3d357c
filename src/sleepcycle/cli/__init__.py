"""The ``sleepcycle`` command: a thin layer over the Python API.

Each command calls ``Mind``; read commands take ``--json``; errors end in one line on stderr
with exit code 2 for usage errors (fix the input) and 1 for runtime failures.
"""

from __future__ import annotations

from typing import Any

import click

from ..errors import SleepcycleError, UsageError
from .context import State

__all__ = ["cli", "main"]


class _Failure(click.ClickException):
    """A runtime failure: exit code 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class _UsageFailure(_Failure):
    """The input must change: exit code 2, like click's own usage errors."""

    exit_code = 2


class _Group(click.Group):
    """Turns sleepcycle errors into one line on stderr instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            raise _UsageFailure(str(exc)) from None
        except SleepcycleError as exc:
            raise _Failure(str(exc)) from None
        except OSError as exc:  # the disk, outside the store: full, read-only, gone
            where = f" ({exc.filename})" if exc.filename else ""
            raise _Failure(
                f"{exc.strerror or exc}{where}; check the disk and the path, then try again"
            ) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    envvar="SLEEPCYCLE_HOME",
    type=click.Path(file_okay=False),
    help="Data directory (env SLEEPCYCLE_HOME; default: the per-user data directory).",
)
@click.option(
    "--agent",
    envvar="SLEEPCYCLE_AGENT",
    default="default",
    show_default=True,
    help="Agent whose memory to use (env SLEEPCYCLE_AGENT).",
)
@click.option(
    "--store",
    metavar="URL",
    help="Where memory is kept: sqlite:///path/file.db or postgresql://user@host/db "
    "(env SLEEPCYCLE_STORE_URL; default: store.url in the config, else <home>/sleepcycle.db).",
)
@click.version_option(package_name="sleepcycle")
@click.pass_context
def cli(ctx: click.Context, home: str | None, agent: str, store: str | None) -> None:
    """Long-term memory for LLM agents that consolidates offline, like sleep."""
    state = State(home, agent, store)
    ctx.obj = state
    ctx.call_on_close(state.close)


def main() -> None:
    """Entry point of the ``sleepcycle`` console script."""
    cli(prog_name="sleepcycle")


def _register() -> None:
    from . import (  # noqa: PLC0415
        awake,
        files,
        fleet,
        mcp,
        memory,
        overview,
        persona,
        recall,
        review,
        serve,
        sleep,
        weights,
    )

    modules = (
        awake, memory, recall, files, persona, sleep, weights, review, serve, mcp, fleet, overview,
    )  # fmt: skip
    for module in modules:
        for command in module.COMMANDS:
            cli.add_command(command)


_register()

if __name__ == "__main__":  # pragma: no cover
    main()
