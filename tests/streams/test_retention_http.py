"""Trimmed streams over HTTP: ``-1`` starts where the stream now begins, and an offset
before it is ``410 Gone`` (the protocol's "before the earliest retained position") in the
one error shape, with the retained offset to skip ahead to, for catch-up and live reads."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import orjson
import pytest

from wakeful.client.errors import from_response
from wakeful.errors import OffsetGone
from wakeful.server.app import ServerSettings, create_app
from wakeful.streams.offsets import ZERO, format_offset
from wakeful.streams.storage import Storage

URL = "/v1/stream/log/trimmed"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def served(
    fresh_database: Callable[[], str],
) -> AsyncIterator[tuple[httpx.AsyncClient, Storage]]:
    app = create_app(ServerSettings(database=fresh_database(), long_poll_timeout=1.0))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://wakeful.test") as client:
            yield client, app.state.streams.storage


async def _trimmed(client: httpx.AsyncClient, storage: Storage) -> list[str]:
    """A stream of five messages trimmed to its last two; returns each message's offset."""
    assert (await client.put(URL, headers=JSON)).status_code == 201
    offsets = []
    for index in range(5):
        answer = await client.post(URL, content=orjson.dumps({"n": index}), headers=JSON)
        offsets.append(answer.headers["Stream-Next-Offset"])
    starts = [ZERO, *offsets[:-1]]
    await storage.trim("log/trimmed", keep_last=2)
    return starts


async def test_reading_from_the_beginning_starts_at_the_retained_messages(
    served: tuple[httpx.AsyncClient, Storage],
) -> None:
    client, storage = served
    await _trimmed(client, storage)
    for query in ("", "?offset=-1"):
        answer = await client.get(URL + query)
        assert answer.status_code == 200
        assert answer.json() == [{"n": 3}, {"n": 4}]


@pytest.mark.parametrize("live", [None, "long-poll", "sse"])
async def test_an_offset_before_the_retained_position_is_gone(
    served: tuple[httpx.AsyncClient, Storage], live: str | None
) -> None:
    client, storage = served
    starts = await _trimmed(client, storage)
    params = {"offset": starts[1]} | ({"live": live} if live else {})
    answer = await client.get(URL, params=params)
    assert answer.status_code == 410
    error = answer.json()["error"]
    assert error["code"] == "OFFSET_GONE"
    assert error["retained_from"] == starts[3]
    assert answer.headers["Stream-Next-Offset"] == starts[3]
    # The client raises the typed error, with where to skip ahead to.
    raised = from_response(answer)
    assert isinstance(raised, OffsetGone) and raised.status == 410
    assert raised.retained_from is not None and format_offset(raised.retained_from) == starts[3]
    # Skipping ahead to it reads the rest.
    onward = await client.get(URL, params={"offset": error["retained_from"]})
    assert onward.status_code == 200 and onward.json() == [{"n": 3}, {"n": 4}]
