"""Sample data written for sleepcycle: four days of chat between Maya and her assistant.

Maya moves from Manchester to Lisbon, changes jobs (Brightline Studio to Atlas Maps) and gives
up coffee for green tea; she mentions her peanut allergy and her cat Pixel twice. The file also
holds thinking messages, an event and parked, dismissed and internal thoughts.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["DEMO_QUERIES", "sample_path"]

DEMO_QUERIES = (
    "Where does Maya live?",
    "What does Maya drink in the morning?",
    "Where does Maya work?",
    "Is Maya allergic to anything?",
)


def sample_path() -> Path:
    """The bundled sample chat (JSONL)."""
    return Path(str(resources.files(__package__).joinpath("maya.jsonl")))
