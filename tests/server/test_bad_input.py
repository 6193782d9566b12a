"""Bad input gets a clear 4xx error and loses nothing.

Every request here is malformed in one way. Each case asserts that the answer is a 4xx
(never a 5xx), that the body is the API's JSON error ``{"error": {"code", "message"}}``
with a message that names the problem (HEAD answers carry no body), and that bystander
streams created beforehand, like the stream the request aimed at, are byte for byte
unchanged. Requests go over raw HTTP/1.1 so that nothing (no client library URL
normalization) stands between the test and the server.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

import pytest
from support.raw_http import Reply, assert_rejected, send
from support.servers import Server

from wakeful.streams import offsets

MAX_BODY = 1024
MOUNT = "/v1/stream/"
_names = itertools.count()


def path_of(name: str) -> str:
    return MOUNT + quote(name, safe="/")


@dataclass
class Snapshot:
    body: bytes
    headers: dict[str, str]


class Streams:
    """Creates streams with known content and checks later that they are untouched."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.known: dict[str, Snapshot] = {}

    def snapshot(self, name: str) -> Snapshot:
        reply = send(self.server, "GET", path_of(name))
        assert reply.status == 200, (name, reply.status, reply.body[:300])
        kept = ("content-type", "stream-next-offset", "stream-closed")
        return Snapshot(reply.body, {k: v for k, v in reply.headers.items() if k in kept})

    def make(self, kind: str, content_type: str, *bodies: bytes, closed: bool = False) -> str:
        name = f"{kind}-{next(_names)}"
        created = send(self.server, "PUT", path_of(name), {"Content-Type": content_type}, bodies[0])
        assert created.status == 201, created
        for body in bodies[1:]:
            appended = send(
                self.server, "POST", path_of(name), {"Content-Type": content_type}, body
            )
            assert appended.status == 204, appended
        if closed:
            assert send(self.server, "POST", path_of(name), {"Stream-Closed": "true"}).status == 204
        self.known[name] = self.snapshot(name)
        return name

    def assert_unchanged(self) -> None:
        for name, before in self.known.items():
            assert self.snapshot(name) == before, f"stream {name!r} changed"
        log = self.server.output()
        assert "Exception in ASGI application" not in log, log[-3000:]


@pytest.fixture(scope="module")
def server(fresh_database: Callable[[], str]) -> Iterator[Server]:
    server = Server(
        fresh_database(), "--max-body-bytes", str(MAX_BODY), "--long-poll-timeout", "1"
    ).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def streams(server: Server) -> Iterator[Streams]:
    """Bystanders of every kind, created before the bad request; checked after the test."""
    registry = Streams(server)
    registry.make("bystander-bytes", "application/octet-stream", bytes(range(256)), b"\x00\r\n")
    registry.make("bystander-json", "application/json", b'[{"a":1},"two"]', b"[3]")
    registry.make("bystander-text", "text/plain", "héllo\n".encode(), b"world", closed=True)
    yield registry
    registry.assert_unchanged()


@pytest.fixture
def json_stream(streams: Streams) -> str:
    return streams.make("target-json", "application/json", b'[{"n":1},{"n":2}]')


@pytest.fixture
def text_stream(streams: Streams) -> str:
    return streams.make("target-text", "text/plain", b"some text")


# -- offsets ----------------------------------------------------------------------------

MALFORMED_OFFSETS = [
    "abc",
    "../x",
    "1_2",
    "",
    "-2",
    "NOW",
    "0000000000000000-0000000000000000",
    "0000000000000000_000000000000000",
    "0000000000000000_0000000000000000_",
    "%00",
    "\u0660" * 16 + "_" + "\u0660" * 16,
    "9" * 5000,
    "0000000000000000_" + "0" * 5000,
]


