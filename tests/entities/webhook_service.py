"""A real outside service for remote entity types, on 127.0.0.1, as a user would write one.

For every wake it checks the Ed25519 signature against the server's JWKS, answers 200 at
once, then (in the background, as a queue-fed worker would) reads the woken streams from
their acked offsets with the Durable Streams protocol, appends a ``state:replies`` row for
each inbox message through the wake's producer, reports ``child_status`` to a waiting
parent, and acks the wake through its callback. Request-bound, it does all that before
answering ``{"done": true}``. ``slow_first`` makes the first wake with a message take that
much longer, as a slow model call would; ``hold_first`` holds it (``holding`` is set) until
the test sets ``release``, for a test that acts while that wake is in flight.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from support.servers import free_port

STARTUP_SECONDS = 10.0


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def change(kind: str, key: str, value: Any, operation: str = "insert") -> dict[str, Any]:
    return {"type": kind, "key": key, "value": value, "headers": {"operation": operation}}


def _has_message(events: list[dict[str, Any]]) -> bool:
    return any(event.get("type") == "inbox" for event in events)


@dataclass
class Handled:
    """One wake as the service saw it: what it read and what the callback answered."""

    subscription_id: str
    streams: list[str]
    events: list[dict[str, Any]]
    verified: bool
    callback_status: int
    generation: int = 0


@dataclass
class WebhookService:
    port: int = field(default_factory=free_port)
    handled: list[Handled] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    parents: dict[str, str] = field(default_factory=dict)
    # The server's bearer token, for reading and appending on a protected server; the
    # JWKS is public and callbacks carry their own token, so neither uses it.
    token: str | None = None
    request_bound: bool = False
    slow_first: float = 0.0
    hold_first: bool = False
    holding: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    # What the server refused: ("append" | "ack", status), e.g. a fenced older wake's.
    refused: list[tuple[str, int]] = field(default_factory=list)
    _slowed: bool = False
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/wake"

    def seen(self, stream: str) -> list[dict[str, Any]]:
        """Every event the service has read from ``stream``, in order."""
        return [event for wake in self.handled if stream in wake.streams for event in wake.events]

    def runs(self, stream: str) -> int:
        """How many wakes read an inbox message on ``stream``."""
        return sum(
            1 for wake in self.handled if stream in wake.streams and _has_message(wake.events)
        )

    async def has_run(self, stream: str, times: int = 1) -> bool:
        """Whether ``times`` wakes that read a message on ``stream`` are done and recorded
        (their callback answered): a probe for ``eventually``. What a wake appended is
        visible before it is recorded, so waiting for a reply is not waiting for this."""
        return self.runs(stream) >= times

    async def wake(self, request: Request) -> JSONResponse:
        body = await request.body()
        payload = await request.json()
        if self.request_bound:
            await self._handle(payload, body, request.headers)
            return JSONResponse({"done": True})
        task = asyncio.create_task(self._handle(payload, body, request.headers))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return JSONResponse({})  # not done yet: the ack comes through the callback

    async def _handle(self, payload: dict[str, Any], body: bytes, headers: Any) -> None:
        try:
            await self._handle_wake(payload, body, headers.get("webhook-signature", ""))
        except Exception as exc:
            self.failures.append(f"{type(exc).__name__}: {exc}")

    async def _handle_wake(self, payload: dict[str, Any], body: bytes, signature: str) -> None:
        root = payload["callback_url"].split("/__ds/")[0]
        async with httpx.AsyncClient(timeout=10) as public:
            verified = await self._verify(public, root, body, signature)
        auth = {"authorization": f"Bearer {self.token}"} if self.token else {}
        async with httpx.AsyncClient(timeout=10, headers=auth) as client:
            events: list[dict[str, Any]] = []
            acks = []
            paths = []
            for stream in payload["streams"]:
                path = stream["path"]
                paths.append(path)
                found = await self._read(client, f"{root}/{path}", stream)
                if found is None:
                    continue  # the entity was deleted since the wake was sent
                read, next_offset = found
                events += read
                if (self.slow_first or self.hold_first) and not self._slowed and _has_message(read):
                    self._slowed = True
                    await asyncio.sleep(self.slow_first)
                    if self.hold_first:
                        self.holding.set()
                        await self.release.wait()
                await self._react(client, root, path, read, payload["producer"])
                # Ack what was read, not what was appended since: a message that landed
                # in between must wake us again. Our own appends cost one quiet wake.
                acks.append({"stream": path, "offset": next_offset})
            if self.request_bound:
                status = 200  # the answer to the request acks it
            else:
                status = await self._callback(client, payload, acks)
        self.handled.append(
            Handled(
                payload["subscription_id"], paths, events, verified, status, payload["generation"]
            )
        )

    async def _callback(
        self, client: httpx.AsyncClient, payload: dict[str, Any], acks: list[dict[str, Any]]
    ) -> int:
        answer = await client.post(
            payload["callback_url"],
            headers={"Authorization": f"Bearer {payload['callback_token']}"},
            json={
                "wake_id": payload["wake_id"],
                "generation": payload["generation"],
                "acks": acks,
                "done": True,
            },
        )
        if answer.status_code == 409:
            self.refused.append(("ack", 409))
        return answer.status_code

    async def _verify(
        self, client: httpx.AsyncClient, root: str, body: bytes, signature: str
    ) -> bool:
        parts = dict(part.split("=", 1) for part in signature.split(","))
        keys = (await client.get(f"{root}/__ds/jwks.json")).json()["keys"]
        key = next(key for key in keys if key["kid"] == parts["kid"])
        public = Ed25519PublicKey.from_public_bytes(_b64url(key["x"]))
        try:
            public.verify(_b64url(parts["ed25519"]), parts["t"].encode() + b"." + body)
        except InvalidSignature:
            return False
        return True

    async def _read(
        self, client: httpx.AsyncClient, url: str, stream: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], str] | None:
        offset, events = stream["acked_offset"], []
        while True:
            response = await client.get(url, params={"offset": offset})
            if response.status_code == 404:
                return None
            response.raise_for_status()
            events += response.json()
            offset = response.headers["stream-next-offset"]
            if response.headers.get("stream-up-to-date") == "true":
                return events, offset

    async def _react(
        self,
        client: httpx.AsyncClient,
        root: str,
        path: str,
        events: list[dict[str, Any]],
        producer: dict[str, Any],
    ) -> None:
        entity = "/" + "/".join(path.split("/")[:2])
        written = []
        for event in events:
            if event.get("type") == "entity_created" and event["value"].get("parent"):
                self.parents[entity] = event["value"]["parent"]
            if event.get("type") != "inbox":
                continue
            message = event["value"]
            text = f"echo: {message['payload']}"
            written.append(
                change("state:replies", message["id"], {"id": message["id"], "text": text})
            )
        if not written:
            return
        fenced = {
            "producer-id": producer["id"],
            "producer-epoch": str(producer["epoch"]),
            "producer-seq": "0",  # one append per stream and wake
        }
        response = await client.post(f"{root}/{path}", json=written, headers=fenced)
        if response.status_code == 403:
            self.refused.append(("append", 403))  # a newer wake took over
            return
        response.raise_for_status()
        parent = self.parents.get(entity)
        if parent is not None:
            status = {"url": entity, "status": "completed", "response": written[-1]["value"]}
            report = change("child_status", entity, {**status, "error": None}, "update")
            parent_stream = f"{root}/{parent.strip('/')}/main"
            (await client.post(parent_stream, json=[report])).raise_for_status()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[WebhookService]:
        app = Starlette(routes=[Route("/wake", self.wake, methods=["POST"])])
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        for _ in range(round(STARTUP_SECONDS / 0.01)):
            if server.started or serving.done():
                break
            await asyncio.sleep(0.01)
        if not server.started:
            raise RuntimeError("the webhook service did not start")
        try:
            yield self
        finally:
            server.should_exit = True
            await serving
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
