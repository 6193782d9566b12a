"""Forking a thread over HTTP: a new thread with the conversation up to a completed run,
answered from there on its own ("edit and retry from here")."""

from __future__ import annotations

import itertools

from support.waiting import eventually

from wakeful.agent.models import Response, TestModel
from wakeful.agent.models.base import ModelRequest
from wakeful.entities.definition import Registry
from wakeful.threads import ThreadConfig, define_thread

from .conftest import ServeFactory
from .support import error_of, events, messages, run_statuses, wait_status


async def test_a_forked_thread_continues_from_the_run_it_forks_at(serve: ServeFactory) -> None:
    def respond(request: ModelRequest) -> Response:
        said = [m.content for m in request.messages if m.role == "user"]
        return Response(text=f"you said {' and '.join(said)}")

    model = TestModel(itertools.repeat(respond))
    registry = Registry()
    define_thread(registry, config=ThreadConfig(model=model))
    served = await serve(registry)
    client = served.client
    assert (await client.post("/v1/threads", json={"id": "t", "prompt": "red"})).status_code == 201
    await wait_status(client, "t", "completed")
    (first_run,) = run_statuses(await events(client, "thread/t/main"))
    assert (
        await client.post("/v1/threads/t/messages", json={"content": "blue"})
    ).status_code == 202

    async def two_answers() -> bool:
        found = await messages(client, "t")
        return sum(m["role"] == "assistant" and m["status"] == "complete" for m in found) == 2

    await eventually(two_answers, what="the second answer")
    forked = await client.post("/v1/threads/t/fork", json={"id": "f", "at": first_run})
    assert forked.status_code == 201, forked.text
    assert forked.json()["id"] == "f" and forked.headers["location"] == "/v1/threads/f"
    before = [(m["role"], m["content"]) for m in await messages(client, "f")]
    assert before == [("user", "red"), ("assistant", "you said red")]
    sent = await client.post("/v1/threads/f/messages", json={"content": "green"})
    assert sent.status_code == 202

    async def retried() -> bool:
        found = await messages(client, "f")
        return any(m["content"] == "you said red and green" for m in found)

    await eventually(retried, what="the fork's own answer")
    original = [m["content"] for m in await messages(client, "t")]
    assert "you said red and blue" in original and "green" not in original
    error_of(await client.post("/v1/threads/nope/fork", json={}), 404, "UNKNOWN_THREAD")
