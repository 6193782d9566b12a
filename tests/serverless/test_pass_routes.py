"""The pass routes refuse what the entity's own pass could not do, with a clear 4xx.

Against a real ``wakeful serve --no-workers`` (nothing else claims the wakes), a test
claims an entity's wake through the pull-wake API and speaks for that pass: its token
reads and commits only for that entity, its stream only through the runtime's producer
at the claim's generation, and a token of an older claim commits nothing.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest
from support.servers import Server
from support.workers import TESTS

from wakeful.entities._runtime.flushes import PRODUCER
from wakeful.entities.events import inbox, manifest

REGISTRY = "entities.spread_types:registry"
SUBSCRIPTION = "e~spread~a"
PASS = "/v1/entities/spread/a/pass"


@pytest.fixture
def server(fresh_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
    )
    running = Server(fresh_database(), REGISTRY, "--no-workers").start()
    try:
        yield running
    finally:
        running.stop()


def _claim(client: httpx.Client) -> dict[str, Any]:
    response = client.post(
        f"/v1/stream/__ds/subscriptions/{SUBSCRIPTION}/claim", json={"worker": "test"}
    )
    assert response.status_code == 200, response.text
    claim: dict[str, Any] = response.json()
    return claim


def _append(path: str, event: dict[str, Any], epoch: int | None, seq: int = 0) -> dict[str, Any]:
    producer = None if epoch is None else {"id": PRODUCER, "epoch": epoch, "seq": seq}
    return {"op": "append", "path": path, "messages": [event], "producer": producer}


def _commit(client: httpx.Client, token: str, *operations: Any) -> httpx.Response:
    return client.post(
        f"{PASS}/commit",
        content=orjson.dumps({"operations": list(operations)}),
        headers={"Authorization": f"Bearer {token}"},
    )


def test_a_pass_token_commits_only_what_its_entity_may(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        spawned = client.post("/v1/entities/spread", json={"id": "a", "message": "m0"})
        assert spawned.status_code == 201, spawned.text
        assert client.post("/v1/entities/spread", json={"id": "b"}).status_code == 201
        claim = _claim(client)
        token, generation = claim["token"], claim["generation"]
        own = "spread/a/main"
        mark = manifest("test", {"by": "the pass"})

        assert client.post(f"{PASS}/commit", json={"operations": []}).status_code == 401
        refusals = [
            (_append(own, mark, None), 403),  # not through the producer
            (_append(own, mark, generation + 1), 403),  # not the claim's epoch
            (_append("spread/b/main", mark, None), 403),  # another entity's stream
            (_append("spread/b/main", inbox("hi", "/spread/x"), None), 403),  # as another
            ({"op": "labels", "path": "spread/b/main", "labels": {"x": "y"}}, 403),
            ({"op": "delete_subscription", "id": "e~spread~b"}, 403),
            ({"op": "drop_table"}, 400),
            ({"op": "append", "path": own}, 400),
        ]
        for operation, status in refusals:
            response = _commit(client, token, operation)
            assert response.status_code == status, (operation, response.text)
            assert "error" in response.json()

        # What the pass may do lands: its event through its producer, a message as itself.
        sent = inbox("hello", "/spread/a")
        response = _commit(
            client,
            token,
            _append(own, mark, generation),
            {**_append("spread/b/main", sent, None), "optional": True},
        )
        assert response.status_code == 200, response.text
        tail = response.json()["results"][0]["tail"]
        head = client.get(f"{PASS}/streams/{own}", headers={"Authorization": f"Bearer {token}"})
        assert head.json()["tail"] == tail
        read = client.get(
            f"{PASS}/messages/{own}",
            params={"position": 0},
            headers={"Authorization": f"Bearer {token}"},
        )
        events = [orjson.loads(base64.b64decode(m)) for m in read.json()["messages"]]
        assert events[-1]["key"] == "test"
        other = client.get(
            f"{PASS}/streams/spread/b/main", headers={"Authorization": f"Bearer {token}"}
        )
        assert other.status_code == 403, other.text

        # Released, then claimed again: the older token's pass can write nothing more.
        released = client.post(
            f"/v1/stream/__ds/subscriptions/{SUBSCRIPTION}/release",
            json={"wake_id": claim["wake_id"], "generation": generation},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert released.status_code == 204, released.text
        client.post("/v1/entities/spread/a/messages", json={"payload": "m1"})
        newer = _claim(client)
        assert newer["generation"] > generation
        stale = _commit(client, token, _append(own, mark, generation, seq=1))
        assert stale.status_code in (401, 403, 409), stale.text
        assert stale.json()["error"]["code"] in ("FENCED", "STALE_EPOCH", "TOKEN_INVALID")