@pytest.mark.parametrize("live", [None, "long-poll", "sse"])
@pytest.mark.parametrize("offset", MALFORMED_OFFSETS, ids=lambda o: repr(o[:20]))
def test_malformed_offset(server: Server, streams: Streams, live: str | None, offset: str) -> None:
    target = streams.make("target-offsets", "text/plain", b"data")
    query = f"?offset={quote(offset, safe='')}" + (f"&live={live}" if live else "")
    reply = send(server, "GET", path_of(target) + query)
    assert_rejected(reply, status=400, mentions="offset")


@pytest.mark.parametrize("offset", ["abc", "1_2", "", "9" * 5000, "now!"])
def test_malformed_fork_offset(server: Server, streams: Streams, offset: str) -> None:
    source = streams.make("fork-source", "text/plain", b"data")
    reply = send(
        server,
        "PUT",
        path_of(f"fork-{next(_names)}"),
        {"Stream-Forked-From": path_of(source), "Stream-Fork-Offset": offset},
    )
    assert_rejected(reply, status=400, mentions="offset")


@pytest.mark.parametrize("sub_offset", ["-1", "1.5", "x", "01", "9" * 5000, "99999999999999999"])
def test_malformed_fork_sub_offset(server: Server, streams: Streams, sub_offset: str) -> None:
    source = streams.make("fork-source", "text/plain", b"data")
    reply = send(
        server,
        "PUT",
        path_of(f"fork-{next(_names)}"),
        {"Stream-Forked-From": source, "Stream-Fork-Sub-Offset": sub_offset},
    )
    assert_rejected(reply, status=400, mentions="Sub-Offset")


def test_fork_headers_without_source(server: Server, streams: Streams) -> None:
    name = f"fork-{next(_names)}"
    reply = send(server, "PUT", path_of(name), {"Stream-Fork-Offset": "-1"})
    assert_rejected(reply, status=400, mentions="Stream-Forked-From")
    assert send(server, "HEAD", path_of(name)).status == 404


def test_fork_of_missing_source(server: Server, streams: Streams) -> None:
    name = f"fork-{next(_names)}"
    reply = send(server, "PUT", path_of(name), {"Stream-Forked-From": "no/such/stream"})
    assert_rejected(reply, status=404, mentions="no/such/stream")
    assert send(server, "HEAD", path_of(name)).status == 404


# -- bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_body_over_the_limit(
    server: Server, streams: Streams, text_stream: str, chunked: bool
) -> None:
    headers = {"Content-Type": "text/plain"}
    too_big = b"x" * (MAX_BODY + 1)
    reply = send(server, "POST", path_of(text_stream), headers, too_big, chunked=chunked)
    assert_rejected(reply, status=413, mentions=str(MAX_BODY))
    new = f"big-{next(_names)}"
    reply = send(server, "PUT", path_of(new), headers, too_big, chunked=chunked)
    assert_rejected(reply, status=413, mentions=str(MAX_BODY))
    assert send(server, "HEAD", path_of(new)).status == 404
    # Exactly at the limit is fine.
    accepted = send(server, "POST", path_of(text_stream), headers, b"y" * MAX_BODY)
    assert accepted.status == 204
    streams.known[text_stream] = streams.snapshot(text_stream)
    assert streams.known[text_stream].body == b"some text" + b"y" * MAX_BODY


INVALID_JSON = [
    b"{",
    b"[1, 2",
    b"{'a': 1}",
    b"NaN",
    b"[1, Infinity]",
    b"[12345678901234567890123, 1e999]",
    b"[12345678901234567890123, NaN]",
    b"undefined",
    b'{"a": 1} {"b": 2}',
    b"\xff\xfe\xfd",
    b'"unterminated',
    b"[" * 1000,
]


@pytest.mark.parametrize("body", INVALID_JSON, ids=lambda b: repr(b[:24]))
def test_invalid_json_append(
    server: Server, streams: Streams, json_stream: str, body: bytes
) -> None:
    reply = send(server, "POST", path_of(json_stream), {"Content-Type": "application/json"}, body)
    assert_rejected(reply, status=400, mentions="JSON")


