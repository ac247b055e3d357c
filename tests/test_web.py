"""The web page of ``sleepcycle serve``: the real server driven in headless Chromium (approve
a proposal and recall it, roll a night back through the confirmation, log in with a key that
may not reach the agent), and pages in process for what needs no browser (escaping, the
cross-site guard, history diffs, error pages)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

import sleepcycle
from sleepcycle import Mind, MiniLMEmbedder
from sleepcycle.api import create_server
from sleepcycle.config import ApiSettings
from sleepcycle.records import MemoryStatus, Outcome
from sleepkit import NIGHT, Intent, dreamer, night, open_mind, sleep_with_proposals
from webkit import MISSING, chromium_path, running

ALICE = "alice-key-0123456789"
BOB = "bob-key-0123456789ab"
LOCAL = "http://127.0.0.1"  # without api keys the server answers only loopback names
KEYS = ApiSettings.model_validate(
    {
        "keys": [
            {"name": "alice", "key": ALICE, "agents": ["maya"]},
            {"name": "bob", "key": BOB, "agents": ["sam"]},
        ]
    }
)
PIXEL = "Maya has a grey cat called Pixel."
ALFAMA = "Maya lives in Alfama, Lisbon."


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path = chromium_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(MISSING)
        pytest.skip(MISSING)
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=path)
        yield launched
        launched.close()


@contextmanager
def page_of(browser: Browser) -> Iterator[Page]:
    """A fresh browser context; fails the test on any script error or console error (a
    blocked script or style shows up there)."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    try:
        yield page
    finally:
        context.close()
    assert not [p for p in problems if "status of 40" not in p], problems


def nav(page: Page, name: str) -> Locator:
    """A link of the agent's navigation bar."""
    return page.get_by_role("navigation").get_by_role("link", name=name)


def test_approve_a_proposal_in_the_page_and_recall_it(
    home: Path, embedder: MiniLMEmbedder, browser: Browser
) -> None:
    mind = sleep_with_proposals(home, embedder)
    with running(create_server(mind)) as url, page_of(browser) as page:
        page.goto(url)
        expect(page).to_have_url(f"{url}/agents/maya")  # the only agent: straight to it
        nav(page, "Review").click()
        expect(page.locator("#pending-count")).to_have_text("3")
        add = next(i for i in mind.review() if i.op == "add")
        item = page.locator(f"#item-{add.id}")
        expect(item).to_contain_text(PIXEL)
        expect(item).to_contain_text("Verifier: score 1: supported")
        item.get_by_placeholder("Why").fill("yes, that is her cat")
        item.get_by_role("button", name="Approve").click()
        # The item is replaced in place, the count follows, without a reload.
        expect(item).to_contain_text("Approved by user")
        expect(item).to_contain_text("yes, that is her cat")
        expect(page.locator("#pending-count")).to_have_text("2")

        nav(page, "Memories").click()
        page.get_by_label("search").fill("her grey cat")
        page.get_by_label("search").press("Enter")
        expect(page).to_have_url(re.compile(r"q=her(%20|\+)grey"))
        expect(page.locator("#results")).to_contain_text("recalled for")
        expect(page.locator("#results tbody tr").first).to_contain_text(PIXEL)
        page.locator("#results").get_by_role("link", name=PIXEL).click()
        expect(page.locator("#history")).to_contain_text("v1 add by user ·")
        expect(page.locator("#history")).to_contain_text("Why: yes, that is her cat")
        page.locator("#sources a").first.click()
        expect(page.locator("blockquote.episode")).to_have_text(
            "Pixel, my grey cat, loves the big window."
        )

        hits = httpx.get(f"{url}/v1/agents/maya/recall", params={"q": "grey cat Pixel"}).json()
        assert hits["hits"][0]["text"] == PIXEL
    mind.close()


def slept_mind(home: Path, embedder: MiniLMEmbedder) -> Mind:
    """A mind after a sleep that added one memory."""
    mind = open_mind(home, embedder, dreamer=dreamer(Intent("add", ALFAMA, sources=["Alfama"])))
    night(mind)
    assert mind.sleep().outcome is Outcome.DONE
    return mind


