"""Screenshots of the web page for docs/web.md.

Sets up two nights in a temporary home with the library's fake models (as the tests do),
serves it on 127.0.0.1, and saves PNGs of the main pages into docs/screenshots/ with
Playwright driving the system's Chromium (`apt-get install chromium`; never `playwright
install`). Run from the repository root:

    python docs/screenshots.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from sleepcycle import Mind, MiniLMEmbedder  # noqa: E402
from sleepcycle.api import create_server  # noqa: E402
from sleepkit import (  # noqa: E402
    NIGHT,
    Intent,
    dreamer,
    open_mind,
    persona_model,
    verifier,
)
from webkit import MISSING, chromium_path, running  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
APPLY = {k: "apply" for k in ("add", "edit", "amend", "retract", "merge", "persona")}


def first_night(home: Path, embedder: MiniLMEmbedder) -> None:
    mind = open_mind(
        home,
        embedder,
        review=APPLY,
        dreamer=dreamer(
            Intent(
                "add",
                "Maya is a UX designer at Brightline Studio.",
                sources=["UX designer at Brightline"],
            ),
            Intent("add", "Maya is allergic to peanuts.", sources=["allergic to peanuts"]),
        ),
        foreground=persona_model(
            {"action": "add", "line": "Maya is allergic to peanuts.", "new": "", "note": ""}
        ),
    )
    mind.add("Maya lives in Manchester.")
    mind.add("Maya has a dog.")
    mind.add("Maya drinks oat milk flat whites.", kind="preference")
    mind.ingest_messages(NIGHT[:3])
    mind.sleep()
    mind.close()


def second_night(home: Path, embedder: MiniLMEmbedder) -> Mind:
    """Edits, two adds queued for review, a retraction the verifier turns down."""
    mind = open_mind(
        home,
        embedder,
        rounds=0,
        review={**APPLY, "add": "propose"},
        dreamer=dreamer(
            Intent(
                "edit", "Maya lives in Alfama, Lisbon.", sources=["Alfama"], targets=["Manchester"]
            ),
            Intent(
                "edit",
                "Maya drinks green tea in the mornings.",
                sources=["green tea"],
                targets=["oat milk"],
            ),
            Intent("add", "Maya has a grey cat called Pixel.", sources=["Pixel, my grey cat"]),
            Intent("add", "Maya works at Atlas Maps; her manager is Ines.", sources=["Atlas Maps"]),
            Intent("retract", sources=["Pixel, my grey cat"], targets=["has a dog"]),
        ),
        verifier=verifier(lambda text: 0 if "dog" in text else 1),
        foreground=persona_model(
            {
                "action": "add",
                "line": "Maya lives in Alfama, Lisbon.",
                "new": "",
                "note": "she moved",
            }
        ),
    )
    mind.ingest_messages(NIGHT[3:])
    mind.sleep()
    return mind


def shoot(page: Page, name: str, *, full: bool = True) -> None:
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=full)
    print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KB")


def pages(page: Page, url: str, mind: Mind) -> None:
    page.set_viewport_size({"width": 1100, "height": 1500})
    page.goto(f"{url}/agents/maya/sleeps/latest")
    shoot(page, "night", full=False)  # the summary, journal and diff; the stages go on below
    page.set_viewport_size({"width": 1100, "height": 800})
    page.goto(f"{url}/agents/maya/memories?q=where+does+Maya+live")
    shoot(page, "memories")
    lisbon = next(m for m in mind.memories() if "Lisbon" in m.text)
    page.goto(f"{url}/agents/maya/memories/{lisbon.id}")
    shoot(page, "memory")
    page.goto(f"{url}/agents/maya/review")
    shoot(page, "review")
    page.goto(f"{url}/agents/maya/persona")
    shoot(page, "persona")
    page.goto(f"{url}/agents/maya/sleeps/latest/rollback")
    shoot(page, "rollback")


def main() -> None:
    browser_path = chromium_path()
    if browser_path is None:
        sys.exit(MISSING)
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        embedder = MiniLMEmbedder(Path(tmp) / "cache")
        first_night(home, embedder)
        mind = second_night(home, embedder)
        with running(create_server(mind)) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=browser_path)
            page = browser.new_page(viewport={"width": 1100, "height": 800}, color_scheme="light")
            pages(page, url, mind)
            browser.close()
        mind.close()


if __name__ == "__main__":
    main()
