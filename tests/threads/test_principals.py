"""Principals under the default policy: each user acts on what they own, on every route.

Alice and Bob each hold a token; the admin holds a third. Alice's thread ``a-1`` must be
out of Bob's reach through the thread API, the entity API, the streams protocol and the
subscriptions API alike (the last once let him write wakes into her thread, take over,
ack or delete its subscription, and read every thread's wakes); listings show each user
their own.
"""

from __future__ import annotations

from typing import Any

import httpx
from support.waiting import eventually

from wakeful.agent.models import TestModel
from wakeful.agent.models.test import answer
from wakeful.entities.context import Context
from wakeful.entities.wake import Wake
from wakeful.server.principals import Auth, Principal, TokenAuthenticator

from .conftest import ServeFactory
from .support import Served, error_of, wait_status
from .test_security import registry_for

TOKENS = {
    "alice-token-0123456789": Principal("alice"),
    "bob-token-0123456789": Principal("bob"),
    "admin-token-0123456789": Principal("ops", admin=True),
}


def as_user(name: str) -> dict[str, str]:
    token = next(token for token, principal in TOKENS.items() if principal.name == name)
    return {"authorization": f"Bearer {token}"}


ALICE, BOB, OPS = as_user("alice"), as_user("bob"), as_user("ops")
SUBS = "/v1/stream/__ds/subscriptions"


async def alice_thread(serve: ServeFactory) -> Served:
    served = await serve(
        registry_for(TestModel([answer("For Alice.")] * 3)), auth=Auth(TokenAuthenticator(TOKENS))
    )
    # Requests go as Alice unless they say otherwise.
    served.client.headers.update(ALICE)
    created = await served.client.post("/v1/threads", json={"id": "a-1", "prompt": "hi"})
    assert created.status_code == 201, created.text
    await wait_status(served.client, "a-1", "completed")
    return served


def refused(response: httpx.Response, what: object) -> None:
    assert response.status_code == 403, (what, response.status_code, response.text)
    if response.request.method != "HEAD":
        assert response.json()["error"]["code"] == "NOT_ALLOWED", what


async def test_another_user_cannot_reach_a_thread_by_any_route(serve: ServeFactory) -> None:
    served = await alice_thread(serve)
    client = served.client
    thread, entity, stream = "/v1/threads/a-1", "/v1/entities/thread/a-1", "thread/a-1/main"
    attempts: list[tuple[str, str, Any]] = [
        ("GET", thread, None),
        ("GET", f"{thread}/messages", None),
        ("POST", f"{thread}/messages", {"content": "hijack"}),
        ("POST", f"{thread}/stop", None),
        ("POST", f"{thread}/resume", None),
        ("DELETE", thread, None),
        ("POST", f"{thread}/tool-calls/c/result", {"result": 1}),
        ("GET", entity, None),
        ("POST", f"{entity}/messages", {"payload": "hijack"}),
        ("POST", f"{entity}/signals", {"name": "kill"}),
        ("DELETE", entity, None),
        ("GET", f"{entity}/tool-calls/c", None),
        ("POST", f"{entity}/tool-calls/c/approve", {}),
        ("GET", f"/v1/stream/{stream}?offset=-1", None),
        ("HEAD", f"/v1/stream/{stream}", None),
        ("POST", f"/v1/stream/{stream}", [{"type": "inbox"}]),
        ("DELETE", f"/v1/stream/{stream}", None),
        ("PUT", "/v1/stream/thread/a-1/extra", None),
    ]
    for method, path, body in attempts:
        refused(await client.request(method, path, json=body, headers=BOB), (method, path))
    fork = await client.put(
        "/v1/stream/copy",
        headers={**BOB, "content-type": "application/json", "stream-forked-from": stream},
    )
    refused(fork, "fork")
    # Alice still can, and nothing of Bob's landed.
    messages = (await client.get(f"{thread}/messages", headers=ALICE)).json()
    assert [m["content"] for m in messages] == ["hi", "For Alice."]
    assert (await client.get(entity, headers=ALICE)).status_code == 200


