"""A typed StreamDB (``@durable-streams/state`` over TanStack DB, pinned in ``clients/``)
built from ``GET /v1/types/thread/schema``, over a thread's stream: the rows of a finished
run load, the next run's rows materialize live, and every row fits its schema.

Skipped (or, under ``CI=true``, failed) as ``test_chat_node`` is without Node."""

from __future__ import annotations

from wakeful.agent.models import TestModel
from wakeful.agent.models.test import answer, call

from .conftest import ServeFactory
from .support import run_script, wait_status
from .test_agui import registry_for


async def test_a_stream_db_built_from_the_served_schema(serve: ServeFactory) -> None:
    model = TestModel(
        [
            answer("Hello."),
            call("remember", {"text": "likes blue"}),
            answer("Noted: blue."),
        ]
    )
    served = await serve(registry_for(model))
    created = await served.client.post("/v1/threads", json={"id": "db", "prompt": "Hi"})
    assert created.status_code == 201, created.text
    await wait_status(served.client, "db", "completed")

    found = await run_script("streamdb.mjs", served.url, "db", "Remember blue.")

    # The built-in collections and the thread's own, by the names the schema gave them.
    assert {"runs", "steps", "toolCalls", "textDeltas", "inbox", "notes"} <= set(
        found["collections"]
    )
    # The first run was there when the StreamDB loaded; the second arrived live.
    assert found["before"]["runs"] == 1 and found["before"]["notes"] == 0
    assert found["after"]["runs"] == 2 and found["after"]["inbox"] == 2
    assert found["notes"] == [{"id": "note/1", "text": "likes blue"}]
    assert found["answer"] == "Noted: blue."
    seen = {(change["collection"], change["key"]) for change in found["live"]}
    assert ("notes", "note/1") in seen
    assert any(collection == "toolCalls" for collection, _ in seen)
    # Every row the StreamDB holds fits the schema its collection was built with.
    assert found["refused"] == []