def test_roll_back_a_night_through_the_confirmation(
    home: Path, embedder: MiniLMEmbedder, browser: Browser
) -> None:
    mind = slept_mind(home, embedder)
    added = next(m for m in mind.memories() if m.text == ALFAMA)
    with running(create_server(mind)) as url, page_of(browser) as page:
        page.goto(f"{url}/agents/maya")
        nav(page, "Last night").click()
        expect(page.locator("#journal .kept")).to_contain_text(
            f'committed p1 add (fact) "{ALFAMA}"'
        )
        expect(page.locator("#diff")).to_contain_text(f"Added (1) {ALFAMA}")
        expect(page.locator("#stages")).to_contain_text("7 episodes from 2 sessions")

        page.get_by_role("link", name="Roll back this sleep").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Roll back the night")
        assert mind.memory(added.id).status is MemoryStatus.ACTIVE  # asking is not doing
        page.get_by_role("button", name="Yes, roll back this sleep").click()
        expect(page.locator("#rollback")).to_contain_text("was rolled back")
        expect(page.locator("#rollback")).to_contain_text(f"{len(NIGHT)} episodes wait")

        page.get_by_role("link", name="See the night").click()
        expect(page.locator("#rolled-back")).to_contain_text("This sleep was rolled back")
        expect(page.locator("#diff li.change")).to_contain_text("now retracted v2")
        expect(page.get_by_role("link", name="Roll back this sleep")).to_have_count(0)
        nav(page, "Memories").click()
        expect(page.locator("#results")).to_contain_text("No memories match.")
        page.get_by_label("status").select_option("retracted")
        expect(page.locator("#results")).to_contain_text(ALFAMA)

        hits = httpx.get(f"{url}/v1/agents/maya/recall", params={"q": "Alfama"}).json()["hits"]
        assert all(h["text"] != ALFAMA for h in hits)
    assert mind.memory(added.id).status is MemoryStatus.RETRACTED
    mind.close()


def test_keys_login_and_another_agents_key_is_refused(
    home: Path, embedder: MiniLMEmbedder, browser: Browser
) -> None:
    mind = sleep_with_proposals(home, embedder)
    with running(create_server(mind, settings=KEYS)) as url, page_of(browser) as page:
        page.goto(f"{url}/agents/maya/review")
        expect(page).to_have_url(re.compile(r"/login\?next=%2Fagents%2Fmaya%2Freview$"))
        page.get_by_label("API key").fill("not-a-key-at-all-0000")
        page.get_by_role("button", name="Log in").click()
        expect(page.locator(".flash")).to_contain_text("not one of this server's API keys")

        page.get_by_label("API key").fill(BOB)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(f"{url}/agents/maya/review")
        expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
        expect(page.locator("main")).to_contain_text("this key may not reach agent 'maya'")
        expect(page.locator("main")).not_to_contain_text("grey cat")
        (cookie,) = page.context.cookies()
        assert cookie["name"] == "sleepcycle_key"
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        page.goto(url)
        expect(page).to_have_url(f"{url}/agents/sam")  # bob's one agent

        page.get_by_role("button", name="Log out").click()
        page.goto(f"{url}/agents/maya/review")
        page.get_by_label("API key").fill(ALICE)
        page.get_by_role("button", name="Log in").click()
        add = next(i for i in mind.review() if i.op == "add")
        page.locator(f"#item-{add.id}").get_by_role("button", name="Approve").click()
        expect(page.locator(f"#item-{add.id}")).to_contain_text("Approved by alice")

        params = {"q": "grey cat Pixel"}
        as_alice = {"Authorization": f"Bearer {ALICE}"}
        hits = httpx.get(f"{url}/v1/agents/maya/recall", params=params, headers=as_alice)
        assert hits.json()["hits"][0]["text"] == PIXEL
        as_bob = {"Authorization": f"Bearer {BOB}"}
        refused = httpx.get(f"{url}/v1/agents/maya/recall", params=params, headers=as_bob)
        assert refused.status_code == 403
    mind.close()


# In process: what the pages say, without a browser. ------------------------------------


@pytest.fixture
def mind(home: Path, embedder: MiniLMEmbedder) -> Iterator[Mind]:
    with sleepcycle.open(home, "maya", embedder=embedder) as m:
        yield m


def test_memory_text_is_escaped_and_pages_forbid_foreign_scripts(mind: Mind) -> None:
    evil = "<script>alert('x')</script> Maya likes <b>bold</b> tea"
    memory = mind.add(evil)
    mind.ingest_messages([{"role": "user", "content": "<img src=x onerror=alert(1)>"}])
    episode = mind.episodes()[0]
    with TestClient(create_server(mind), base_url=LOCAL) as client:
        for url in (
            "/agents/maya/memories",
            f"/agents/maya/memories/{memory.id}",
            "/agents/maya/memories?q=tea",
        ):
            page = client.get(url)
            assert page.status_code == 200, page.text
            assert "<script>alert" not in page.text and "<b>bold" not in page.text
            assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page.text
            assert "script-src 'self'" in page.headers["content-security-policy"]
        shown = client.get(f"/agents/maya/episodes/{episode.id}").text
        assert "<img src=x" not in shown and "&lt;img src=x onerror=alert(1)&gt;" in shown
        assert "https://" not in shown and "http://" not in shown  # nothing from elsewhere