async def test_the_subscriptions_api_is_no_way_around_the_policy(serve: ServeFactory) -> None:
    served = await alice_thread(serve)
    client = served.client
    own = "e~thread~a-1"
    before = (await client.get(f"{SUBS}/{own}", headers=OPS)).json()
    pull = {"type": "pull-wake", "lease_ttl_ms": 5000}
    attempts: list[tuple[str, str, Any]] = [
        # Writing wake events into her thread's stream.
        ("PUT", f"{SUBS}/mine", {**pull, "streams": ["bob/in"], "wake_stream": "thread/a-1/main"}),
        # Following her stream, or every thread, or everything.
        ("PUT", f"{SUBS}/spy", {**pull, "streams": ["thread/a-1/main"], "wake_stream": "bob/w"}),
        ("PUT", f"{SUBS}/all", {**pull, "pattern": "thread/**", "wake_stream": "bob/w"}),
        ("PUT", f"{SUBS}/every", {**pull, "pattern": "**", "wake_stream": "bob/w"}),
        ("PUT", f"{SUBS}/sys", {**pull, "pattern": "_wakeful/*", "wake_stream": "bob/w"}),
        # The runtime's own subscription of her thread: read, extend, claim, shrink, delete.
        ("GET", f"{SUBS}/{own}", None),
        ("POST", f"{SUBS}/{own}/streams", {"streams": ["bob/in"]}),
        ("POST", f"{SUBS}/{own}/claim", {"worker": "bob"}),
        ("DELETE", f"{SUBS}/{own}/streams/thread/a-1/main", None),
        ("DELETE", f"{SUBS}/{own}", None),
        # Squatting the id of a thread not created yet.
        ("PUT", f"{SUBS}/e~thread~a-2", {**pull, "streams": ["bob/in"], "wake_stream": "bob/w"}),
    ]
    for method, path, body in attempts:
        refused(await client.request(method, path, json=body, headers=BOB), (method, path))
    # Every thread's wakes are on a system stream.
    refused(await client.get("/v1/stream/_wakeful/wakes?offset=-1", headers=BOB), "wakes")
    refused(await client.get("/v1/stream/_wakeful/types?offset=-1", headers=BOB), "types")
    after = (await client.get(f"{SUBS}/{own}", headers=OPS)).json()
    assert after == before
    # Her thread still wakes and answers.
    sent = await client.post("/v1/threads/a-1/messages", json={"content": "more"}, headers=ALICE)
    assert sent.status_code == 202, sent.text
    await wait_status(served.client, "a-1", "completed")
    messages = (await client.get("/v1/threads/a-1/messages", headers=ALICE)).json()
    assert [m["content"] for m in messages][-2:] == ["more", "For Alice."]

    # On streams of his own, Bob subscribes, claims and acks as before.
    text = {"content-type": "text/plain"}
    for path in ("bob/in", "bob/w"):
        assert (await client.put(f"/v1/stream/{path}", headers={**BOB, **text})).status_code == 201
    body = {**pull, "streams": ["bob/in"], "wake_stream": "bob/w"}
    assert (await client.put(f"{SUBS}/mine", json=body, headers=BOB)).status_code == 201
    appended = await client.post("/v1/stream/bob/in", content=b"x", headers={**BOB, **text})
    assert appended.status_code == 204
    claim = await client.post(f"{SUBS}/mine/claim", json={"worker": "w"}, headers=BOB)
    assert claim.status_code == 200, claim.text
    wake = claim.json()
    acked = await client.post(
        f"{SUBS}/mine/ack",
        headers={"authorization": f"Bearer {wake['token']}"},
        json={
            "wake_id": wake["wake_id"],
            "generation": wake["generation"],
            "acks": [{"stream": "bob/in", "offset": wake["streams"][0]["tail_offset"]}],
            "done": True,
        },
    )
    assert acked.status_code == 200, acked.text
    # Alice may follow her own thread; Bob may not see or touch her subscription.
    body = {**pull, "streams": ["thread/a-1/main"], "wake_stream": "alice/w"}
    assert (await client.put(f"{SUBS}/hers", json=body)).status_code == 201
    refused(await client.get(f"{SUBS}/hers", headers=BOB), "bob reads hers")
    refused(await client.delete(f"{SUBS}/hers", headers=BOB), "bob deletes hers")
    assert (await client.get(f"{SUBS}/hers")).status_code == 200


