"""Handlers in any web app or function: a Registry's passes, woken by signed webhooks.

Register the app's types with the server as remote types whose webhook is the app's
URL (``POST /v1/types {name, webhook: {url}}``); each wake is then a POST the server
signs with Ed25519. :func:`WakeHandler.handle_wake` checks the signature against the
server's JWKS (fetched once, cached by key id, fetched again for a key id it does not
know, so a rotated key is picked up), reads the wake, and runs its pass over HTTP
(:mod:`.passes`), which commits and acks through the server's pass routes. Two modes:

- request-bound (the default): the pass runs inside the request, which answers
  ``{"done": true}`` once it committed;
- ``background=True``: the answer is 202 at once, the pass runs on, and its commit acks
  the wake (the server's lease, heartbeated by the pass, covers it meanwhile).

:func:`wake_app` is the same as an ASGI app to mount (``app.mount("/wakeful", ...)``).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..entities.definition import Registry
from ..entities.resources import Resources
from ..errors import BadRequest, ErrorCode, Unauthorized, WakefulError
from ..streams.http.statuses import status_of
from ._http_storage import STREAMS_MOUNT
from .claims import ClaimedWake
from .passes import run_pass

log = logging.getLogger("wakeful.serverless")
# How old a signature may be: a replayed wake older than this is refused.
SIGNATURE_TOLERANCE_SECONDS = 300


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class JwksKeys:
    """The server's webhook signing keys, by key id, fetched from its JWKS."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> Ed25519PublicKey:
        found = self._keys.get(kid)
        if found is not None:
            return found
        async with self._lock:  # one fetch for many wakes signed with a new key
            if kid not in self._keys:
                response = await self._client.get(f"{STREAMS_MOUNT}/__ds/jwks.json")
                response.raise_for_status()
                for jwk in orjson.loads(response.content).get("keys", []):
                    if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
                        raw = _unb64url(str(jwk["x"]))
                        self._keys[str(jwk["kid"])] = Ed25519PublicKey.from_public_bytes(raw)
        found = self._keys.get(kid)
        if found is None:
            raise Unauthorized(f"unknown signing key {kid[:80]!r}", code=ErrorCode.TOKEN_INVALID)
        return found

    async def verify(self, body: bytes, header: str | None, now: float | None = None) -> None:
        """Raise ``Unauthorized`` unless ``header`` is the server's signature of ``body``."""
        parts = dict(part.split("=", 1) for part in (header or "").split(",") if "=" in part)
        timestamp, kid, signature = parts.get("t"), parts.get("kid"), parts.get("ed25519")
        if not timestamp or not kid or not signature or not timestamp.isdigit():
            raise Unauthorized(
                "a signed Webhook-Signature is required", code=ErrorCode.TOKEN_REQUIRED
            )
        if (
            abs((time.time() if now is None else now) - int(timestamp))
            > SIGNATURE_TOLERANCE_SECONDS
        ):
            raise Unauthorized("the signature is too old", code=ErrorCode.TOKEN_EXPIRED)
        key = await self.key(kid)
        try:
            key.verify(_unb64url(signature), timestamp.encode() + b"." + body)
        except (InvalidSignature, ValueError):
            raise Unauthorized("bad webhook signature", code=ErrorCode.TOKEN_INVALID) from None


class WakeHandler:
    """Runs ``registry``'s passes for the wakes the server at ``server`` sends."""

    def __init__(
        self,
        registry: Registry,
        server: str,
        *,
        background: bool = False,
        resources: Resources | None = None,
        name: str = "webhook",
    ) -> None:
        self.registry = registry
        self.background = background
        self.resources = resources
        self.name = name
        self.client = httpx.AsyncClient(base_url=server.rstrip("/"), timeout=60)
        self.keys = JwksKeys(self.client)
        self._running: set[asyncio.Task[None]] = set()

    async def handle_wake(
        self, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, dict[str, Any]]:
        """Verify and run one wake; returns the status and JSON answer to send back."""
        await self.keys.verify(body, headers.get("webhook-signature"))
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise BadRequest("a wake is JSON", code=ErrorCode.INVALID_JSON) from None
        subscription_id = payload.get("subscription_id") if isinstance(payload, dict) else None
        if not isinstance(subscription_id, str):
            raise BadRequest("a wake names its subscription", code=ErrorCode.INVALID_BODY)
        wake = ClaimedWake.parse(subscription_id, payload, token_field="callback_token")
        address = wake.address
        if address is None or address.type not in self.registry:
            raise BadRequest(
                f"no handler here for {subscription_id!r}", code=ErrorCode.UNKNOWN_TYPE
            )
        work = run_pass(
            self.client, self.registry, wake, worker=self.name, resources=self.resources
        )
        if self.background:
            task = asyncio.ensure_future(self._quietly(work, subscription_id))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
            return 202, {}
        await work
        return 200, {"done": True}

    async def _quietly(self, work: Awaitable[None], subscription_id: str) -> None:
        try:
            await work
        except WakefulError as exc:
            log.warning("%s: pass abandoned (%s: %s)", subscription_id, exc.code, exc.message)

    async def aclose(self) -> None:
        for task in list(self._running):
            task.cancel()
        await self.client.aclose()


ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def wake_app(
    registry: Registry, *, server: str, background: bool = False, resources: Resources | None = None
) -> ASGIApp:
    """An ASGI app that answers the server's wake POSTs (see :class:`WakeHandler`): mount
    it in FastAPI or Starlette, or serve it with uvicorn on its own. It needs no web
    framework itself."""
    handler = WakeHandler(registry, server, background=background, resources=resources)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await handler.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {key.decode().lower(): value.decode() for key, value in scope["headers"]}
        if scope.get("method") != "POST":
            status, answer = (
                405,
                {"error": {"code": "METHOD_NOT_ALLOWED", "message": "POST a wake"}},
            )
        else:
            try:
                status, answer = await handler.handle_wake(body, headers)
            except WakefulError as error:
                status = status_of(error)
                answer = {"error": {"code": str(error.code), "message": error.message}}
        content = orjson.dumps(answer)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": content})

    return app
