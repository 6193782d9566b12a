"""The gate every request passes: who is calling, and whether the policy lets them.

Authentication runs first, as middleware, for every path but the public ones and the
wake callbacks (which carry a token of their own). The checks then happen where the
target is known: a dependency on the JSON API routes (their action comes from
:mod:`.route_rules`), middleware on the streams protocol (by path, before a byte is
read or written), and a hook inside the subscriptions API (by the streams a
subscription covers).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Sequence

import orjson
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from ..entities.addressing import Address, from_subscription_id
from ..entities.definition import Registry
from ..errors import (
    ErrorCode,
    Forbidden,
    InvalidAddress,
    Unauthorized,
    UnknownEntityType,
    WakefulError,
)
from ..streams import paths
from ..streams.http.context import base_headers, error_response
from ..streams.paths import MOUNT
from ..streams.storage import Storage
from ..streams.subscriptions.model import SubscriptionSpec
from .policy import Action, EntityTarget, Policy, StreamTarget, Target, TypesTarget
from .principals import ADMIN, Authenticator, Principal, authenticate
from .route_rules import ROUTES

PRINCIPAL = "wakeful.principal"
_AS_ENTITY: dict[Action, Action] = {"read": "read", "delete": "kill"}
SYSTEM_PREFIX = "_wakeful/"
OWNER_LABEL = "owner"


def principal_of(connection: HTTPConnection) -> Principal:
    found = connection.scope.get(PRINCIPAL)
    if not isinstance(found, Principal):
        # Only public routes run without one; reaching here from another is a wiring bug,
        # and refusing is the safe answer to it.
        raise Unauthorized("this request was not authenticated", code=ErrorCode.UNAUTHORIZED)
    return found


class Access:
    """Resolves targets (an entity's owner, whether a path is an entity's) and asks the
    policy, raising 403 ``NOT_ALLOWED`` on a refusal."""

    def __init__(self, storage: Storage, registry: Registry, policy: Policy) -> None:
        self.storage = storage
        self.registry = registry
        self.policy = policy

    async def require(self, principal: Principal, action: Action, target: Target) -> None:
        if principal.admin:
            return
        allowed = self.policy.allows(principal, action, target)
        if inspect.isawaitable(allowed):
            allowed = await allowed
        if not allowed:
            raise Forbidden(
                f"{principal.name!r} may not {action} {target.describe()}",
                code=ErrorCode.NOT_ALLOWED,
            )

    async def owner_of(self, type_name: str, entity_id: str) -> str | None:
        try:
            stream = Address(type_name, entity_id).stream
        except InvalidAddress:
            return None  # the route answers 400 for the address itself
        return (await self.storage.labels(stream)).get(OWNER_LABEL)

    async def entity(
        self, principal: Principal, action: Action, type_name: str, entity_id: str | None
    ) -> None:
        if principal.admin:
            return
        owner = None
        if entity_id is not None and action != "spawn":
            owner = await self.owner_of(type_name, entity_id)
        await self.require(principal, action, EntityTarget(type_name, entity_id, owner))

    async def listing_owner(self, principal: Principal, type_name: str | None) -> str | None:
        """Whose entities a listing shows: None for everyone's, else the caller's own."""
        try:
            await self.require(principal, "list", EntityTarget(type_name))
        except Forbidden:
            return principal.name
        return None

    async def _is_type(self, name: str) -> bool:
        try:
            await self.registry.resolve(name)
        except UnknownEntityType:
            return False
        return True

    async def _is_entity(self, type_name: str, entity_id: str) -> bool:
        """Whether ``type_name/entity_id/...`` are an entity's streams: a type this process
        knows (no I/O), else an entity's labels on its main stream. Not the catching-up
        ``resolve``, which every request on a shared stream would queue behind."""
        try:
            self.registry.find(type_name)
        except UnknownEntityType:
            try:
                stream = Address(type_name, entity_id).stream
            except InvalidAddress:
                return False
            return (await self.storage.labels(stream)).get("kind") == "entity"
        return True

    async def stream(self, principal: Principal, action: Action, path: str) -> None:
        """``action`` (read, append, create, delete) on the stream at ``path``; an entity's
        streams are checked as the entity: read, write, or kill for a delete."""
        if principal.admin:
            return
        if path.startswith(SYSTEM_PREFIX):
            raise Forbidden(
                f"system stream {path!r} is the admin's alone",
                code=ErrorCode.NOT_ALLOWED,
            )
        parts = path.split("/")
        if len(parts) > 1 and await self._is_entity(parts[0], parts[1]):
            as_entity = _AS_ENTITY.get(action, "write")
            await self.entity(principal, as_entity, parts[0], parts[1])
            return
        await self.require(principal, action, StreamTarget(path))

    async def pattern(self, principal: Principal, pattern: str) -> None:
        """A subscription's glob: it may reach entities' or system streams only as the
        admin (no policy can vouch for every entity a glob will ever match)."""
        if principal.admin:
            return
        first = pattern.split("/", 1)[0]
        if "*" in first or first == SYSTEM_PREFIX.rstrip("/") or await self._is_type(first):
            raise Forbidden(
                f"only the admin may subscribe to {pattern!r}: it can match entities' or"
                " system streams",
                code=ErrorCode.NOT_ALLOWED,
            )
        await self.require(principal, "read", StreamTarget(pattern, pattern=True))
        await self.require(principal, "append", StreamTarget(pattern, pattern=True))

    async def subscription(
        self,
        request: Request,
        subscription_id: str,
        spec: SubscriptionSpec,
        linked: Sequence[str] = (),
    ) -> None:
        """Subscribing to, claiming, changing or deleting ``subscription_id``: read and
        append on every stream it covers; the runtime's entity subscriptions: admin."""
        principal = principal_of(request)
        if principal.admin:
            return
        if from_subscription_id(subscription_id) is not None:
            raise Forbidden(
                f"subscription {subscription_id!r} belongs to the runtime",
                code=ErrorCode.NOT_ALLOWED,
            )
        for path in sorted({*spec.streams, *linked}):
            await self.stream(principal, "read", path)
            await self.stream(principal, "append", path)
        if spec.pattern is not None:
            await self.pattern(principal, spec.pattern)
        if spec.wake_stream is not None:
            await self.stream(principal, "append", spec.wake_stream)

    async def route(self, request: Request) -> None:
        """A dependency of every JSON API route: the check its row of the table names."""
        principal = principal_of(request)
        route = request.scope.get("route")
        rule = ROUTES.get((request.method, getattr(route, "path", "")))
        if rule is not None and rule.guard in ("any", "public", "chat", "usage", "executor"):
            # A chat post names its thread in the body, an executor's call its entity in
            # the queue's row, and the usage route filters by the caller: each route
            # checks for itself.
            return
        if rule is not None and rule.guard == "admin":
            if not principal.admin:
                raise Forbidden("this route is for an admin", code=ErrorCode.NOT_ALLOWED)
            return
        if rule is None or rule.action is None:
            raise Forbidden("this route has no access rule", code=ErrorCode.NOT_ALLOWED)
        params = request.path_params
        if rule.guard == "types":
            await self.require(principal, rule.action, TypesTarget(params.get("type_name")))
            return
        if rule.action == "list":
            return  # the listing filters itself (see listing_owner)
        if rule.guard == "thread":
            type_name, entity_id = request.app.state.thread_type, params.get("thread_id")
        else:
            type_name, entity_id = params["type_name"], params.get("entity_id")
        if rule.action == "spawn":
            entity_id = None
        await self.entity(principal, rule.action, type_name, entity_id)


