"""A server started with ``--token``, end to end: a remote type's service and a pull-wake
worker, each in its own process or task, acknowledge wakes with the callback token they
were given (never the server's), and fetch the JWKS without any token."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from support.servers import Server
from support.waiting import eventually

from .test_remote_types import (  # noqa: F401 (importable_types: an autouse fixture)
    REGISTRY,
    WITHIN,
    importable_types,
    remote_type,
    replies,
    spawn,
)
from .webhook_service import WebhookService

TOKEN = "server-token-for-tests"
BEARER = {"authorization": f"Bearer {TOKEN}"}
SUBS = "/__ds/subscriptions"


@pytest.fixture
def server(server_factory: Callable[..., Server]) -> Server:
    return server_factory(REGISTRY, "--token", TOKEN)


@pytest.fixture
async def client(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10, headers=BEARER) as http:
        yield http


async def test_a_remote_type_answers_on_a_server_with_a_token(
    server: Server, client: httpx.AsyncClient
) -> None:
    async with WebhookService(token=TOKEN).running() as service:
        assert (await client.post("/v1/types", json=remote_type(service))).status_code == 201
        await spawn(client, "echo", id="e1")
        sent = await client.post("/v1/entities/echo/e1/messages", json={"payload": "hi"})
        assert sent.status_code == 202, sent.text

        async def answered() -> list[str]:
            return await replies(client, "echo/e1/main")

        assert await eventually(answered, within=WITHIN) == ["echo: hi"]

        # The reply lands before the service acks the wake that wrote it, and a wake
        # without the message (the entity's creation) may be recorded before that one.
        await eventually(
            lambda: service.has_run("echo/e1/main"), within=WITHIN, what="the wake to be acked"
        )
        assert not service.failures
        assert all(wake.verified for wake in service.handled)
        assert all(wake.callback_status == 200 for wake in service.handled)


async def test_the_jwks_is_public_and_callbacks_take_only_their_token(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.stream(""), timeout=10) as anonymous:
        jwks = await anonymous.get("__ds/jwks.json")
        assert jwks.status_code == 200 and jwks.json()["keys"]
        # The server's token is no callback token, and no token is none at all.
        wake = {"wake_id": "w", "generation": 1}
        for route in ("callback", "ack", "release"):
            for headers in ({}, BEARER, {"authorization": "Bearer forged"}):
                response = await anonymous.post(f"{SUBS}/x/{route}", json=wake, headers=headers)
                assert response.status_code == 401, (route, headers, response.text)
                assert response.json()["error"]["code"].startswith("TOKEN_")
        # The rest of the control API still wants the server's token.
        assert (await anonymous.get(f"{SUBS}/x")).json()["error"]["code"] == "UNAUTHORIZED"


async def test_a_pull_wake_worker_claims_acks_and_releases_with_a_token(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.stream(""), timeout=10, headers=BEARER) as http:
        text = {"content-type": "text/plain"}
        for path in ("jobs/in", "jobs/wakes"):
            assert (await http.put(path, headers=text)).status_code == 201
        spec = {"type": "pull-wake", "streams": ["jobs/in"], "wake_stream": "jobs/wakes"}
        assert (await http.put(f"{SUBS}/jobs", json=spec)).status_code == 201

        async def claim() -> dict[str, object]:
            assert (await http.post("jobs/in", content=b"job", headers=text)).status_code == 204
            claimed = await http.post(f"{SUBS}/jobs/claim", json={"worker": "w1"})
            assert claimed.status_code == 200, claimed.text
            found: dict[str, object] = claimed.json()
            return found

        def callback(wake: dict[str, object]) -> dict[str, str]:
            return {"authorization": f"Bearer {wake['token']}"}

        wake = await claim()
        body = {"wake_id": wake["wake_id"], "generation": wake["generation"]}
        beat = await http.post(f"{SUBS}/jobs/ack", json=body, headers=callback(wake))
        assert beat.status_code == 200, beat.text
        released = await http.post(f"{SUBS}/jobs/release", json=body, headers=callback(wake))
        assert released.status_code == 204, released.text

        wake = await claim()
        tail = (await http.head("jobs/in")).headers["stream-next-offset"]
        done = {
            "wake_id": wake["wake_id"],
            "generation": wake["generation"],
            "acks": [{"stream": "jobs/in", "offset": tail}],
            "done": True,
        }
        acked = await http.post(f"{SUBS}/jobs/ack", json=done, headers=callback(wake))
        assert acked.status_code == 200, acked.text
        view = (await http.get(f"{SUBS}/jobs")).json()
        assert view["streams"][0]["acked_offset"] == tail
