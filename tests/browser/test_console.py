"""The web console, end to end: a real server, real headless Chromium, real clicks.

Each test drives the page the way a person would (forms, buttons, the composer) and
checks what the page shows while the server streams. Screenshots land in
``test-artifacts/browser/``.
"""

from __future__ import annotations

import itertools
import re
import time
import uuid
from typing import Any

import httpx
from support.servers import Server

from .conftest import SSE_SECONDS, TOKEN


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def open_console(page: Any, server: Server, route: str = "") -> None:
    page.goto(f"{server.url}/{route}")
    expect(page.get_by_role("status", name="Connection")).to_have_text("connected")


def create_thread(page: Any, server: Server, prompt: str, title: str | None = None) -> str:
    """Create a thread from the start page's form; returns its id (from the address)."""
    open_console(page, server)
    form = page.get_by_role("form", name="New thread")
    if title:
        form.get_by_label("Title (optional)").fill(title)
    form.get_by_label("First message").fill(prompt)
    form.get_by_role("button", name="Create thread").click()
    page.wait_for_url(re.compile(r"#/thread/"))
    return str(page.url.rsplit("/", 1)[-1])


def say(page: Any, text: str) -> None:
    composer = page.get_by_label("Message", exact=True)
    composer.fill(text)
    composer.press("Enter")


def last_assistant(page: Any) -> Any:
    return page.get_by_role("article", name="Assistant message").last


def tool_card(page: Any, name: str) -> Any:
    return page.get_by_role("article", name=f"Tool call {name}").last


def test_the_answer_streams_into_a_new_thread(page: Any, server: Server, shot: Any) -> None:
    title = unique("counting")
    create_thread(page, server, "Please count to 30", title=title)
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    expect(page.get_by_role("article", name="Your message")).to_contain_text("count to 30")

    # Sample the answer while it streams: it must grow in place, many times, to the end.
    answer = last_assistant(page).locator(".reply")
    seen: list[str] = []
    midway = False
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        text = answer.text_content() if answer.count() else ""
        if text and (not seen or text != seen[-1]):
            seen.append(text)
        if not midway and "15" in (text or ""):
            expect(last_assistant(page)).to_contain_text("streaming")
            expect(page.get_by_role("status", name="Thread status")).to_have_text("streaming")
            shot(page, "midway")
            midway = True
        if text and text.endswith("Done."):
            break
        time.sleep(0.03)
    assert seen and seen[-1].endswith("30. Done."), seen[-3:]
    assert len(seen) >= 8, f"the answer arrived in {len(seen)} pieces, not as a stream"
    assert all(after.startswith(before) for before, after in itertools.pairwise(seen))
    assert midway

    expect(page.get_by_role("status", name="Thread status")).to_have_text("completed")
    expect(last_assistant(page)).not_to_contain_text("streaming")
    threads = page.get_by_role("list", name="Threads")
    expect(threads.get_by_role("link", name=re.compile(title))).to_contain_text("completed")


def test_tool_call_cards_show_arguments_result_and_retries(
    page: Any, server: Server, shot: Any
) -> None:
    create_thread(page, server, "What is the weather in Paris?")
    card = tool_card(page, "get_weather")
    expect(card.get_by_role("status", name="get_weather status")).to_have_text("completed")
    expect(card).to_contain_text('"city": "Paris"')
    expect(card).to_contain_text('"sky": "sunny"')
    expect(card.get_by_label("Attempts")).to_have_text("attempt 1")
    expect(last_assistant(page)).to_contain_text("Tool get_weather says")

    say(page, "try the flaky lookup")
    flaky = tool_card(page, "flaky_lookup")
    expect(flaky.get_by_role("status", name="flaky_lookup status")).to_have_text("completed")
    expect(flaky.get_by_label("Attempts")).to_have_text("attempt 2")
    expect(flaky).to_contain_text("Retried after")
    expect(flaky).to_contain_text("temporary outage")
    expect(flaky).to_contain_text("found it on attempt 2")
    shot(page, "cards")


def test_approving_a_tool_call_runs_it(page: Any, server: Server, shot: Any) -> None:
    create_thread(page, server, "deploy staging")
    card = tool_card(page, "deploy")
    status = card.get_by_role("status", name="deploy status")
    expect(status).to_have_text("awaiting_approval")
    expect(page.get_by_role("status", name="Thread status")).to_have_text("awaiting_tool_results")
    expect(card.get_by_text("approval", exact=True)).to_be_visible()
    shot(page, "waiting")

    card.get_by_role("button", name="Approve").click()
    expect(status).to_have_text("completed")
    expect(card).to_contain_text("deployed to staging")
    expect(card.get_by_role("button", name="Approve")).to_have_count(0)
    expect(last_assistant(page)).to_contain_text("Tool deploy says: deployed to staging")
    expect(page.get_by_role("status", name="Thread status")).to_have_text("completed")


