"""Reads larger than one response chunk, and concurrent appends, through the HTTP layer.

These run the app in-process (``asgi_client``): what they check is the streams layer's
answers, not the network, so they need no separate server process.
"""

from __future__ import annotations

import asyncio
import json
import random

import httpx

from wakeful.streams.storage.base import DEFAULT_CHUNK_BYTES

URL = "/v1/stream/"


async def read_chunks(client: httpx.AsyncClient, path: str) -> list[httpx.Response]:
    responses = []
    offset = "-1"
    for _ in range(1000):
        response = await client.get(URL + path, params={"offset": offset})
        assert response.status_code == 200, response.text
        responses.append(response)
        offset = response.headers["Stream-Next-Offset"]
        if response.headers.get("Stream-Up-To-Date") == "true":
            return responses
    raise AssertionError("never up to date")


async def test_binary_larger_than_a_chunk_reads_back_exactly(
    asgi_client: httpx.AsyncClient,
) -> None:
    rng = random.Random(7)
    parts = [rng.randbytes(DEFAULT_CHUNK_BYTES // 2 + 123) for _ in range(5)]
    headers = {"Content-Type": "application/octet-stream"}
    assert (await asgi_client.put(URL + "big/bytes", headers=headers)).status_code == 201
    for part in parts:
        response = await asgi_client.post(URL + "big/bytes", headers=headers, content=part)
        assert response.status_code == 204
    responses = await read_chunks(asgi_client, "big/bytes")
    assert len(responses) > 1
    assert b"".join(response.content for response in responses) == b"".join(parts)
    # Only the last chunk claims to be up to date; every chunk has its own ETag.
    assert all("Stream-Up-To-Date" not in response.headers for response in responses[:-1])
    etags = [response.headers["ETag"] for response in responses]
    assert len(set(etags)) == len(etags)


async def test_json_larger_than_a_chunk_keeps_message_boundaries(
    asgi_client: httpx.AsyncClient,
) -> None:
    headers = {"Content-Type": "application/json"}
    assert (await asgi_client.put(URL + "big/json", headers=headers)).status_code == 201
    items = [{"i": i, "pad": "x" * 900} for i in range(3000)]
    for start in range(0, len(items), 500):
        batch = json.dumps(items[start : start + 500])
        response = await asgi_client.post(URL + "big/json", headers=headers, content=batch)
        assert response.status_code == 204
    responses = await read_chunks(asgi_client, "big/json")
    assert len(responses) > 1
    read: list[object] = []
    for response in responses:
        chunk = response.json()  # every chunk is a complete JSON array on its own
        assert isinstance(chunk, list) and chunk
        read.extend(chunk)
    assert read == items


async def test_conditional_get_answers_304(asgi_client: httpx.AsyncClient) -> None:
    headers = {"Content-Type": "text/plain"}
    await asgi_client.put(URL + "etag", headers=headers, content=b"v1")
    first = await asgi_client.get(URL + "etag", params={"offset": "-1"})
    etag = first.headers["ETag"]
    again = await asgi_client.get(
        URL + "etag", params={"offset": "-1"}, headers={"If-None-Match": etag}
    )
    assert again.status_code == 304 and again.content == b""
    await asgi_client.post(URL + "etag", headers=headers, content=b"v2")
    changed = await asgi_client.get(
        URL + "etag", params={"offset": "-1"}, headers={"If-None-Match": etag}
    )
    assert changed.status_code == 200 and changed.content == b"v1v2"
    assert changed.headers["ETag"] != etag


async def test_concurrent_appends_each_land_once(asgi_client: httpx.AsyncClient) -> None:
    headers = {"Content-Type": "application/json"}
    await asgi_client.put(URL + "concurrent", headers=headers)

    async def append(i: int) -> str:
        response = await asgi_client.post(URL + "concurrent", headers=headers, content=f"[{i}]")
        assert response.status_code == 204
        return response.headers["Stream-Next-Offset"]

    offsets = await asyncio.gather(*(append(i) for i in range(200)))
    assert len(set(offsets)) == 200  # every append got its own position
    read = (await asgi_client.get(URL + "concurrent")).json()
    assert sorted(read) == list(range(200))
    # The order of the stream is the order of the acknowledged offsets.
    by_offset = [i for _, i in sorted(zip(offsets, range(200), strict=True))]
    assert read == by_offset
