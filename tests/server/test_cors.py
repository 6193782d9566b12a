"""Browsers on another origin: preflights answered for the JSON API and AG-UI, origins
configurable, and the stream routes' own CORS kept as it was."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from wakeful import Settings, create_app

APP_ORIGIN = "https://app.example"


def preflight(method: str = "POST", origin: str = APP_ORIGIN) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type",
    }


@pytest.fixture
async def restricted(fresh_database: Callable[[], str]) -> AsyncIterator[httpx.AsyncClient]:
    """A server that allows one origin only, and wants a token."""
    settings = Settings(database=fresh_database(), cors_origins=(APP_ORIGIN,), token="t" * 20)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://wakeful.test") as client:
            yield client


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/threads/t-1/agui"),
        ("POST", "/v1/threads"),
        ("GET", "/v1/entities"),
        ("DELETE", "/v1/entities/worker/w-1"),
        ("POST", "/v1/types"),
    ],
)
async def test_preflights_on_the_json_api_are_answered(
    asgi_client: httpx.AsyncClient, method: str, path: str
) -> None:
    reply = await asgi_client.options(path, headers=preflight(method))
    assert reply.status_code == 200, reply.text
    assert reply.headers["access-control-allow-origin"] == "*"
    assert method in reply.headers["access-control-allow-methods"]
    allowed = reply.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed


async def test_simple_requests_carry_cors_headers(asgi_client: httpx.AsyncClient) -> None:
    reply = await asgi_client.get("/v1/types", headers={"Origin": APP_ORIGIN})
    assert reply.status_code == 200
    assert reply.headers["access-control-allow-origin"] == "*"


async def test_configured_origins(restricted: httpx.AsyncClient) -> None:
    allowed = await restricted.options("/v1/threads/t-1/agui", headers=preflight())
    assert allowed.status_code == 200  # without a token: a preflight carries none
    assert allowed.headers["access-control-allow-origin"] == APP_ORIGIN
    other = await restricted.options(
        "/v1/threads/t-1/agui", headers=preflight(origin="https://evil.example")
    )
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers
    # A refusal for lack of a token still tells the allowed page what happened.
    refused = await restricted.get("/v1/types", headers={"Origin": APP_ORIGIN})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] in (APP_ORIGIN, "*")


async def test_stream_routes_keep_their_own_cors(restricted: httpx.AsyncClient) -> None:
    reply = await restricted.options("/v1/stream/some/stream", headers=preflight("PUT"))
    assert reply.status_code == 204
    assert reply.headers["access-control-allow-origin"] == "*"
    assert "Stream-TTL" in reply.headers["access-control-allow-headers"]
