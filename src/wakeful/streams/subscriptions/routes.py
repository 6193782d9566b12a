"""HTTP routes of the reserved ``__ds`` control prefix: subscriptions and the JWKS."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ...errors import BadRequest, ErrorCode, MethodNotAllowed, WakefulError
from .. import json_limits, offsets, paths
from ..http.app import protect
from ..http.context import StreamsContext
from ..http.headers import format_expiry
from ..http.writes import read_body
from .delivery import callback_url, stream_view
from .keys import load_keys
from .model import Ack, SubscriptionRow, SubscriptionSpec, WakeRequest, validate_id
from .signing import SigningKey
from .store import SubscriptionStore
from .tokens import TokenClaims, issue, verify

MAX_CONTROL_BODY = 1 << 20

#: ``(request, subscription id, configuration, explicitly linked paths)``: raises to
#: refuse creating, reading, changing, claiming or deleting that subscription. The
#: server's access policy; the streams layer itself trusts every caller.
SubscriptionGuard = Callable[[Request, str, SubscriptionSpec, Sequence[str]], Awaitable[None]]


def _json(data: object, status: int = 200, content_type: str = "application/json") -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=content_type)


async def _json_body(request: Request, ctx: StreamsContext) -> Any:
    """A control body, read as every JSON body the server takes (same limits, same
    errors): an empty body is an empty object."""
    raw = await read_body(request, MAX_CONTROL_BODY)
    return json_limits.loads(raw, ctx.limits.max_json_depth, integers=True) if raw else {}


async def _body(request: Request, ctx: StreamsContext) -> dict[str, Any]:
    value = await _json_body(request, ctx)
    if not isinstance(value, dict):
        raise BadRequest("body must be a JSON object", code=ErrorCode.INVALID_BODY)
    return value


def _wake_request(body: dict[str, Any]) -> WakeRequest:
    wake_id, generation = body.get("wake_id"), body.get("generation")
    if (
        not isinstance(wake_id, str)
        or not isinstance(generation, int)
        or isinstance(generation, bool)
    ):
        raise BadRequest(
            "wake_id (string) and generation (integer) are required", code=ErrorCode.INVALID_BODY
        )
    raw_acks = body.get("acks", [])
    if not isinstance(raw_acks, list):
        raise BadRequest("acks must be a list", code=ErrorCode.INVALID_BODY)
    acks = []
    for item in raw_acks:
        if not isinstance(item, dict) or not isinstance(item.get("stream"), str):
            raise BadRequest("each ack needs a stream and an offset", code=ErrorCode.INVALID_BODY)
        offset = item.get("offset")
        if not isinstance(offset, str):
            raise BadRequest("each ack needs a stream and an offset", code=ErrorCode.INVALID_BODY)
        acks.append(Ack(item["stream"], offsets.parse_offset(offset)))
    done = body.get("done", False)
    if not isinstance(done, bool):
        raise BadRequest("done must be true or false", code=ErrorCode.INVALID_BODY)
    return WakeRequest(wake_id, generation, tuple(acks), done)


class SubscriptionsAPI:
    """The control API. Keys are loaded from the database at start, after routing is built."""

    def __init__(
        self,
        ctx: StreamsContext,
        store: SubscriptionStore,
        guard: SubscriptionGuard | None = None,
    ) -> None:
        self.ctx = ctx
        self.store = store
        self.guard = guard
        self.key: SigningKey
        self.secret: bytes

    async def load_keys(self) -> None:
        self.key, self.secret = await load_keys(self.store)

    def _root(self, request: Request) -> str:
        return str(request.base_url).rstrip("/") + self.ctx.mount

    def view(self, row: SubscriptionRow) -> dict[str, object]:
        spec = row.spec
        webhook: dict[str, object] | None = None
        if spec.webhook is not None:
            webhook = {
                "url": spec.webhook.url,
                "signing": {
                    "alg": "ed25519",
                    "kid": self.key.kid,
                    "jwks_url": f"{row.base_url}/__ds/jwks.json",
                },
            }
        return {
            "id": row.id,
            "subscription_id": row.id,
            "type": spec.type,
            "pattern": spec.pattern,
            "streams": [
                {
                    "path": link.path,
                    "link_type": link.link_type,
                    "acked_offset": offsets.format_offset(link.acked),
                }
                for link in row.links
            ],
            "webhook": webhook,
            "wake_stream": spec.wake_stream,
            "lease_ttl_ms": spec.lease_ttl_ms,
            "created_at": format_expiry(row.created_at),
            "status": row.status,
            "description": spec.description,
            "generation": row.generation,
            "holder": row.holder,
            "callback_url": callback_url(row) if spec.type == "webhook" else None,
        }

    async def jwks(self, request: Request) -> Response:
        response = _json(self.key.jwks(), content_type="application/jwk-set+json")
        response.headers["Cache-Control"] = "public, max-age=300"
        return response

    async def _guarded(
        self, request: Request, subscription_id: str, added: Sequence[str] = ()
    ) -> SubscriptionRow:
        """The stored subscription, once the guard lets this caller act on it."""
        row = await self.store.get(subscription_id)
        if self.guard is not None:
            linked = [link.path for link in row.links if link.explicit]
            await self.guard(request, subscription_id, row.spec, [*linked, *added])
        return row

    async def subscription(self, request: Request) -> Response:
        subscription_id = validate_id(request.path_params["id"])
        if request.method == "GET":
            return _json(self.view(await self._guarded(request, subscription_id)))
        if request.method == "DELETE":
            await self._guarded(request, subscription_id)
            await self.store.delete(subscription_id)
            return Response(status_code=204)
        if request.method == "PUT":
            spec = SubscriptionSpec.parse(await _json_body(request, self.ctx))
            if self.guard is not None:
                await self.guard(request, subscription_id, spec, ())
            row, created = await self.store.put(subscription_id, spec, self._root(request))
            return _json(self.view(row), status=201 if created else 200)
        raise _method(request)

    async def streams(self, request: Request) -> Response:
        subscription_id = validate_id(request.path_params["id"])
        if request.method != "POST":
            raise _method(request)
        body = await _body(request, self.ctx)
        names = body.get("streams")
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise BadRequest("streams must be a list of stream paths", code=ErrorCode.INVALID_BODY)
        added = [paths.validate(name) for name in names]
        await self._guarded(request, subscription_id, added)
        await self.store.add_streams(subscription_id, added)
        return Response(status_code=204)

    async def stream_link(self, request: Request) -> Response:
        subscription_id = validate_id(request.path_params["id"])
        if request.method != "DELETE":
            raise _method(request)
        await self._guarded(request, subscription_id)
        await self.store.remove_stream(subscription_id, paths.validate(request.path_params["path"]))
        return Response(status_code=204)

    async def claim(self, request: Request) -> Response:
        subscription_id = validate_id(request.path_params["id"])
        body = await _body(request, self.ctx)
        worker = body.get("worker")
        if not isinstance(worker, str) or not worker or len(worker) > 200:
            raise BadRequest("worker must be a non-empty name", code=ErrorCode.INVALID_BODY)
        await self._guarded(request, subscription_id)
        row = await self.store.claim(subscription_id, worker)
        assert row.wake_id is not None
        token = issue(
            self.secret,
            TokenClaims(row.id, row.generation, row.wake_id),
            ttl_seconds=max(row.lease_seconds * 10, 3600),
        )
        return _json(
            {
                "wake_id": row.wake_id,
                "generation": row.generation,
                "token": token,
                "streams": [stream_view(link) for link in row.links],
                "lease_ttl_ms": row.spec.lease_ttl_ms,
            }
        )

    async def ack(self, request: Request) -> Response:
        subscription_id = validate_id(request.path_params["id"])
        claims = verify(self.secret, request.headers.get("authorization"), subscription_id)
        wake = _wake_request(await _body(request, self.ctx))
        next_wake = await self.store.ack(subscription_id, claims, wake)
        return _json({"ok": True, "next_wake": next_wake})

    async def release(self, request: Request) -> Response:
        subscription_id = validate_id(request.path_params["id"])
        claims = verify(self.secret, request.headers.get("authorization"), subscription_id)
        await self.store.release(
            subscription_id, claims, _wake_request(await _body(request, self.ctx))
        )
        return Response(status_code=204)

    def routes(self) -> list[BaseRoute]:
        base = f"{self.ctx.mount}/{paths.RESERVED}"
        any_method = ["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH"]
        post = ["POST", "OPTIONS"]
        return [
            Route(f"{base}/jwks.json", protect(self.jwks), methods=["GET", "HEAD", "OPTIONS"]),
            Route(f"{base}/subscriptions/{{id}}", protect(self.subscription), methods=any_method),
            Route(
                f"{base}/subscriptions/{{id}}/streams", protect(self.streams), methods=any_method
            ),
            Route(
                f"{base}/subscriptions/{{id}}/streams/{{path:path}}",
                protect(self.stream_link),
                methods=any_method,
            ),
            Route(f"{base}/subscriptions/{{id}}/claim", protect(self.claim), methods=post),
            Route(f"{base}/subscriptions/{{id}}/ack", protect(self.ack), methods=post),
            Route(f"{base}/subscriptions/{{id}}/callback", protect(self.ack), methods=post),
            Route(f"{base}/subscriptions/{{id}}/release", protect(self.release), methods=post),
        ]


def _method(request: Request) -> WakefulError:
    return MethodNotAllowed(f"{request.method} is not supported here")
