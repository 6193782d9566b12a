"""Limits on what a request may carry, wherever it enters: JSON API bodies (nesting,
integers, encoding), request heads (431 whatever HTTP parser runs), and every refusal in
the one error shape ``{"error": {...}}``."""

from __future__ import annotations

import json
import socket
import time

import httpx
import orjson
import pytest
from support.raw_http import assert_rejected

from wakeful import Settings, create_app
from wakeful.streams import offsets

# Every JSON body the API takes, with where a hostile value goes in it.
JSON_BODIES = [
    ("/v1/threads", lambda value: {"metadata": {"x": value}}),
    ("/v1/entities/worker", lambda value: {"args": value}),
    ("/v1/entities/worker", lambda value: {"message": value}),
    ("/v1/entities/worker/w-1/messages", lambda value: {"payload": value}),
    ("/v1/entities/worker/w-1/signals", lambda value: {"name": "custom", "payload": value}),
    (
        "/v1/types",
        lambda value: {"name": "x", "webhook": {"url": "http://h"}, "args_schema": value},
    ),
    ("/v1/entities/worker/w-1/tool-calls/c-1/result", lambda value: {"result": value}),
]


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


@pytest.mark.parametrize(("path", "place"), JSON_BODIES)
@pytest.mark.parametrize(
    "number", [2**64, -(2**63) - 1, 10**100], ids=["2^64", "-2^63-1", "googol"]
)
async def test_integers_beyond_64_bits_are_refused(
    asgi_client: httpx.AsyncClient, path: str, place: object, number: int
) -> None:
    body = orjson.dumps(place(0)).replace(b"0", str(number).encode(), 1)  # type: ignore[operator]
    reply = await asgi_client.post(path, content=body, headers={"Content-Type": "application/json"})
    error = assert_rejected(reply, status=400, mentions="out of range")
    assert error["code"] == "NUMBER_OUT_OF_RANGE"


@pytest.mark.parametrize(("path", "place"), JSON_BODIES)
@pytest.mark.parametrize("depth", [129, 300, 5000])
async def test_json_nested_beyond_the_limit_is_refused(
    asgi_client: httpx.AsyncClient, path: str, place: object, depth: int
) -> None:
    body = orjson.dumps(place(0)).replace(b"0", nested(depth), 1)  # type: ignore[operator]
    reply = await asgi_client.post(path, content=body, headers={"Content-Type": "application/json"})
    error = assert_rejected(reply, status=400, mentions="JSON")
    assert error["code"] == "JSON_TOO_DEEP"


@pytest.mark.parametrize(
    "body",
    [b'{"metadata": {"x": NaN}}', b'{"metadata": {"x": 1e999}}', b'{"metadata": "\xff\xfe"}'],
    ids=["NaN", "1e999", "latin-1"],
)
async def test_bodies_that_are_not_json(asgi_client: httpx.AsyncClient, body: bytes) -> None:
    for content_type in ("application/json", None):
        headers = {"Content-Type": content_type} if content_type else {}
        reply = await asgi_client.post("/v1/threads", content=body, headers=headers)
        assert_rejected(reply, status=400)


async def test_large_integers_within_64_bits_round_trip(asgi_client: httpx.AsyncClient) -> None:
    schema = {"type": "integer", "maximum": 2**64 - 1, "minimum": -(2**63)}
    spec = {"name": "big", "webhook": {"url": "http://127.0.0.1:9/hook"}, "args_schema": schema}
    created = await asgi_client.post("/v1/types", json=spec)
    assert created.status_code == 201, created.text
    described = await asgi_client.get("/v1/types/big")
    assert described.json()["args_schema"] == schema


async def test_refusals_quote_big_input_briefly(asgi_client: httpx.AsyncClient) -> None:
    """Validators' messages quote the input they refuse; the refusal stays short."""
    long = "x" * 5000
    hook = {"url": "http://127.0.0.1:9/hook"}
    spec = {"name": "brief", "webhook": hook, "args_schema": {"type": "integer"}}
    assert (await asgi_client.post("/v1/types", json=spec)).status_code == 201
    refusals = [
        ("/v1/entities/brief", {"args": long}, "INVALID_ARGUMENTS"),
        ("/v1/types", {**spec, "name": "other", "args_schema": {"type": long}}, "INVALID_SCHEMA"),
        ("/v1/types", {**spec, **{f"{i}{long}": 1 for i in range(5)}}, "INVALID_REQUEST"),
    ]
    for path, body, code in refusals:
        error = assert_rejected(await asgi_client.post(path, json=body), status=400)
        assert error["code"] == code, error


