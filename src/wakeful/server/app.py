"""Composes the ASGI application and runs its background tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import __version__
from ..streams.http.app import stream_routes
from ..streams.http.context import Limits, StreamsContext
from ..streams.storage import open_storage
from ..streams.subscriptions.delivery import Dispatcher
from ..streams.subscriptions.routes import SubscriptionsAPI

log = logging.getLogger("wakeful.server")


@dataclass(slots=True)
class ServerSettings:
    database: str = ".wakeful/wakeful.db"
    max_body_bytes: int = 32 << 20
    long_poll_timeout: float = 30.0
    sse_max_seconds: float = 60.0
    sqlite_synchronous: str = "normal"
    expiry_sweep_seconds: float = 30.0


def create_app(settings: ServerSettings | None = None) -> Starlette:
    settings = settings or ServerSettings()
    storage_options: dict[str, object] = {}
    if not settings.database.startswith(("postgresql://", "postgres://")):
        storage_options["synchronous"] = settings.sqlite_synchronous
    storage = open_storage(settings.database, **storage_options)
    ctx = StreamsContext(
        storage,
        Limits(
            max_body_bytes=settings.max_body_bytes,
            long_poll_timeout=settings.long_poll_timeout,
            sse_max_seconds=settings.sse_max_seconds,
        ),
    )

    async def sweep_expired() -> None:
        while True:
            await asyncio.sleep(settings.expiry_sweep_seconds)
            try:
                await storage.expire()
            except Exception:
                log.exception("expiry sweep failed")

    subscriptions = SubscriptionsAPI(ctx, storage.subscriptions)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await storage.start()
        await subscriptions.load_keys()
        dispatcher = Dispatcher(storage.subscriptions, subscriptions.key, subscriptions.secret)
        storage.subscriptions.on_wake = dispatcher.poke
        dispatcher.start()
        sweeper = asyncio.create_task(sweep_expired())
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            await dispatcher.stop()
            await storage.stop()

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "version": __version__})

    routes = [Route("/healthz", health), *subscriptions.routes(), *stream_routes(ctx)]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.streams = ctx
    return app
