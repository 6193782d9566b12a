"""Model failures: rate limits honour Retry-After, server errors retry with backoff,
client errors fail the run with an error event, a stream cut short is retried."""

from __future__ import annotations

import pytest
from support.fakes import HTTPError, Reply
from support.waiting import of_type

from wakeful.agent.models.base import MAX_RETRY_AFTER_SECONDS, parse_retry_after
from wakeful.entities.definition import Registry

from .support import Provider, agent_type


@pytest.mark.parametrize("retry_after", ["1", "86400"])
async def test_rate_limit_waits_as_long_as_retry_after_says(
    provider: Provider, agent_app, monkeypatch: pytest.MonkeyPatch, retry_after: str
) -> None:
    """Up to the bound: a day's Retry-After waits as long as the bound (1 s here)."""
    monkeypatch.setattr("wakeful.agent.models.base.MAX_RETRY_AFTER_SECONDS", 1.0)
    provider.script(
        HTTPError(429, "slow down", headers={"Retry-After": retry_after}),
        Reply(text="Now I can."),
    )
    registry = Registry()
    # Without Retry-After the loop would back off 10 ms (see agent_type).
    agent_type(registry, "bot", provider.model())
    app = await agent_app(registry)
    url = await app.spawn("bot", "b1", message="Hi.")

    run = await app.wait_run(url)
    assert run["status"] == "completed"
    assert run["text"] == "Now I can."
    assert len(provider.requests) == 2
    events = await app.events(url)
    (step,) = [e["value"] for e in of_type(events, "step") if e["value"]["status"] == "completed"]
    assert 1000 <= step["duration_ms"] < 1500, step["duration_ms"]
    (retry,) = [e["value"] for e in of_type(events, "error")]
    assert retry["kind"] == "model_retry"
    assert "429" in retry["message"] and retry["run_id"] == run["id"]


async def test_a_run_that_fails_reports_its_error_to_the_handler(
    provider: Provider, agent_app
) -> None:
    provider.script(*[HTTPError(429, "rate limited", headers={"Retry-After": "0"})] * 4)
    registry = Registry()
    runs = agent_type(registry, "bot", provider.model())
    app = await agent_app(registry)
    url = await app.spawn("bot", "b1", message="Hi.")

    run = await app.wait_run(url)
    assert run["status"] == "failed" and "rate limited" in run["error"]
    assert runs.last.status == "failed"
    assert runs.last.error == run["error"]
    assert runs.last.finish_reason == "error"


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("1.5", 1.5),
        ("-3", 0.0),
        ("86400", MAX_RETRY_AFTER_SECONDS),
        ("1e308", MAX_RETRY_AFTER_SECONDS),
        ("inf", MAX_RETRY_AFTER_SECONDS),
        ("nan", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
        (None, None),
    ],
)
def test_retry_after_is_bounded(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_are_retried(provider: Provider, agent_app, status: int) -> None:
    provider.script(HTTPError(status), HTTPError(status), Reply(text="Recovered."))
    registry = Registry()
    agent_type(registry, "bot", provider.model(), model_backoff=0.05)
    app = await agent_app(registry)
    url = await app.spawn("bot", "b1", message="Hi.")

    run = await app.wait_run(url)
    assert run["status"] == "completed"
    assert run["text"] == "Recovered."
    assert len(provider.requests) == 3
    events = await app.events(url)
    retries = [e["value"] for e in of_type(events, "error")]
    assert [error["kind"] for error in retries] == ["model_retry", "model_retry"]
    (step,) = [e["value"] for e in of_type(events, "step") if e["value"]["status"] == "completed"]
    # Backoff doubles: 0.05 s, then 0.1 s.
    assert step["duration_ms"] >= 150


async def test_retries_are_bounded(provider: Provider, agent_app) -> None:
    provider.script(*[HTTPError(500, f"down {n}") for n in range(4)], Reply(text="unused"))
    registry = Registry()
    agent_type(registry, "bot", provider.model())
    app = await agent_app(registry)
    url = await app.spawn("bot", "b1", message="Hi.")

    run = await app.wait_run(url)
    assert run["status"] == "failed"
    assert len(provider.requests) == 4  # model_attempts
    assert "HTTP 500" in run["error"] and "down 3" in run["error"]
    kinds = [e["value"]["kind"] for e in of_type(await app.events(url), "error")]
    assert kinds == ["model_retry"] * 3 + ["model"]


@pytest.mark.parametrize("status", [400, 401, 404])
async def test_client_errors_fail_the_run_with_an_error_event(
    provider: Provider, agent_app, status: int
) -> None:
    provider.script(HTTPError(status, "this request is wrong"))
    registry = Registry()
    agent_type(registry, "bot", provider.model())
    app = await agent_app(registry)
    url = await app.spawn("bot", "b1", message="Hi.")

    run = await app.wait_run(url)
    assert run["status"] == "failed"
    assert run["finish_reason"] == "error"
    assert f"HTTP {status}" in run["error"] and "this request is wrong" in run["error"]
    assert len(provider.requests) == 1
    events = await app.events(url)
    (error,) = [e["value"] for e in of_type(events, "error")]
    assert error["kind"] == "model" and error["run_id"] == run["id"]
    assert error["message"] == run["error"]
    steps = [e["value"] for e in of_type(events, "step")]
    assert steps[-1]["status"] == "failed" and steps[-1]["error"] == run["error"]
    # The entity itself is fine: a later message starts a new run.
    provider.script(Reply(text="Better now."))
    await app.send(url, "Again?")
    run = await app.wait_run(url, {"completed"}, count=2)
    assert run["text"] == "Better now."


async def test_a_stream_cut_short_is_retried_and_its_text_superseded(
    provider: Provider, agent_app
) -> None:
    partial = [f"part{index} " for index in range(30)]
    provider.script(
        Reply(text=partial, chunk_delay=0.01, cut=True),
        Reply(text="The whole answer."),
    )
    registry = Registry()
    agent_type(registry, "bot", provider.model())
    app = await agent_app(registry)
    url = await app.spawn("bot", "b1", message="Hi.")

    run = await app.wait_run(url)
    assert run["status"] == "completed"
    assert run["text"] == "The whole answer."
    events = await app.events(url)
    texts = [e["value"] for e in of_type(events, "text")]
    assert [(t["status"], t["text"]) for t in texts] == [
        ("superseded", "".join(partial)),
        ("completed", "The whole answer."),
    ]
    # The retry's deltas do not overwrite the first attempt's: each attempt's deltas are
    # still on the stream and tell which attempt they belong to.
    store = await app.store(url)
    deltas = [row for _, row in store.collection("text_delta").items()]
    step_id = f"{run['id']}:0"
    by_attempt: dict[int, str] = {}
    for row in sorted(deltas, key=lambda row: row["seq"]):
        assert row["step_id"] == step_id
        by_attempt[row.get("attempt", 1)] = by_attempt.get(row.get("attempt", 1), "") + row["delta"]
    assert by_attempt == {1: "".join(partial), 2: "The whole answer."}
    # The model saw the question once, not the partial answer.
    assert provider.turns(1) == [("user", "Hi.")]
