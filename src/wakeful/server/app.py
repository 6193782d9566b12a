"""Composes the ASGI application and runs its background tasks.

One app serves the Durable Streams protocol under ``/v1/stream/``, the entity JSON API
under ``/v1/`` (OpenAPI at ``/openapi.json``, docs at ``/docs``), and runs the entity
runtime, the scheduler and the subscription dispatcher in the same process.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator
from http import HTTPStatus

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from .. import __version__
from ..agent.answers import ToolAnswers
from ..agent.executor_queue import ExecutorQueues
from ..background import Background, make_storage
from ..entities.definition import Registry
from ..entities.service import EntityService
from ..entities.type_service import TypeService
from ..errors import BadRequest, ErrorCode, WakefulError, brief
from ..settings import InvalidSettings, Settings
from ..streams.http.app import stream_routes
from ..streams.http.context import Limits, StreamsContext, base_headers, error_response
from ..streams.http.statuses import KIND_OF_STATUS
from ..streams.subscriptions.routes import SubscriptionsAPI
from ..threads.service import ThreadService
from . import openapi
from .access import Access, AuthenticationMiddleware, StreamGuard
from .agent_api import agent_router
from .chat_api import chat_router
from .console import console_routes
from .cors import ApiCorsMiddleware
from .dispatch import WakefulApp
from .entities_api import entities_router
from .executors_api import executors_router
from .limits import BodyLimitMiddleware, HeaderLimitMiddleware, RequestLimits
from .passes_api import passes_router
from .principals import Auth, load_auth, load_tokens_file, single_token
from .threads_api import threads_router
from .types_api import types_router
from .usage_api import usage_router

# The name this object had when only the server read it.
ServerSettings = Settings


def request_limits(settings: Settings) -> RequestLimits:
    return RequestLimits(
        max_body_bytes=settings.max_body_bytes,
        max_json_depth=settings.max_json_depth,
        max_header_bytes=settings.max_header_bytes,
        max_headers=settings.max_headers,
    )


async def _open(request: Request) -> None:
    """The route guard of a server without principals: everyone is the admin."""


def server_auth(settings: Settings) -> Auth | None:
    """The principals of this server: the ``principals`` file or ``auth`` (an Auth, an
    authenticator, or its ``module:object`` name) if given, else one admin holding
    ``token``, else none (every caller is the admin: a server only this machine can
    reach). Raises :class:`InvalidSettings` when they cannot be loaded."""
    if settings.principals is not None and settings.auth is not None:
        raise InvalidSettings({"auth": "give auth or principals, not both"}, {})
    try:
        if settings.principals is not None:
            return load_tokens_file(settings.principals)
    except ValueError as exc:
        raise InvalidSettings({"principals": str(exc)}, {}) from None
    if settings.auth is None:
        return single_token(settings.token) if settings.token else None
    value = settings.auth
    try:
        if isinstance(value, str):
            module_name, _, attribute = value.partition(":")
            value = getattr(importlib.import_module(module_name), attribute)
        return load_auth(value)
    except (ImportError, AttributeError, TypeError, ValueError) as exc:
        raise InvalidSettings({"auth": f"cannot load {settings.auth!r}: {exc}"}, {}) from None


def create_app(settings: Settings | None = None, registry: Registry | None = None) -> FastAPI:
    """The whole server, guarded by the principals and policy of ``server_auth``.

    ``settings`` defaults to ``Settings()``, every default: the environment is read by
    ``Settings.from_env()`` (which ``wakeful serve`` uses), not here."""
    settings = settings or Settings()
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
            max_json_depth=settings.max_json_depth,
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

    app = WakefulApp(
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
    app.include_router(
        passes_router(
            storage,
            registry,
            lambda: subscriptions.secret,
            settings.max_body_bytes,
            settings.max_json_depth,
            guard,
        )
    )
    app.include_router(usage_router(storage, guard))
    app.include_router(executors_router(ExecutorQueues(storage), guard, access))
    app.state.thread_type = settings.thread_type
    if settings.thread_type in registry:
        threads = ThreadService(storage, registry, settings.thread_type)
        app.include_router(threads_router(threads, guard, access))
        app.include_router(chat_router(threads, guard, access))
        app.state.threads = threads
    streams = [*subscriptions.routes(), *stream_routes(ctx)]
    # Listed in the framework's router too, for what reads routes from there (the route
    # table, the OpenAPI document); requests reach them through dispatch_streams.
    app.router.routes.extend([*streams, *console_routes()])
    # The last added runs first: header limits, CORS (a preflight carries no token), who
    # is calling, then the stream paths, then the body and JSON limits.
    limits = request_limits(settings)
    authenticator = auth.authenticator if auth else None
    app.add_middleware(BodyLimitMiddleware, limits=limits)
    if access is not None:
        app.add_middleware(StreamGuard, access=access)
    app.add_middleware(AuthenticationMiddleware, authenticator=authenticator)
    app.add_middleware(ApiCorsMiddleware, origins=settings.cors_origins)
    app.add_middleware(HeaderLimitMiddleware, limits=limits)
    app.dispatch_streams(streams, limits=limits, authenticator=authenticator, access=access)
    openapi.install(app)
    app.state.streams = ctx
    app.state.entities = service
    app.state.background = background
    return app