async def test_listings_show_each_user_their_own(serve: ServeFactory) -> None:
    served = await alice_thread(serve)
    client = served.client
    created = await client.post("/v1/threads", json={"id": "b-1"}, headers=BOB)
    assert created.status_code == 201, created.text
    note = await client.post("/v1/entities/note", json={"id": "bn"}, headers=BOB)
    assert note.status_code == 201, note.text

    async def ids(path: str, headers: dict[str, str], key: str, **params: str) -> list[str]:
        response = await client.get(path, headers=headers, params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()[key]]

    assert await ids("/v1/threads", ALICE, "threads") == ["a-1"]
    assert await ids("/v1/threads", BOB, "threads") == ["b-1"]
    assert await ids("/v1/threads", OPS, "threads") == ["a-1", "b-1"]
    assert await ids("/v1/entities", ALICE, "entities") == ["a-1"]
    assert sorted(await ids("/v1/entities", BOB, "entities")) == ["b-1", "bn"]
    assert await ids("/v1/entities", BOB, "entities", type="thread") == ["b-1"]
    assert len(await ids("/v1/entities", OPS, "entities")) == 3
    # Bob acts on his own entity; Alice cannot.
    sent = await client.post("/v1/entities/note/bn/messages", json={"payload": 1}, headers=BOB)
    assert sent.status_code == 202, sent.text
    refused(
        await client.post("/v1/entities/note/bn/messages", json={"payload": 1}, headers=ALICE),
        "alice messages bob's note",
    )


async def test_remote_types_are_the_admins(serve: ServeFactory) -> None:
    served = await serve(registry_for(), auth=Auth(TokenAuthenticator(TOKENS)))
    client = served.client
    body = {"name": "echo", "webhook": {"url": "http://127.0.0.1:9/wake"}}
    refused(await client.post("/v1/types", json=body, headers=BOB), "register")
    refused(await client.delete("/v1/types/note", headers=BOB), "remove")
    assert (await client.get("/v1/types", headers=BOB)).status_code == 200
    assert (await client.get("/v1/types/note", headers=BOB)).status_code == 200
    registered = await client.post("/v1/types", json=body, headers=OPS)
    assert registered.status_code == 201, registered.text
    error_of(await client.get("/v1/types", headers={"authorization": "Bearer nope"}), 401)


async def test_children_belong_to_their_parents_owner(serve: ServeFactory) -> None:
    registry = registry_for()

    @registry.entity("boss")
    async def boss(ctx: Context, wake: Wake) -> None:
        if ctx.first_wake:
            ctx.spawn("note", f"{ctx.address.id}-helper", wake_on_finish=False)

    served = await serve(registry, auth=Auth(TokenAuthenticator(TOKENS)))
    client = served.client
    spawned = await client.post("/v1/entities/boss", json={"id": "b"}, headers=ALICE)
    assert spawned.status_code == 201, spawned.text

    async def helper() -> httpx.Response | None:
        response = await client.get("/v1/entities/note/b-helper", headers=OPS)
        return response if response.status_code == 200 else None

    await eventually(helper, what="the child to be spawned")
    assert (await client.get("/v1/entities/note/b-helper", headers=ALICE)).status_code == 200
    refused(await client.get("/v1/entities/note/b-helper", headers=BOB), "bob reads the child")
    listed = (await client.get("/v1/entities", params={"type": "note"}, headers=ALICE)).json()
    assert [entity["id"] for entity in listed["entities"]] == ["b-helper"]