@pytest.mark.parametrize("body", INVALID_JSON[:6], ids=lambda b: repr(b[:24]))
def test_invalid_json_create(server: Server, streams: Streams, body: bytes) -> None:
    name = f"bad-json-{next(_names)}"
    reply = send(server, "PUT", path_of(name), {"Content-Type": "application/json"}, body)
    assert_rejected(reply, status=400, mentions="JSON")
    assert send(server, "HEAD", path_of(name)).status == 404


def test_empty_json_array_append(server: Server, streams: Streams, json_stream: str) -> None:
    reply = send(server, "POST", path_of(json_stream), {"Content-Type": "application/json"}, b"[]")
    assert_rejected(reply, status=400, mentions="empty")


@pytest.mark.parametrize(
    ("target", "content_type"),
    [
        ("json", "text/plain"),
        ("json", "application/ndjson"),
        ("text", "application/json"),
        ("text", "text/html"),
    ],
)
def test_wrong_content_type_on_append(
    server: Server,
    streams: Streams,
    json_stream: str,
    text_stream: str,
    target: str,
    content_type: str,
) -> None:
    name = json_stream if target == "json" else text_stream
    reply = send(server, "POST", path_of(name), {"Content-Type": content_type}, b'{"n": 3}')
    assert_rejected(reply, status=409, mentions="content type")


