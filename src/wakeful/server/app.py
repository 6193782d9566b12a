"""Composes the ASGI application and runs its background tasks.

One app serves the Durable Streams protocol under ``/v1/stream/``, the entity JSON API
under ``/v1/`` (OpenAPI at ``/openapi.json``, docs at ``/docs``), and runs the entity
runtime, the scheduler and the subscription dispatcher in the same process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from http import HTTPStatus

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from .. import __version__
from ..agent.answers import ToolAnswers
from ..agent.limits import Concurrency
from ..agent.provider import ModelCache, agent_resources
from ..entities.definition import Registry
from ..entities.remote_types import RemoteTypes
from ..entities.runtime import Runtime
from ..entities.service import EntityService
from ..entities.type_service import TypeService
from ..errors import BadRequest, ErrorCode, WakefulError, brief
from ..streams import json_limits
from ..streams.http.app import stream_routes
from ..streams.http.context import MOUNT, Limits, StreamsContext, base_headers, error_response
from ..streams.http.statuses import KIND_OF_STATUS
from ..streams.scheduler import Scheduler
from ..streams.storage import Storage, open_storage
from ..streams.subscriptions.delivery import Dispatcher
from ..streams.subscriptions.routes import SubscriptionsAPI, load_keys
from ..threads.service import ThreadService
from . import openapi
from .access import Access, AuthenticationMiddleware, StreamGuard
from .agent_api import agent_router
from .chat_api import chat_router
from .console import console_routes
from .cors import ApiCorsMiddleware
from .entities_api import entities_router
from .limits import BodyLimitMiddleware, HeaderLimitMiddleware, RequestLimits
from .principals import Auth, single_token
from .threads_api import threads_router
from .types_api import types_router

log = logging.getLogger("wakeful.server")


@dataclass(slots=True)
class ServerSettings:
    database: str = ".wakeful/wakeful.db"
    max_body_bytes: int = 32 << 20
    long_poll_timeout: float = 30.0
    sse_max_seconds: float = 60.0
    sqlite_synchronous: str = "normal"
    expiry_sweep_seconds: float = 30.0
    run_workers: bool = True
    worker_concurrency: int = 64
    token: str | None = None  # bearer token required on every request when set
    # Principals and their policy (--auth, a tokens file); overrides ``token`` when set.
    auth: Auth | None = None
    max_live_per_client: int = 64
    max_model_calls: int = 16  # model calls at once in this process
    max_tool_calls: int = 32  # tool executions at once in this process
    thread_type: str = "thread"
    # Where outside services reach this server (webhook callbacks of remote types).
    public_url: str | None = None
    max_json_depth: int = json_limits.DEFAULT_MAX_DEPTH  # deeper JSON bodies get 400
    max_header_bytes: int = 64 << 10  # all headers of one request together; more get 431
    max_headers: int = 100
    # Origins a browser may call the JSON API from ("*": any; the streams allow any).
    cors_origins: tuple[str, ...] = ("*",)

    def request_limits(self) -> RequestLimits:
        return RequestLimits(
            max_body_bytes=self.max_body_bytes,
            max_json_depth=json_limits.check_depth_setting(self.max_json_depth),
            max_header_bytes=self.max_header_bytes,
            max_headers=self.max_headers,
        )


def make_storage(settings: ServerSettings) -> Storage:
    options: dict[str, object] = {}
    if not settings.database.startswith(("postgresql://", "postgres://")):
        options["synchronous"] = settings.sqlite_synchronous
    return open_storage(settings.database, **options)


def callback_root(settings: ServerSettings) -> str | None:
    """The streams root that webhook services call back to, if the server knows its URL."""
    return f"{settings.public_url.rstrip('/')}{MOUNT}" if settings.public_url else None


class Background:
    """The tasks a process runs beside (or instead of) serving HTTP.

    ``registry`` is the given one plus the database's remote types: use it, not the
    given one, for everything that spawns or messages entities."""

    def __init__(self, storage: Storage, registry: Registry, settings: ServerSettings) -> None:
        self.storage = storage
        self.remote_types = RemoteTypes(storage, callback_root(settings))
        registry = registry.with_remote(self.remote_types)
        self.registry = registry
        self.settings = settings
        self.scheduler = Scheduler(storage)
        self.concurrency = Concurrency(settings.max_model_calls, settings.max_tool_calls)
        self.models = ModelCache()
        self.runtime = Runtime(
            storage,
            registry,
            concurrency=settings.worker_concurrency,
            resources=agent_resources(self.concurrency, self.models),
        )
        self.dispatcher: Dispatcher | None = None
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.remote_types.start()
        key, secret = await load_keys(self.storage.subscriptions)
        self.dispatcher = Dispatcher(self.storage.subscriptions, key, secret)
        self.storage.subscriptions.on_wake = self.dispatcher.poke
        self.dispatcher.start()
        self.scheduler.start()
        if self.settings.run_workers:
            await self.runtime.start()
        self._sweeper = asyncio.create_task(self._sweep_expired())

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.runtime.stop()
        await self.models.aclose()
        await self.scheduler.stop()
        if self.dispatcher is not None:
            await self.dispatcher.stop()
        await self.remote_types.stop()

    async def _sweep_expired(self) -> None:
        while True:
            await asyncio.sleep(self.settings.expiry_sweep_seconds)
            try:
                await self.storage.expire()
            except Exception:
                log.exception("expiry sweep failed")


async def _open(request: Request) -> None:
    """The route guard of a server without principals: everyone is the admin."""


def server_auth(settings: ServerSettings) -> Auth | None:
    """The principals of this server: ``auth`` if given, else one admin holding ``token``,
    else none (every caller is the admin: a server only this machine can reach)."""
    if settings.auth is not None:
        return settings.auth
    return single_token(settings.token) if settings.token else None


def create_app(settings: ServerSettings | None = None, registry: Registry | None = None) -> FastAPI:
    """The whole server, guarded by the principals and policy of ``server_auth``."""
    settings = settings or ServerSettings()
    registry = registry if registry is not None else Registry()
    storage = make_storage(settings)
    auth = server_auth(settings)
    ctx = StreamsContext(
        storage,
        Limits(
            max_body_bytes=settings.max_body_bytes,
            long_poll_timeout=settings.long_poll_timeout,
            sse_max_seconds=settings.sse_max_seconds,
            max_live_per_client=settings.max_live_per_client,
            max_json_depth=json_limits.check_depth_setting(settings.max_json_depth),
        ),
    )
    background = Background(storage, registry, settings)
    registry = background.registry
    access = Access(storage, registry, auth.policy) if auth is not None else None
    subscriptions = SubscriptionsAPI(
        ctx, storage.subscriptions, guard=access.subscription if access is not None else None
    )
    service = EntityService(storage, registry)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await storage.start()
        await subscriptions.load_keys()
        await background.start()
        try:
            yield
        finally:
            await background.stop()
            await storage.stop()

    app = FastAPI(
        title="Wakeful",
        version=__version__,
        summary="Durable, collaborative AI agents on Durable Streams.",
        lifespan=lifespan,
    )

    @app.get("/healthz", tags=["server"], summary="Liveness check")
    async def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.exception_handler(WakefulError)
    async def refused(request: Request, error: Exception) -> Response:
        assert isinstance(error, WakefulError)
        response = error_response(error)
        response.headers.update(base_headers())
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        problems = "; ".join(
            f"{brief('.'.join(str(part) for part in item['loc']), 80)}: {brief(item['msg'])}"
            for item in error.errors()[:5]
        )
        return error_response(
            BadRequest(f"invalid request: {brief(problems, 600)}", code=ErrorCode.INVALID_REQUEST)
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: Exception) -> Response:
        # Starlette's own refusals (no such route, method not allowed, an unreadable
        # body) in the API's one error shape instead of FastAPI's {"detail": ...}.
        assert isinstance(error, HTTPException)
        message = str(error.detail)
        asked = f"{request.method} {request.url.path[:200]}"
        if error.status_code == 404:
            message = f"no route for {asked} on this Wakeful server (see /docs)"
        elif message == HTTPStatus(error.status_code).phrase:  # say what was refused
            message = f"{message}: {asked}"
        kind = KIND_OF_STATUS.get(error.status_code, BadRequest)
        code = ErrorCode.NO_ROUTE if error.status_code == 404 else None
        refusal = kind(message, code=code)
        response = error_response(refusal, head=request.method == "HEAD")
        response.headers.update(error.headers or {})
        response.headers.update(base_headers())
        return response

    guard = access.route if access is not None else _open
    app.include_router(types_router(TypeService(storage, registry), guard))
    app.include_router(entities_router(service, guard, access))
    app.include_router(agent_router(ToolAnswers(storage, registry), guard))
    app.state.thread_type = settings.thread_type
    if settings.thread_type in registry:
        threads = ThreadService(storage, registry, settings.thread_type)
        app.include_router(threads_router(threads, guard, access))
        app.include_router(chat_router(threads, guard, access))
        app.state.threads = threads
    app.router.routes.extend([*subscriptions.routes(), *stream_routes(ctx), *console_routes()])
    # The last added runs first: header limits, CORS (a preflight carries no token), who
    # is calling, then the stream paths, then the body and JSON limits.
    limits = settings.request_limits()
    app.add_middleware(BodyLimitMiddleware, limits=limits)
    if access is not None:
        app.add_middleware(StreamGuard, access=access)
    app.add_middleware(AuthenticationMiddleware, authenticator=auth.authenticator if auth else None)
    app.add_middleware(ApiCorsMiddleware, origins=settings.cors_origins)
    app.add_middleware(HeaderLimitMiddleware, limits=limits)
    openapi.install(app)
    app.state.streams = ctx
    app.state.entities = service
    app.state.background = background
    return app