def test_denying_a_tool_call_tells_the_model_why(page: Any, server: Server) -> None:
    create_thread(page, server, "deploy production")
    card = tool_card(page, "deploy")
    expect(card.get_by_role("status", name="deploy status")).to_have_text("awaiting_approval")
    card.get_by_label("Reason").fill("not on a Friday")
    card.get_by_role("button", name="Deny").click()
    expect(card.get_by_role("status", name="deploy status")).to_have_text("denied")
    expect(card).to_contain_text("not on a Friday")
    expect(card.get_by_role("button", name="Deny")).to_have_count(0)
    expect(last_assistant(page)).to_contain_text("did not happen")
    expect(page.get_by_role("status", name="Thread status")).to_have_text("completed")


def test_stop_and_resume_a_thread(page: Any, server: Server, shot: Any) -> None:
    create_thread(page, server, "give me a long answer")
    thread_status = page.get_by_role("status", name="Thread status")
    stop = page.get_by_role("button", name="Stop")
    resume = page.get_by_role("button", name="Resume")
    expect(last_assistant(page)).to_contain_text("word2")
    expect(thread_status).to_have_text("streaming")
    expect(resume).to_be_disabled()

    stop.click()
    expect(thread_status).to_have_text("stopped")
    expect(last_assistant(page)).to_contain_text("interrupted")
    expect(stop).to_be_disabled()
    page.wait_for_timeout(500)  # the text may still be catching up with what arrived
    stopped_text = last_assistant(page).locator(".reply").text_content()
    page.wait_for_timeout(1000)  # a running answer would grow by four words meanwhile
    assert last_assistant(page).locator(".reply").text_content() == stopped_text
    shot(page, "stopped")

    resume.click()
    expect(thread_status).to_have_text("streaming")
    expect(page.get_by_role("article", name="Assistant message")).to_have_count(2)
    expect(last_assistant(page)).to_contain_text("word1")
    expect(page.get_by_role("article", name="Assistant message").first).to_contain_text(
        "interrupted"
    )
    stop.click()
    expect(thread_status).to_have_text("stopped")


def test_an_entity_timeline_state_and_kill(page: Any, server: Server, shot: Any) -> None:
    entity_id = unique("tally")
    open_console(page, server)
    form = page.get_by_role("form", name="Spawn an entity")
    form.get_by_label("Type").select_option("counter")
    form.get_by_label("Id (optional)").fill(entity_id)
    form.get_by_label("First message (JSON or text, optional)").fill("hello there")
    form.get_by_label("Tags (name=value, comma separated)").fill("team=blue")
    form.get_by_role("button", name="Spawn").click()
    page.wait_for_url(re.compile(f"#/entity/counter/{entity_id}$"))

    entity_status = page.get_by_role("status", name="Entity status")
    expect(entity_status).to_have_text("idle")
    expect(page.get_by_text("team=blue")).to_be_visible()
    events = page.get_by_role("list", name="Events")
    for kind in ("entity_created", "tags", "inbox", "state:notes", "wake"):
        expect(events.locator(f'[data-type="{kind}"]').first).to_be_visible()

    say(page, '{"note": "second"}')
    expect(events.locator('[data-type="state:notes"]')).to_have_count(2)
    events.locator('[data-type="inbox"]').last.locator("summary").click()
    expect(events.locator('[data-type="inbox"]').last.locator("pre")).to_contain_text('"note"')

    page.get_by_role("tab", name="State").click()
    notes = page.get_by_role("group", name="Collection state:notes")
    expect(notes).to_contain_text("hello there")
    expect(notes).to_contain_text("second")
    expect(notes).to_contain_text("2 rows")
    shot(page, "state")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Kill").click()
    expect(entity_status).to_have_text("killed")
    expect(page.get_by_role("button", name="Kill")).to_be_disabled()
    expect(page.get_by_role("group", name="Collection entity_stopped")).to_contain_text("killed")
    entities = page.get_by_role("list", name="Entities")
    expect(entities.get_by_role("link", name=re.compile(entity_id))).to_contain_text("killed")

    # The server's refusal is shown, with its code.
    say(page, "anyone there?")
    alert = page.get_by_role("alert", name="Errors")
    expect(alert).to_contain_text("ENTITY_TERMINATED")
    expect(alert).to_contain_text("is killed")
    shot(page, "killed")