@pytest.mark.parametrize("content_type", [None, ""])
def test_missing_content_type_with_body(
    server: Server, streams: Streams, text_stream: str, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    reply = send(server, "POST", path_of(text_stream), headers, b"more")
    assert_rejected(reply, status=400, mentions="Content-Type")


@pytest.mark.parametrize("content_type", ["garbage", "text/", "/plain", "text /plain"])
def test_malformed_content_type(
    server: Server, streams: Streams, text_stream: str, content_type: str
) -> None:
    reply = send(server, "POST", path_of(text_stream), {"Content-Type": content_type}, b"more")
    assert_rejected(reply, status=400, mentions="Content-Type")
    name = f"malformed-ct-{next(_names)}"
    assert_rejected(
        send(server, "PUT", path_of(name), {"Content-Type": content_type}),
        status=400,
        mentions="Content-Type",
    )
    assert send(server, "HEAD", path_of(name)).status == 404


def test_empty_append_without_close(server: Server, streams: Streams, text_stream: str) -> None:
    reply = send(server, "POST", path_of(text_stream), {"Content-Type": "text/plain"})
    assert_rejected(reply, status=400, mentions="body")


def test_append_to_closed_stream(server: Server, streams: Streams) -> None:
    closed = streams.make("closed", "text/plain", b"final", closed=True)
    reply = send(server, "POST", path_of(closed), {"Content-Type": "text/plain"}, b"late")
    assert_rejected(reply, status=409, mentions="closed")
    assert reply.headers["stream-closed"] == "true"
    final_offset = streams.known[closed].headers["stream-next-offset"]
    assert reply.headers["stream-next-offset"] == final_offset


# -- paths ------------------------------------------------------------------------------

BAD_PATHS = [
    "..",
    "../x",
    "a/../b",
    "a/..",
    ".",
    "./a",
    "a/./b",
    "%2e%2e",
    "%2E%2E/x",
    "a/%2e%2e/b",
    "a/%2e",
    "..%2fx",
    "a//b",
    "/a",
    "a/",
    "a\\b",
    "a%5Cb",
    "..\\x",
    "a%00b",
    "a%01b",
    "a%0Ab",
    "a%0D%0Ab",
    "a%1Fb",
    "a%7Fb",
    "x" * 1025,
    "a/" * 600 + "a",
]


@pytest.mark.parametrize("method", ["PUT", "POST", "GET", "DELETE", "HEAD"])
@pytest.mark.parametrize("path", BAD_PATHS, ids=lambda p: repr(p[:20]))
def test_path_traversal_and_malformed_paths(
    server: Server, streams: Streams, path: str, method: str
) -> None:
    headers = {"Content-Type": "text/plain"} if method in ("PUT", "POST") else {}
    body = b"payload" if method in ("PUT", "POST") else b""
    reply = send(server, method, MOUNT + path, headers, body)
    assert_rejected(reply, status=400, mentions="path", head=method == "HEAD")


@pytest.mark.parametrize("method", ["PUT", "GET", "HEAD"])
@pytest.mark.parametrize("target", ["/v1/stream", "/v1/stream/"])
def test_no_stream_named(server: Server, streams: Streams, target: str, method: str) -> None:
    reply = send(server, method, target)
    assert_rejected(reply, status=404, mentions="path", head=method == "HEAD")


ODD_PATHS = [
    "café/日本語/🙂",
    "with space",
    "colon:in:name",
    "user@example.com",
    "tilde~and-dash_and.dot",
    "plus+sign",
    "sub-delims!$&'()*,;=",
    "percent%sign",
    "...",
    ".hidden/..more",
    "a" * 1024,
]


@pytest.mark.parametrize("name", ODD_PATHS, ids=lambda p: repr(p[:20]))
def test_odd_but_legal_paths_work(server: Server, streams: Streams, name: str) -> None:
    target = path_of(name)
    created = send(server, "PUT", target, {"Content-Type": "text/plain"}, "é1".encode())
    assert created.status == 201, created
    location = created.headers["location"]
    assert location.isascii()
    assert unquote(urlsplit(location).path) == MOUNT + name
    appended = send(server, "POST", target, {"Content-Type": "text/plain"}, b"|2")
    assert appended.status == 204, appended
    read = send(server, "GET", target)
    assert (read.status, read.body) == (200, "é1|2".encode())
    assert send(server, "HEAD", target).status == 200
    # The same name, differently escaped, is the same stream.
    fully_escaped = MOUNT + quote(name, safe="")
    if "/" not in name:
        assert send(server, "GET", fully_escaped).body == "é1|2".encode()
    assert send(server, "DELETE", target).status == 204
    assert send(server, "HEAD", target).status == 404


# -- methods and query parameters -------------------------------------------------------


@pytest.mark.parametrize("method", ["PATCH", "TRACE"])
def test_unknown_methods(server: Server, streams: Streams, text_stream: str, method: str) -> None:
    reply = send(server, method, path_of(text_stream), {"Content-Type": "text/plain"}, b"x")
    assert_rejected(reply, status=405, mentions=method)
    assert "POST" in reply.headers["allow"] and method not in reply.headers["allow"]


@pytest.mark.parametrize("live", ["", "yes", "true", "LONG-POLL", "sse ", "longpoll", "%00"])
def test_invalid_live_values(server: Server, streams: Streams, text_stream: str, live: str) -> None:
    reply = send(server, "GET", path_of(text_stream) + f"?offset=-1&live={quote(live)}")
    assert_rejected(reply, status=400, mentions="live")


@pytest.mark.parametrize("live", ["long-poll", "sse"])
def test_live_without_offset(server: Server, streams: Streams, text_stream: str, live: str) -> None:
    reply = send(server, "GET", path_of(text_stream) + f"?live={live}")
    assert_rejected(reply, status=400, mentions="offset")


@pytest.mark.parametrize("cursor", ["\u00b2", "9" * 5000, "-1", "abc", "1e9"])
def test_odd_cursors_are_ignored_not_fatal(
    server: Server, streams: Streams, text_stream: str, cursor: str
) -> None:
    query = f"?offset=-1&live=long-poll&cursor={quote(cursor)}"
    reply = send(server, "GET", path_of(text_stream) + query)
    assert reply.status == 200 and reply.body == b"some text"
    assert reply.headers["stream-cursor"].isascii() and reply.headers["stream-cursor"].isdigit()


# -- expiry -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ttl", ["-1", "+3600", "03600", "3600.0", "3.6e3", "abc", "", "1 2", "9" * 30, "1" + "0" * 5000]
)
def test_invalid_ttl(server: Server, streams: Streams, ttl: str) -> None:
    name = f"ttl-{next(_names)}"
    reply = send(server, "PUT", path_of(name), {"Stream-TTL": ttl})
    assert_rejected(reply, status=400, mentions="Stream-TTL")
    assert send(server, "HEAD", path_of(name)).status == 404