def test_changes_need_htmx_or_this_sites_origin(home: Path, embedder: MiniLMEmbedder) -> None:
    mind = sleep_with_proposals(home, embedder)
    add = next(i for i in mind.review() if i.op == "add")
    retract = next(i for i in mind.review() if i.op == "retract")
    with TestClient(create_server(mind), base_url=LOCAL) as client:
        approve = f"/agents/maya/review/{add.id}/approve"
        bare = client.post(approve, data={"reason": "forged"})
        assert bare.status_code == 403
        assert "a change must come from this site" in bare.text and "<html" in bare.text
        foreign = client.post(approve, data={}, headers={"Origin": "https://evil.example"})
        assert foreign.status_code == 403
        rollback = client.post("/agents/maya/sleeps/latest/rollback", data={})
        assert rollback.status_code == 403
        assert mind.review_item(add.id).status.value == "pending"
        assert mind.get_sleep().status.value == "done"

        # A plain form from this site (no JavaScript) works, and lands back on the queue.
        form = client.post(approve, data={}, headers={"Origin": LOCAL}, follow_redirects=False)
        assert form.status_code == 303 and form.headers["location"] == "/agents/maya/review"
        htmx = client.post(
            f"/agents/maya/review/{retract.id}/reject",
            data={"reason": "she still has the dog"},
            headers={"HX-Request": "true"},
        )
        assert htmx.status_code == 200
        assert "Rejected by user" in htmx.text and "she still has the dog" in htmx.text
        assert 'id="pending-count" class="count" hx-swap-oob="true">1<' in htmx.text
    mind.close()


def test_history_and_persona_show_diffs(mind: Mind) -> None:
    memory = mind.add("Maya drinks oat milk flat whites.", kind="preference")
    mind.edit(memory.id, text="Maya drinks green tea in the mornings.", reason="gave up coffee")
    mind.retract(memory.id, reason="not sure any more")
    mind.set_persona("I am Maya's assistant.\nI keep answers short.")
    mind.set_persona("I am Maya's assistant.\nI answer in Portuguese when asked.")
    with TestClient(create_server(mind), base_url=LOCAL) as client:
        page = client.get(f"/agents/maya/memories/{memory.id}").text
        assert "<del>oat milk flat whites</del><ins>green tea in the mornings</ins>" in page
        assert "Why: gave up coffee" in page and "Why: not sure any more" in page
        assert "<del>active</del> → <ins>retracted</ins>" in page
        assert page.index("v3 retract") < page.index("v2 edit") < page.index("v1 add")
        persona = client.get("/agents/maya/persona").text
        assert '<div class="line del">I keep answers short.</div>' in persona
        assert '<div class="line ins">I answer in Portuguese when asked.</div>' in persona
        assert '<div class="line same">I am Maya&#39;s assistant.</div>' in persona


def test_errors_are_pages_on_the_web_and_json_on_the_api(mind: Mind) -> None:
    with TestClient(create_server(mind), base_url=LOCAL) as client:
        missing = client.get("/agents/maya/memories/mem_nope")
        assert missing.status_code == 404 and missing.headers["content-type"].startswith(
            "text/html"
        )
        assert "mem_nope" in missing.text and "Traceback" not in missing.text
        assert (
            client.get("/v1/agents/maya/memories/mem_nope").json()["error"]["kind"] == "not_found"
        )
        assert client.get("/no/such/page").status_code == 404
        unslept = client.get("/agents/maya/sleeps/latest")
        assert unslept.status_code == 400 and "has not slept yet" in unslept.text
        bad_filter = client.get("/agents/maya/memories?kind=feelings")
        assert (
            bad_filter.status_code == 400 and "unknown kind &#39;feelings&#39;" in bad_filter.text
        )
        flash = client.get("/agents/maya/memories/mem_nope", headers={"HX-Request": "true"})
        assert flash.headers["HX-Retarget"] == "#flash"
        assert flash.text.startswith('<div class="flash not_found">')


def test_without_a_key_pages_send_you_to_login(home: Path, embedder: MiniLMEmbedder) -> None:
    with (
        sleepcycle.open(home, "maya", embedder=embedder) as mind,
        TestClient(create_server(mind, settings=KEYS), base_url=LOCAL) as client,
    ):
        to_login = client.get("/agents/maya/memories?q=tea", follow_redirects=False)
        assert to_login.status_code == 303
        assert to_login.headers["location"] == "/login?next=%2Fagents%2Fmaya%2Fmemories%3Fq%3Dtea"
        htmx = client.get("/agents/maya", headers={"HX-Request": "true"})
        assert htmx.headers["HX-Redirect"] == "/login?next=%2Fagents%2Fmaya"
        elsewhere = client.post(
            "/login", data={"key": ALICE, "next": "//evil.example/x"}, follow_redirects=False
        )
        assert elsewhere.headers["location"] == "/"  # never off this site
        cookie = elsewhere.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert client.get("/agents/maya").status_code == 200  # the cookie is the key now
        assert client.get("/agents/sam").status_code == 403