def test_lists_follow_the_server_live(page: Any, server: Server) -> None:
    open_console(page, server)
    entities = page.get_by_role("list", name="Entities")
    threads = page.get_by_role("list", name="Threads")
    entity_id = unique("live")
    thread_id = unique("chat")

    created = httpx.post(f"{server.url}/v1/entities/counter", json={"id": entity_id})
    assert created.status_code == 201, created.text
    expect(entities.get_by_role("link", name=re.compile(entity_id))).to_contain_text("idle")
    response = httpx.post(
        f"{server.url}/v1/threads", json={"id": thread_id, "title": f"Title {thread_id}"}
    )
    assert response.status_code == 201, response.text
    expect(threads.get_by_role("link", name=re.compile(f"Title {thread_id}"))).to_be_visible()

    killed = httpx.post(
        f"{server.url}/v1/entities/counter/{entity_id}/signals", json={"name": "kill"}
    )
    assert killed.status_code == 202, killed.text
    expect(entities.get_by_role("link", name=re.compile(entity_id))).to_contain_text("killed")

    page.get_by_label("Filter entities by type").select_option("thread")
    expect(entities.get_by_role("link", name=re.compile(thread_id))).to_be_visible()
    expect(entities.get_by_role("link", name=re.compile(entity_id))).to_have_count(0)


def test_an_unknown_entity_is_reported(page: Any, server: Server) -> None:
    open_console(page, server, "#/entity/counter/no-such-thing")
    alert = page.get_by_role("alert", name="Errors")
    expect(alert).to_contain_text("UNKNOWN_ENTITY")
    expect(alert).to_contain_text("/counter/no-such-thing does not exist")
    expect(page.get_by_role("status", name="Entity status")).to_have_text("missing")


def test_a_token_is_asked_for_kept_and_sent(page: Any, token_server: Server, shot: Any) -> None:
    page.goto(token_server.url)
    dialog = page.get_by_role("dialog", name="Access token")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("asks for a bearer token")
    shot(page, "prompt")

    dialog.get_by_label("Bearer token").fill("wrong")
    dialog.get_by_role("button", name="Save token").click()
    expect(dialog).to_contain_text("refused the saved token")

    dialog.get_by_label("Bearer token").fill(TOKEN)
    dialog.get_by_role("button", name="Save token").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("status", name="Connection")).to_have_text("connected")

    # The live stream (EventSource) carries the token too.
    form = page.get_by_role("form", name="New thread")
    form.get_by_label("First message").fill("weather in Oslo")
    form.get_by_role("button", name="Create thread").click()
    expect(tool_card(page, "get_weather")).to_contain_text("Oslo")
    expect(last_assistant(page)).to_contain_text("Tool get_weather says")

    page.reload()
    expect(page.get_by_role("status", name="Connection")).to_have_text("connected")
    expect(dialog).to_be_hidden()
    expect(last_assistant(page)).to_contain_text("Tool get_weather says")


def test_a_dropped_stream_resumes_without_gaps_or_repeats(page: Any, server: Server) -> None:
    entity_id = unique("steady")
    created = httpx.post(
        f"{server.url}/v1/entities/counter", json={"id": entity_id, "message": "first"}
    )
    assert created.status_code == 201, created.text
    open_console(page, server, f"#/entity/counter/{entity_id}")
    events = page.get_by_role("list", name="Events")
    expect(events.locator('[data-type="state:notes"]')).to_have_count(1)

    # Outlive one live read (the server ends each after SSE_SECONDS), then append more.
    page.wait_for_timeout((float(SSE_SECONDS) + 1) * 1000)
    for text in ("second", "third"):
        sent = httpx.post(
            f"{server.url}/v1/entities/counter/{entity_id}/messages", json={"payload": text}
        )
        assert sent.status_code == 202, sent.text
    expect(events.locator('[data-type="state:notes"]')).to_have_count(3)
    expect(page.get_by_role("status", name="Stream")).to_have_text("live")

    # The page shows exactly the server's events, in order (handler bookkeeping may still
    # be landing, so compare until both sides agree or time runs out).
    rows = events.locator("li.event")
    stream = f"{server.url}/v1/stream/counter/{entity_id}/main"
    deadline = time.monotonic() + 10
    while True:
        on_server = [event["type"] for event in httpx.get(stream, params={"offset": "-1"}).json()]
        shown = rows.evaluate_all("rows => rows.map(row => row.dataset.type)")
        if shown == on_server or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert shown == on_server