@pytest.mark.parametrize(
    "expires_at",
    [
        "tomorrow",
        "",
        "1700000000",
        "2030-13-01T00:00:00Z",
        "2030-02-30T00:00:00Z",
        "2030-01-01T25:00:00Z",
        "2030-01-01T00:00:00",  # no time zone
        "2030-01-01T00:00:00+25:00",
        "9999-12-31T23:59:59-14:00",  # year 10000 in UTC: could not be written back
        "9999-12-31T23:59:59.500Z",
    ],
)
def test_invalid_expires_at(server: Server, streams: Streams, expires_at: str) -> None:
    name = f"expires-{next(_names)}"
    reply = send(server, "PUT", path_of(name), {"Stream-Expires-At": expires_at})
    assert_rejected(reply, status=400, mentions="Stream-Expires-At")
    assert send(server, "HEAD", path_of(name)).status == 404


def test_ttl_and_expires_at_together(server: Server, streams: Streams) -> None:
    name = f"expiry-{next(_names)}"
    headers = {"Stream-TTL": "60", "Stream-Expires-At": "2030-01-01T00:00:00Z"}
    assert_rejected(send(server, "PUT", path_of(name), headers), status=400, mentions="Stream-TTL")
    assert send(server, "HEAD", path_of(name)).status == 404


# -- idempotent producer headers --------------------------------------------------------

PRODUCER = {"Producer-Id": "writer-1", "Producer-Epoch": "0", "Producer-Seq": "0"}


@pytest.mark.parametrize(
    "present",
    [
        ("Producer-Id",),
        ("Producer-Epoch",),
        ("Producer-Seq",),
        ("Producer-Id", "Producer-Epoch"),
        ("Producer-Id", "Producer-Seq"),
        ("Producer-Epoch", "Producer-Seq"),
    ],
)
def test_partial_producer_headers(
    server: Server, streams: Streams, text_stream: str, present: tuple[str, ...]
) -> None:
    headers = {"Content-Type": "text/plain", **{name: PRODUCER[name] for name in present}}
    reply = send(server, "POST", path_of(text_stream), headers, b"more")
    assert_rejected(reply, status=400, mentions="Producer")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Producer-Id", ""),
        ("Producer-Id", "p" * 257),
        ("Producer-Epoch", "-1"),
        ("Producer-Epoch", "1.0"),
        ("Producer-Epoch", "01"),
        ("Producer-Epoch", "x"),
        ("Producer-Epoch", str(2**53)),
        ("Producer-Seq", "-1"),
        ("Producer-Seq", "+1"),
        ("Producer-Seq", "1e3"),
        ("Producer-Seq", str(2**53)),
        ("Producer-Seq", "9" * 5000),
    ],
)
def test_invalid_producer_values(
    server: Server, streams: Streams, text_stream: str, name: str, value: str
) -> None:
    headers = {"Content-Type": "text/plain", **PRODUCER, name: value}
    reply = send(server, "POST", path_of(text_stream), headers, b"more")
    assert_rejected(reply, status=400, mentions="Producer")