class AuthenticationMiddleware:
    """Resolves the principal of every request (401 without one) before any routing.

    Open without credentials: the console, the health check, the JWKS (the public keys a
    webhook service checks signatures with), preflights, and the wake callbacks and a
    remote pass's routes, whose handlers check the callback token themselves."""

    def __init__(
        self, app: ASGIApp, authenticator: Authenticator | None, mount: str = MOUNT
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        control = re.escape(f"{mount.rstrip('/')}/{paths.RESERVED}")
        self.open = re.compile(
            rf"\A(?:/|/healthz|/console/.*|{control}/jwks\.json"
            rf"|{control}/subscriptions/[A-Za-z0-9._~-]{{1,200}}/(?:callback|ack|release)"
            rf"|/v1/entities/[^/]+/[^/]+/pass/.*)\Z",
            re.DOTALL,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        if self.open.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        principal = (
            ADMIN
            if self.authenticator is None
            else await authenticate(self.authenticator, HTTPConnection(scope))
        )
        if principal is None:
            body = orjson.dumps(
                {"error": {"code": "UNAUTHORIZED", "message": "missing or wrong bearer token"}}
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"www-authenticate", b'Bearer realm="wakeful"'),
                        (b"access-control-allow-origin", b"*"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        scope[PRINCIPAL] = principal
        await self.app(scope, receive, send)


_STREAM_ACTIONS: dict[str, Action] = {
    "GET": "read",
    "HEAD": "read",
    "POST": "append",
    "PUT": "create",
    "DELETE": "delete",
}
FORKED_FROM = "stream-forked-from"


class StreamGuard:
    """Checks the streams protocol by path before the handler runs: a read, an append, a
    create (and the read of the stream it forks), a delete."""

    def __init__(self, app: ASGIApp, access: Access, mount: str = MOUNT) -> None:
        self.app = app
        self.access = access
        self.mount = mount.rstrip("/") + "/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        action = _STREAM_ACTIONS.get(scope.get("method", "")) if scope["type"] == "http" else None
        path: str = scope.get("path", "")
        if action is None or not path.startswith(self.mount):
            await self.app(scope, receive, send)
            return
        relative = path[len(self.mount) :]
        if relative.split("/", 1)[0] == paths.RESERVED:
            await self.app(scope, receive, send)  # the control API guards itself
            return
        connection = HTTPConnection(scope)
        try:
            principal = principal_of(connection)
            if not principal.admin:
                await self._check(principal, action, relative, connection)
        except WakefulError as error:
            response = error_response(error, head=scope["method"] == "HEAD")
            response.headers.update(base_headers())
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _check(
        self, principal: Principal, action: Action, relative: str, connection: HTTPConnection
    ) -> None:
        try:
            target = paths.validate(relative)
        except WakefulError:
            return  # the handler refuses the path itself (400)
        await self.access.stream(principal, action, target)
        source = connection.headers.get(FORKED_FROM)
        if action == "create" and source is not None:
            try:
                forked = paths.from_header(source, self.mount)
            except WakefulError:
                return
            await self.access.stream(principal, "read", forked)