async def test_depth_limit_is_configurable(fresh_database: object) -> None:
    assert callable(fresh_database)
    app = create_app(Settings(database=fresh_database(), max_json_depth=4))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://wakeful.test") as client:
            spec = {"name": "deep", "webhook": {"url": "http://127.0.0.1:9/hook"}}
            ok = {**spec, "args_schema": {"a": {"b": 1}}}
            assert (await client.post("/v1/types", json=ok)).status_code == 201
            deep = {**spec, "args_schema": {"a": {"b": {"c": {"d": 1}}}}}
            assert_rejected(await client.post("/v1/types", json=deep), status=400, mentions="4")
            stream = "/v1/stream/deep-json"
            json_type = {"Content-Type": "application/json"}
            assert (await client.put(stream, headers=json_type)).status_code == 201
            refused = await client.post(stream, content=b"[[[[[1]]]]]", headers=json_type)
            assert_rejected(refused, status=400, mentions="deeper")
    with pytest.raises(ValueError, match="254"):
        create_app(Settings(database=fresh_database(), max_json_depth=255))


# -- subscription control bodies ------------------------------------------------------

SUBSCRIPTIONS = "/v1/stream/__ds/subscriptions"
JSON_TYPE = {"Content-Type": "application/json"}


async def test_subscription_control_bodies_take_the_same_json_limits(
    fresh_database: object,
) -> None:
    """Subscription bodies (create, add streams, claim, ack, callback, release) enter
    through the one checked parser: the configured depth, 64-bit integers, one error."""
    assert callable(fresh_database)
    app = create_app(Settings(database=fresh_database(), max_json_depth=4))
    deep = {"x": {"a": {"b": {"c": [1]}}}}  # five levels with the body itself
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://wakeful.test") as client:
            for path in ("jobs", "wakes"):
                created = await client.put(f"/v1/stream/{path}", headers=JSON_TYPE)
                assert created.status_code == 201
            spec = {"type": "pull-wake", "streams": ["jobs"], "wake_stream": "wakes"}
            put = await client.put(f"{SUBSCRIPTIONS}/s", json=spec)
            assert put.status_code == 201, put.text
            await client.post("/v1/stream/jobs", headers=JSON_TYPE, content=b"[1]")
            claimed = await client.post(f"{SUBSCRIPTIONS}/s/claim", json={"worker": "w"})
            assert claimed.status_code == 200, claimed.text
            claim = claimed.json()
            auth = {"Authorization": f"Bearer {claim['token']}"}
            wake = {"wake_id": claim["wake_id"], "generation": claim["generation"]}

            requests: list[tuple[str, str, dict[str, object], dict[str, str]]] = [
                ("PUT", f"{SUBSCRIPTIONS}/t", spec, {}),
                ("POST", f"{SUBSCRIPTIONS}/s/streams", {"streams": ["jobs"]}, {}),
                ("POST", f"{SUBSCRIPTIONS}/s/claim", {"worker": "w"}, {}),
                ("POST", f"{SUBSCRIPTIONS}/s/ack", wake, auth),
                ("POST", f"{SUBSCRIPTIONS}/s/callback", wake, auth),
                ("POST", f"{SUBSCRIPTIONS}/s/release", wake, auth),
            ]
            for method, path, body, headers in requests:
                refusals = [
                    (json.dumps({**body, **deep}), "JSON_TOO_DEEP", "4 levels"),
                    (json.dumps({**body, "n": 2**64}), "NUMBER_OUT_OF_RANGE", "out of range"),
                    (b'{"worker": NaN}', "INVALID_JSON", "JSON"),
                    (b'{"a": "\\ud800"}', "INVALID_JSON", "JSON"),
                    (b'{"a": "\xff"}', "INVALID_JSON", "JSON"),
                ]
                for content, code, mentions in refusals:
                    reply = await client.request(
                        method, path, content=content, headers={**JSON_TYPE, **headers}
                    )
                    error = assert_rejected(reply, status=400, mentions=mentions)
                    assert error["code"] == code, (path, content, error)
            # A refusal quotes what it refuses, cut short.
            unlinked = {
                **wake,
                "acks": [{"stream": "x" * 1000, "offset": offsets.format_offset(0)}],
            }
            reply = await client.post(f"{SUBSCRIPTIONS}/s/ack", json=unlinked, headers=auth)
            assert_rejected(reply, status=404, mentions="not linked")
            long_key = {**spec, "x" * 5000: 1}
            reply = await client.put(f"{SUBSCRIPTIONS}/t", json=long_key)
            assert_rejected(reply, status=400, mentions="invalid subscription")
            for url in ("https://" + "a" * 900 + ".local/", "https://" + "a" * 3000 + "/"):
                hook = {"type": "webhook", "streams": ["jobs"], "webhook": {"url": url}}
                reply = await client.put(f"{SUBSCRIPTIONS}/t", json=hook)
                assert_rejected(reply, status=400, mentions="webhook URL rejected")
            # None of it took: the claim still holds, and its ack at the limit passes.
            at_limit = {**wake, "x": {"a": {"b": [1]}}}
            acked = await client.post(f"{SUBSCRIPTIONS}/s/ack", json=at_limit, headers=auth)
            assert acked.status_code == 200, acked.text
            assert (await client.get(f"{SUBSCRIPTIONS}/t")).status_code == 404


