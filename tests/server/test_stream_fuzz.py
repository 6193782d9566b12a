"""Fuzzing the stream routes, which the OpenAPI document does not describe: random
methods, paths, protocol headers (offsets, producers, forks, expiry, content types),
query parameters (``offset``, ``live``, ``cursor``) and bodies, sent in short sequences
over a few shared streams so that creates, appends, forks and reads meet each other.

Against a real server: no answer is a 5xx, every refusal has the one error shape with a
message of bounded size, and the server logs no unhandled exception. Bounded and
derandomized: a few hundred requests, the same ones on every run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.fuzzing import bounded
from support.servers import Server

from wakeful.streams import offsets

MAX_BODY = 4096
NAMES = ["a", "b", "dir/c", "_wakeful/x", "__ds/subscriptions/s"]

# Header values as a client can send them: visible ASCII and Latin-1, inner spaces.
_VISIBLE = st.characters(min_codepoint=0x21, max_codepoint=0xFF, exclude_characters="\x7f")
garbage = st.text(_VISIBLE | st.just(" "), max_size=40).map(str.strip)
huge = st.integers(min_value=10, max_value=5000).map(lambda size: "9" * size)
numbers = st.integers(min_value=-3, max_value=2**64).map(str)
offset_values = st.one_of(
    st.sampled_from(["-1", "now", offsets.format_offset(0), offsets.format_offset(10)]),
    st.integers(min_value=0, max_value=2**70).map(lambda n: offsets.format_offset(n % 2**64)),
    garbage,
    huge,
)
content_types = st.one_of(
    st.sampled_from(
        [
            "application/json",
            "Application/JSON; charset=utf-8",
            "text/plain",
            "application/octet-stream",
            "text/",
            "/json",
            "a b/c",
        ]
    ),
    garbage,
    st.integers(min_value=200, max_value=2000).map(lambda size: "text/" + "x" * size),
)
expiry = st.one_of(
    st.sampled_from(
        [
            "9999-12-31T23:59:59Z",
            "9999-12-31T23:59:59-14:00",
            "2000-01-01T00:00:00Z",
            "2100-01-01T00:00:00",
            "0001-01-01T00:00:00+14:00",
        ]
    ),
    garbage,
)
HEADERS: dict[str, st.SearchStrategy[str]] = {
    "Content-Type": content_types,
    "Stream-TTL": st.one_of(numbers, garbage, huge),
    "Stream-Expires-At": expiry,
    "Stream-Seq": st.one_of(garbage, huge),
    "Stream-Closed": st.sampled_from(["true", "TRUE", "false", "1", ""]),
    "Stream-Forked-From": st.one_of(
        st.sampled_from([f"/v1/stream/{name}" for name in NAMES]), st.sampled_from(NAMES), garbage
    ),
    "Stream-Fork-Offset": offset_values,
    "Stream-Fork-Sub-Offset": st.one_of(numbers, garbage, huge),
    "Producer-Id": st.one_of(st.sampled_from(["p", "q"]), garbage, huge),
    "Producer-Epoch": st.one_of(numbers, garbage, huge),
    "Producer-Seq": st.one_of(numbers, garbage, huge),
    "If-None-Match": garbage,
    "Authorization": garbage,
    "Access-Control-Request-Headers": garbage,
    "X-Anything": garbage,
}
QUERY: dict[str, st.SearchStrategy[str]] = {
    "offset": offset_values,
    "live": st.one_of(st.sampled_from(["long-poll", "sse", "true", ""]), garbage),
    "cursor": st.one_of(numbers, garbage, huge),
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children)
    ),
    max_leaves=8,
)
bodies = st.one_of(
    st.just(b""),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=64),
    st.integers(min_value=100, max_value=400).map(lambda depth: b"[" * depth + b"]" * depth),
    st.sampled_from([b"[]", b'"\\ud800"', b"[1e999]", b"NaN", b"\xff", b"x" * (MAX_BODY + 1)]),
)
paths = st.one_of(
    st.sampled_from(NAMES).map(lambda name: quote(name, safe="/")),
    st.text(max_size=12).map(lambda name: quote(name, safe="")),
    st.sampled_from(["", "..%2Fx", "a/../b", "%00", "a//b", "__ds/jwks.json", "__ds/nope"]),
)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    body: bytes


# What a well-behaved client sends.
WELL_FORMED: dict[str, st.SearchStrategy[str]] = {
    "Content-Type": st.sampled_from(["application/json", "text/plain"]),
    "Stream-TTL": st.sampled_from(["1", "3600"]),
    "Stream-Seq": st.sampled_from(["001", "002", "010"]),
    "Stream-Forked-From": st.sampled_from([f"/v1/stream/{name}" for name in NAMES[:3]]),
    "Stream-Fork-Offset": st.sampled_from(["-1", "now", offsets.format_offset(0)]),
    "Producer-Id": st.just("p"),
    "Producer-Epoch": st.sampled_from(["0", "1"]),
    "Producer-Seq": st.sampled_from(["0", "1", "2"]),
}


WELL_FORMED_QUERY: dict[str, st.SearchStrategy[str]] = {
    "offset": st.sampled_from(["-1", "now", offsets.format_offset(0)]),
    "live": st.sampled_from(["long-poll", "sse"]),
    "cursor": st.sampled_from(["1", "99999999"]),
}


@st.composite
def requests(draw: Callable[[st.SearchStrategy[Any]], Any]) -> Request:
    """Half of them well formed, so that sequences build up streams to act on; the
    other half with any header, query parameter and body."""
    hostile = draw(st.booleans())
    header_kinds = HEADERS if hostile else WELL_FORMED
    query_kinds = QUERY if hostile else WELL_FORMED_QUERY
    methods = ["PUT", "POST", "POST", "GET", "GET", "HEAD", "DELETE"]
    method = draw(st.sampled_from([*methods, "OPTIONS", "PATCH"] if hostile else methods))
    names = draw(st.lists(st.sampled_from(sorted(header_kinds)), max_size=5, unique=True))
    if method in ("PUT", "POST") and not hostile:
        names.append("Content-Type")
    headers = {name: draw(header_kinds[name]) for name in names}
    keys = draw(st.lists(st.sampled_from(sorted(query_kinds)), max_size=3, unique=True))
    query = {key: draw(query_kinds[key]) for key in keys}
    body = b""
    if method in ("PUT", "POST"):
        body = draw(bodies if hostile else st.sampled_from([b'{"n": 1}', b"[1, 2]", b""]))
    path = draw(paths if hostile else st.sampled_from(NAMES[:3]))
    return Request(method, path, headers, query, body)


def _check(request: Request, response: httpx.Response) -> None:
    where = (request, response.status_code, response.content[:300])
    assert response.status_code < 500, where
    if response.status_code < 400:
        return
    if request.method == "HEAD":
        assert response.content == b"", where
        return
    assert response.headers.get("content-type", "").startswith("application/json"), where
    document = response.json()
    assert set(document) == {"error"}, where
    error = document["error"]
    assert isinstance(error.get("code"), str) and error["code"] == error["code"].upper(), where
    assert isinstance(error.get("message"), str) and error["message"], where
    # A message is for people: bounded, whatever the size of the bad input.
    assert len(response.content) < 1000, where


@pytest.fixture(scope="module")
def server(fresh_database: Callable[[], str]) -> Iterator[Server]:
    running = Server(
        fresh_database(),
        "--max-body-bytes",
        str(MAX_BODY),
        "--long-poll-timeout",
        "0.1",
        "--sse-max-seconds",
        "0.2",
    ).start()
    try:
        yield running
    finally:
        running.stop()


def test_stream_routes_hold_against_random_requests(server: Server) -> None:
    statuses: list[int] = []
    with httpx.Client(base_url=f"{server.url}/v1/stream/", timeout=10) as client:

        @given(sequence=st.lists(requests(), min_size=1, max_size=5))
        @bounded(150)
        def check(sequence: list[Request]) -> None:
            for request in sequence:
                response = client.request(
                    request.method,
                    request.path,
                    headers={k: v.encode("latin-1") for k, v in request.headers.items()},
                    params=request.query,
                    content=request.body,
                )
                statuses.append(response.status_code)
                _check(request, response)

        check()
    import collections

    print(collections.Counter(statuses))
    assert len(statuses) >= 200
    assert any(status < 300 for status in statuses)  # not only refusals
    log = server.output()
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log[-3000:]
