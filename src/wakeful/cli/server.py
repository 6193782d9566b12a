"""``wakeful serve`` and ``wakeful worker``: the processes that run entities.

``serve`` is one process with HTTP, the dispatcher and workers; ``worker`` runs handlers
only, beside other processes on a shared database. Their options come from
:class:`~wakeful.settings.Settings` (see :mod:`.settings_options`). Without a token,
``serve`` binds to the loopback interface only, so an unprotected server is never
exposed by accident.

The worker imports nothing of the HTTP layer: ``serve`` imports the server, Uvicorn and
Starlette when it runs, not when the command line loads.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from typing import Annotated

import typer

from ..background import Background, make_storage
from ..entities.definition import Registry
from ..settings import InvalidSettings, Settings
from ..streams.storage import redact
from ..threads.definition import builtin_registry
from .settings_options import usage_error, with_settings

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _importable_here() -> None:
    # Like uvicorn's --app-dir ".": modules next to where the command runs are importable.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())


def _registry(spec: str | None) -> Registry:
    if spec is None:
        return builtin_registry()
    _importable_here()
    try:
        return Registry.load(spec)
    except (ImportError, AttributeError, TypeError, ValueError) as exc:
        raise typer.BadParameter(f"cannot load registry {spec!r}: {exc}") from exc


def _logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )


def local_url(host: str, port: int) -> str:
    """This server's own URL as seen from the same machine."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@with_settings(worker=False)
def serve(
    registry: Annotated[
        str | None,
        typer.Argument(
            help="Entity types to run, as module:attribute (e.g. examples.chat:registry);"
            " without one, a built-in chat thread type."
        ),
    ] = None,
    *,
    settings: Settings,
) -> None:
    """Run the server: streams, the entity API and the runtime, in one process.

    Every option can also be set by the environment variable shown beside it."""
    import uvicorn

    from ..server.app import create_app, server_auth
    from ..server.http_protocol import bounded_protocol

    _logging(settings)
    types = _registry(registry)
    _importable_here()
    try:
        auth = server_auth(settings)  # loaded once, here, so a bad file is a usage error
    except InvalidSettings as error:
        raise usage_error(error) from None
    host, port = settings.host, settings.port
    if auth is None and host not in LOOPBACK:
        raise typer.BadParameter(
            f"refusing to serve {host} without a token: set --token or WAKEFUL_TOKEN"
            " (or --principals, --auth)",
            param_hint="--host",
        )
    settings = settings.model_copy(
        update={
            "auth": auth,
            "principals": None,
            "public_url": settings.public_url or local_url(host, port),
        }
    )
    names = ", ".join(entity_type.name for entity_type in types) or "none"
    shown = redact(settings.database)
    typer.echo(f"wakeful: serving on http://{host}:{port}  (database: {shown}; types: {names})")
    if auth is None:
        typer.echo("wakeful: no token set, so only this machine can connect (127.0.0.1)")
    uvicorn.run(
        create_app(settings, types),
        host=host,
        port=port,
        log_level=settings.log_level,
        access_log=False,
        http=bounded_protocol(settings.max_header_bytes, settings.http),
        h11_max_incomplete_event_size=settings.max_header_bytes,
    )


@with_settings(worker=True)
def worker(
    registry: Annotated[str, typer.Argument(help="Entity types to run, as module:attribute.")],
    server: Annotated[
        str | None,
        typer.Option(
            envvar="WAKEFUL_SERVER",
            help="Run the handlers for this Wakeful server over HTTP only (no database"
            " access; --database is not used).",
            show_default=False,
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="WAKEFUL_TOKEN",
            help="With --server: the server's bearer token (an admin's).",
            show_default=False,
        ),
    ] = None,
    *,
    settings: Settings,
) -> None:
    """Run entity handlers (no HTTP serving) against a shared database, beside other
    processes; or, with --server, against a server over HTTP only.

    Every option can also be set by the environment variable shown beside it."""
    _logging(settings)
    types = _registry(registry)
    if server is not None:
        typer.echo(
            f"wakeful: worker for {', '.join(t.name for t in types)} on {server} (HTTP only)"
        )
        asyncio.run(run_http_worker(server, token, settings, types))
        return
    typer.echo(
        f"wakeful: worker for {', '.join(t.name for t in types)} on {redact(settings.database)}"
    )
    asyncio.run(run_worker(settings, types))


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


async def run_http_worker(
    server: str, token: str | None, settings: Settings, types: Registry
) -> None:
    """Runs handlers for ``server`` over HTTP until SIGINT or SIGTERM."""
    from ..agent.limits import Concurrency
    from ..agent.provider import ModelCache, agent_resources
    from ..serverless.worker import HttpWorker

    models = ModelCache()
    worker = HttpWorker(
        server,
        types,
        token=token,
        concurrency=settings.worker_concurrency,
        resources=agent_resources(Concurrency.of(settings), models),
    )
    await worker.start()
    try:
        await _until_stopped()
    finally:
        await worker.stop()
        await models.aclose()


async def run_worker(settings: Settings, types: Registry) -> None:
    """Runs handlers until SIGINT or SIGTERM, then stops them and closes the storage."""
    storage = make_storage(settings)
    await storage.start()
    background = Background(storage, types, settings)
    await background.start()
    try:
        await _until_stopped()
    finally:
        await background.stop()
        await storage.stop()
