"""The sleep cycle: gather, crunch, dream, verify, reshape, persona, commit, wake."""

from .context import SleepContext, Stopped
from .history import Diff, RollbackReport, diff, rollback
from .interruption import Interruption
from .pipeline import STAGES, SleepReport, run_sleep, wake

__all__ = [
    "STAGES",
    "Diff",
    "Interruption",
    "RollbackReport",
    "SleepContext",
    "SleepReport",
    "Stopped",
    "diff",
    "rollback",
    "run_sleep",
    "wake",
]