def test_stored_header_values_are_bounded(
    server: Server, streams: Streams, text_stream: str
) -> None:
    """Stream-Seq is stored with the stream and quoted in later refusals, so a long one
    would make every later refusal as long."""
    headers = {"Content-Type": "text/plain", "Stream-Seq": "9" * 257}
    reply = send(server, "POST", path_of(text_stream), headers, b"more")
    assert_rejected(reply, status=400, mentions="Stream-Seq")
    longest = "9" * 256
    headers["Stream-Seq"] = longest
    assert send(server, "POST", path_of(text_stream), headers, b"more").status == 204
    headers["Stream-Seq"] = "1"
    reply = send(server, "POST", path_of(text_stream), headers, b"more")
    error = assert_rejected(reply, status=409, mentions="Stream-Seq")
    assert longest not in error["message"]
    assert send(server, "GET", path_of(text_stream)).body == b"some textmore"
    streams.known[text_stream] = streams.snapshot(text_stream)


def test_values_quoted_in_refusals_are_cut_short(server: Server, streams: Streams) -> None:
    reply = send(server, "GET", path_of("__ds/" + "x" * 1000))
    assert_rejected(reply, status=404, mentions="no control API")


def test_a_preflight_repeats_only_a_bounded_header_list(server: Server, streams: Streams) -> None:
    asked = {"Access-Control-Request-Method": "POST", "Origin": "https://app.example"}
    few = send(server, "OPTIONS", path_of("x"), {**asked, "Access-Control-Request-Headers": "x-a"})
    assert few.status == 204 and few.headers["access-control-allow-headers"].endswith(", x-a")
    many = ", ".join(f"x-header-{i}" for i in range(3000))
    reply = send(server, "OPTIONS", path_of("x"), {**asked, "Access-Control-Request-Headers": many})
    assert reply.status == 204
    assert len(reply.headers["access-control-allow-headers"]) < 1000


def test_producer_sequence_gap_and_stale_epoch(
    server: Server, streams: Streams, text_stream: str
) -> None:
    def post(epoch: int, seq: int) -> Reply:
        headers = {
            "Content-Type": "text/plain",
            "Producer-Id": "fenced",
            "Producer-Epoch": str(epoch),
            "Producer-Seq": str(seq),
        }
        return send(server, "POST", path_of(text_stream), headers, f"<{epoch}.{seq}>".encode())

    assert post(1, 0).status == 200
    gap = post(1, 5)
    assert_rejected(gap, status=409, mentions="gap")
    assert gap.headers["producer-expected-seq"] == "1"
    assert gap.headers["producer-received-seq"] == "5"
    stale = post(0, 0)
    assert_rejected(stale, status=403, mentions="epoch")
    assert stale.headers["producer-epoch"] == "1"
    new_epoch = post(2, 1)
    assert_rejected(new_epoch, status=400, mentions="epoch")
    streams.known[text_stream] = streams.snapshot(text_stream)
    assert streams.known[text_stream].body == b"some text<1.0>"


def test_expiry_in_the_past_is_refused(server: Server, streams: Streams) -> None:
    target = path_of("expired-already")
    reply = send(server, "PUT", target, {"Stream-Expires-At": "2001-01-01T00:00:00Z"})
    error = assert_rejected(reply, status=400, mentions="past")
    assert error["code"] == "EXPIRED"
    assert send(server, "HEAD", target).status == 404


def test_latest_expiry_is_written_back(server: Server, streams: Streams) -> None:
    target = path_of(f"expires-{next(_names)}")
    latest = "9999-12-31T23:59:59+00:00"
    assert send(server, "PUT", target, {"Stream-Expires-At": latest}).status == 201
    head = send(server, "HEAD", target)
    assert head.status == 200
    assert head.headers["stream-expires-at"] == "9999-12-31T23:59:59.000Z"
    assert send(server, "DELETE", target).status == 204


