"""The streams mount is dispatched in front of the framework: stream requests skip
FastAPI's middleware and routing, and keep the layers that apply to them (header limits,
principals, the stream guard, the one error shape)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send
from support.raw_http import assert_rejected

from wakeful import Settings, create_app
from wakeful.server.dispatch import WakefulApp
from wakeful.server.limits import RequestLimits
from wakeful.server.principals import single_token


class Seen:
    """A framework middleware that notes every path it is handed."""

    paths: list[str] = []

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            Seen.paths.append(scope["path"])
        await self.app(scope, receive, send)


async def test_stream_requests_skip_the_framework(fresh_database: Callable[[], str]) -> None:
    app = create_app(Settings(database=fresh_database(), token="secret"))
    app.add_middleware(Seen)
    Seen.paths = []
    bearer = {"Authorization": "Bearer secret"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://wakeful.test") as client:
            created = await client.put(
                "/v1/stream/a", headers={**bearer, "Content-Type": "text/plain"}
            )
            assert created.status_code == 201, created.text
            appended = await client.post(
                "/v1/stream/a", content=b"x", headers={**bearer, "Content-Type": "text/plain"}
            )
            assert appended.status_code == 204
            assert (
                await client.get("/v1/stream/a", params={"offset": "-1"}, headers=bearer)
            ).text == "x"
            # The layers that apply still do: the principal, header limits, the error shape.
            assert_rejected(await client.get("/v1/stream/a"), status=401)
            many = [(f"x-h{i}", "v") for i in range(101)]
            assert_rejected(await client.get("/v1/stream/a", headers=many), status=431)
            assert_rejected(await client.get("/v1/stream/a?offset=bad", headers=bearer), status=400)
            assert (await client.get("/v1/types", headers=bearer)).status_code == 200
    assert Seen.paths == ["/v1/types"]


async def test_a_path_no_stream_route_takes_gets_the_error_shape() -> None:
    app = WakefulApp()
    app.dispatch_streams(
        [], limits=RequestLimits(), authenticator=single_token("t").authenticator, access=None
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://wakeful.test") as client:
        reply = await client.get("/v1/stream/x", headers={"Authorization": "Bearer t"})
        assert_rejected(reply, status=404, mentions="no route")
        assert (
            await client.head("/v1/stream/x", headers={"Authorization": "Bearer t"})
        ).content == b""