# -- the one error shape ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/no-such-route", 404),
        ("DELETE", "/v1/types", 405),
        ("PATCH", "/healthz", 405),
    ],
)
async def test_routing_refusals_have_the_error_shape(
    asgi_client: httpx.AsyncClient, method: str, path: str, status: int
) -> None:
    assert_rejected(await asgi_client.request(method, path), status=status)


# -- request heads ----------------------------------------------------------------------


async def test_too_many_headers_in_process(asgi_client: httpx.AsyncClient) -> None:
    """The ASGI-level check, which holds whatever server runs the app."""
    headers = [(f"x-h{i}", "v") for i in range(101)]
    for path in ("/healthz", "/v1/types", "/v1/stream/x"):
        reply = await asgi_client.get(path, headers=headers)
        assert_rejected(reply, status=431, mentions="headers")
    big = {"x-big": "v" * (64 << 10)}
    assert_rejected(await asgi_client.get("/v1/types", headers=big), status=431)


@pytest.mark.parametrize("parser", ["auto", "h11"])
def test_an_endless_header_is_cut_off(server_factory: object, parser: str) -> None:
    """A head that never ends is answered (431) long before it would fill memory."""
    assert callable(server_factory)
    server = server_factory("--http", parser)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /v1/stream/x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: ")
        sent = 0
        answer = b""
        deadline = time.monotonic() + 10
        while b"\r\n\r\n" not in answer and time.monotonic() < deadline:
            if sent < (32 << 20):
                sock.sendall(b"x" * (64 << 10))
                sent += 64 << 10
            sock.settimeout(0.01 if sent < (32 << 20) else 5)
            try:
                answer += sock.recv(65536)
            except TimeoutError:
                continue
        assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
        assert sent < (4 << 20), sent  # refused within a few reads of the limit
        body = answer.split(b"\r\n\r\n", 1)[1] or sock.recv(65536)
        assert orjson.loads(body)["error"]["code"] == "HEADERS_TOO_LARGE"
    # The server is still fine.
    assert httpx.get(f"{server.url}/healthz").status_code == 200


# -- aborted long-polls -----------------------------------------------------------------


def test_an_aborted_long_poll_is_released_at_once(server_factory: object) -> None:
    """The long-poll's client went away: the server forgets it now, not when data or the
    timeout comes, so shutting down does not wait for it."""
    assert callable(server_factory)
    server = server_factory("--long-poll-timeout", "30")
    assert httpx.put(server.stream("idle"), headers={"Content-Type": "text/plain"}).is_success
    tail = httpx.head(server.stream("idle")).headers["Stream-Next-Offset"]
    target = f"/v1/stream/idle?offset={tail}&live=long-poll"
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        time.sleep(0.5)  # the read is waiting now
    time.sleep(0.2)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 5, server.output()[-2000:]
