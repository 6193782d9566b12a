"""Text and reasoning as they stream: coalesced deltas, seen live, final rows."""

from __future__ import annotations

import itertools
import time

from support.fakes import Reply
from support.waiting import of_type

from wakeful.entities.definition import Registry

from .support import LiveReader, Provider, agent_type, wait_flag

# The loop appends pending text every 50 ms while a model streams; a live reader should
# see new text within about 100 ms of the model sending it.
LIVE_LAG_SECONDS = 0.1
# Slack for a loaded test machine (the fake server shares the process).
SLACK_SECONDS = 0.05


async def test_long_answer_is_tens_of_appends_not_one_per_token(
    provider: Provider, agent_app
) -> None:
    words = [f"word{index} " for index in range(200)]
    provider.script(Reply(text=words, chunk_delay=0.002, usage=(20, 200)))
    registry = Registry()
    agent_type(registry, "bot", provider.model())
    app = await agent_app(registry)
    url = await app.spawn("bot", "b1", message="Tell me a long story.")

    run = await app.wait_run(url)
    assert run["status"] == "completed"
    assert run["text"] == "".join(words)
    events = await app.events(url)
    deltas = [event["value"] for event in of_type(events, "text_delta")]
    assert "".join(delta["delta"] for delta in deltas) == "".join(words)
    assert [delta["seq"] for delta in deltas] == list(range(len(deltas)))
    # 200 tokens over more than half a second: a handful of appends, several of them.
    assert 3 <= len(deltas) <= len(words) // 10, len(deltas)
    (text,) = [event["value"] for event in of_type(events, "text")]
    assert text["text"] == "".join(words)
    assert text["status"] == "completed"


async def test_a_live_reader_sees_text_within_100_ms(provider: Provider, agent_app) -> None:
    """The model sends some text and then pauses: the pending text is appended anyway,
    on time, and a reader following the stream over HTTP sees it."""
    provider.script(Reply(text="Let me think about that", stall=True))
    registry = Registry()
    agent_type(registry, "bot", provider.model())
    app = await agent_app(registry)
    reader = LiveReader(app.client, "/bot/b1").start()
    try:
        url = await app.spawn("bot", "b1", message="Hello?")
        await wait_flag(provider.fake.stalled, what="the model to pause")
        sent = time.monotonic()  # the fake has written all the text to the socket
        seen = await reader.wait_text("Let me think about that")
        assert seen - sent <= LIVE_LAG_SECONDS + SLACK_SECONDS, seen - sent
    finally:
        await app.signal(url, "interrupt")
        await reader.stop()
    run = await app.wait_run(url)
    assert run["status"] == "aborted"


async def test_steady_stream_reaches_a_live_reader_steadily(provider: Provider, agent_app) -> None:
    words = [f"w{index} " for index in range(40)]
    provider.script(Reply(text=words, chunk_delay=0.02))
    registry = Registry()
    agent_type(registry, "bot", provider.model())
    app = await agent_app(registry)
    reader = LiveReader(app.client, "/bot/b1").start()
    try:
        url = await app.spawn("bot", "b1", message="Count.")
        await app.wait_run(url)
        await reader.wait_for(lambda event: event.get("type") == "text")
    finally:
        await reader.stop()
    arrivals = [at for at, event in reader.seen if event.get("type") == "text_delta"]
    # About 0.8 s of streaming: many appends, none further apart than the lag allows.
    assert len(arrivals) >= 5, len(arrivals)
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert max(gaps) <= LIVE_LAG_SECONDS + SLACK_SECONDS, gaps


async def test_reasoning_streams_as_reasoning_deltas(provider: Provider, agent_app) -> None:
    provider.script(Reply(reasoning="First, consider the question.", text="Forty-two."))
    registry = Registry()
    agent_type(registry, "bot", provider.model())
    app = await agent_app(registry)
    url = await app.spawn("bot", "b1", message="What is the answer?")

    run = await app.wait_run(url)
    assert run["status"] == "completed"
    assert run["text"] == "Forty-two."
    events = await app.events(url)
    reasoning = "".join(e["value"]["delta"] for e in of_type(events, "reasoning_delta"))
    assert reasoning == "First, consider the question."
    (row,) = [event["value"] for event in of_type(events, "reasoning")]
    assert row["text"] == "First, consider the question."
    assert row["step_id"] == f"{run['id']}:0"
