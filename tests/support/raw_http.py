"""Requests over raw HTTP/1.1 and the checks every refusal must pass.

Nothing (no client library's URL normalization or header checks) stands between a test
and the server: the request goes out exactly as given.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any, Protocol

import h11
import httpx


class HasPort(Protocol):
    port: int


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @classmethod
    def of(cls, response: httpx.Response) -> Reply:
        headers = {name.lower(): value for name, value in response.headers.items()}
        return cls(response.status_code, headers, response.content)


def send(
    server: HasPort,
    method: str,
    target: str | bytes,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    *,
    chunked: bool = False,
) -> Reply:
    """One request on its own connection, exactly as given (target is not normalized)."""
    raw_target = target.encode() if isinstance(target, str) else target
    connection = h11.Connection(h11.CLIENT)
    request_headers = [("Host", f"127.0.0.1:{server.port}"), ("Connection", "close")]
    if chunked:
        request_headers.append(("Transfer-Encoding", "chunked"))
    elif body or method in ("POST", "PUT"):
        request_headers.append(("Content-Length", str(len(body))))
    request_headers.extend((headers or {}).items())
    out = connection.send(h11.Request(method=method, target=raw_target, headers=request_headers))
    assert out is not None
    if chunked:
        for start in range(0, len(body), 100):
            out += connection.send(h11.Data(data=body[start : start + 100])) or b""
    elif body:
        out += connection.send(h11.Data(data=body)) or b""
    out += connection.send(h11.EndOfMessage()) or b""
    status = 0
    response_headers: dict[str, str] = {}
    chunks: list[bytes] = []
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(out)
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                connection.receive_data(sock.recv(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
                response_headers = {k.decode().lower(): v.decode() for k, v in event.headers}
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                break
    return Reply(status, response_headers, b"".join(chunks))


def assert_rejected(
    reply: Reply | httpx.Response,
    *,
    status: int | None = None,
    mentions: str = "",
    head: bool = False,
) -> dict[str, Any]:
    """A 4xx with the API's JSON error shape; returns the ``error`` object."""
    if isinstance(reply, httpx.Response):
        reply = Reply.of(reply)
    assert 400 <= reply.status < 500, (reply.status, reply.body[:500])
    if status is not None:
        assert reply.status == status, (reply.status, reply.body[:500])
    if head:
        assert reply.body == b""
        return {}
    assert reply.headers.get("content-type", "").startswith("application/json"), reply.headers
    document = reply.json()
    assert set(document) == {"error"}, document
    error: dict[str, Any] = document["error"]
    assert isinstance(error.get("code"), str) and error["code"], error
    assert error["code"] == error["code"].upper(), error
    assert isinstance(error.get("message"), str) and len(error["message"]) >= 10, error
    assert mentions.lower() in error["message"].lower(), (mentions, error)
    # The message is for people: bounded, whatever the size of the bad input.
    assert len(reply.body) < 1000, reply.body[:200]
    return error