# -- bounded header values --------------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_overlong_content_type(
    server: Server, streams: Streams, text_stream: str, method: str
) -> None:
    long_type = "text/plain; x=" + "y" * 2000  # within the header limit, beyond the type's
    name = text_stream if method == "POST" else f"long-ct-{next(_names)}"
    reply = send(server, method, path_of(name), {"Content-Type": long_type}, b"data")
    assert_rejected(reply, status=400, mentions="Content-Type")
    if method == "PUT":
        assert send(server, "HEAD", path_of(name)).status == 404


def test_200_kb_content_type_is_not_stored(server: Server, streams: Streams) -> None:
    name = f"huge-ct-{next(_names)}"
    huge = "text/plain; x=" + "y" * 200_000
    reply = send(server, "PUT", path_of(name), {"Content-Type": huge})
    assert_rejected(reply, status=431, mentions="headers")
    assert send(server, "HEAD", path_of(name)).status == 404


# -- JSON nesting -----------------------------------------------------------------------


@pytest.mark.parametrize("depth", [129, 255, 300, 500])
def test_json_nested_too_deep(
    server: Server, streams: Streams, json_stream: str, depth: int
) -> None:
    body = b"[" * depth + b"1" + b"]" * depth
    reply = send(server, "POST", path_of(json_stream), {"Content-Type": "application/json"}, body)
    assert 400 <= reply.status < 500
    assert_rejected(reply, status=400, mentions="JSON")
    name = f"deep-{next(_names)}"
    reply = send(server, "PUT", path_of(name), {"Content-Type": "application/json"}, body)
    assert_rejected(reply, status=400, mentions="JSON")
    assert send(server, "HEAD", path_of(name)).status == 404


def test_json_at_the_depth_limit_round_trips(server: Server, streams: Streams) -> None:
    body = b"[" * 128 + b"123456789012345678901234567890" + b"]" * 128
    name = streams.make("deep-ok", "application/json", body)
    # The outer array is flattened into messages: one level less comes back inside.
    assert streams.known[name].body == body


# -- forks ------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_fork_inside_a_message_is_refused(
    server: Server, streams: Streams, content_type: str
) -> None:
    first = b'{"n":"first"}' if content_type == "application/json" else b"first"
    source = streams.make("fork-inside", content_type, first, first)
    created = send(server, "HEAD", path_of(source))
    tail = offsets.parse_offset(created.headers["stream-next-offset"])
    boundary = tail // 2  # two messages of equal length
    inside = offsets.format_offset(boundary + 3)
    name = f"fork-{next(_names)}"
    headers = {"Stream-Forked-From": path_of(source), "Stream-Fork-Offset": inside}
    assert_rejected(send(server, "PUT", path_of(name), headers), status=400, mentions="boundary")
    assert send(server, "HEAD", path_of(name)).status == 404
    # At the boundary it is a fork of the first message.
    headers["Stream-Fork-Offset"] = offsets.format_offset(boundary)
    assert send(server, "PUT", path_of(name), headers).status == 201
    expected = b"[" + first + b"]" if content_type == "application/json" else first
    assert send(server, "GET", path_of(name)).body == expected
    assert send(server, "DELETE", path_of(name)).status == 204


# -- request heads ----------------------------------------------------------------------


def test_one_huge_header(server: Server, streams: Streams) -> None:
    reply = send(server, "GET", path_of("bystander-bytes-0"), {"X-Huge": "x" * (8 << 20)})
    assert_rejected(reply, status=431, mentions="headers")


def test_too_many_headers(server: Server, streams: Streams) -> None:
    many = {f"X-H{i}": "v" for i in range(20_000)}
    reply = send(server, "GET", path_of("bystander-bytes-0"), many)
    assert_rejected(reply, status=431, mentions="headers")


def test_too_many_small_headers_within_the_byte_limit(server: Server, streams: Streams) -> None:
    many = {f"X-H{i}": "v" for i in range(150)}
    reply = send(server, "GET", path_of("bystander-bytes-0"), many)
    assert_rejected(reply, status=431, mentions="headers")
