"""``wakeful serve`` and ``wakeful worker``: the processes that run entities.

``serve`` is one process with HTTP, the dispatcher and workers; ``worker`` runs handlers
only, beside other processes on a shared database. Without a token, ``serve`` binds to
the loopback interface only, so an unprotected server is never exposed by accident.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from ..entities.definition import Registry
from ..server.app import Background, ServerSettings, create_app, make_storage
from ..server.http_protocol import bounded_protocol
from ..server.principals import Auth, load_auth, load_tokens_file
from ..streams.json_limits import DEFAULT_MAX_DEPTH, WRITABLE_DEPTH
from ..streams.storage import redact
from ..threads.definition import builtin_registry

LOOPBACK = {"127.0.0.1", "localhost", "::1"}

PublicURLOption = Annotated[
    str | None,
    typer.Option(
        envvar="WAKEFUL_PUBLIC_URL",
        help="URL outside services use to reach this server (webhook callbacks of remote types).",
    ),
]

DatabaseOption = Annotated[
    str,
    typer.Option(
        envvar="WAKEFUL_DATABASE_URL",
        help="SQLite file path or sqlite:///path, or postgresql://user@host/db.",
    ),
]


def _registry(spec: str | None) -> Registry:
    if spec is None:
        return builtin_registry()
    # Like uvicorn's --app-dir ".": modules next to where the command runs are importable.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return Registry.load(spec)
    except (ImportError, AttributeError, TypeError, ValueError) as exc:
        raise typer.BadParameter(f"cannot load registry {spec!r}: {exc}") from exc


def _auth(spec: str | None, principals: Path | None) -> Auth | None:
    """``--auth module:object`` or ``--principals FILE``, loaded; None for neither."""
    if spec is not None and principals is not None:
        raise typer.BadParameter("give --auth or --principals, not both", param_hint="--auth")
    if principals is not None:
        try:
            return load_tokens_file(principals)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--principals") from exc
    if spec is None:
        return None
    module_name, _, attribute = spec.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return load_auth(getattr(importlib.import_module(module_name), attribute))
    except (ImportError, AttributeError, TypeError, ValueError) as exc:
        raise typer.BadParameter(f"cannot load {spec!r}: {exc}", param_hint="--auth") from exc


def local_url(host: str, port: int) -> str:
    """This server's own URL as seen from the same machine."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(
    registry: Annotated[
        str | None,
        typer.Argument(
            help="Entity types to run, as module:attribute (e.g. examples.chat:registry);"
            " without one, a built-in chat thread type."
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8787,
    database: DatabaseOption = ".wakeful/wakeful.db",
    max_body_bytes: Annotated[
        int, typer.Option(help="Largest request body accepted; bigger ones get 413.")
    ] = 32 << 20,
    long_poll_timeout: Annotated[
        float, typer.Option(help="Seconds a long-poll read waits for new data.")
    ] = 30.0,
    sse_max_seconds: Annotated[
        float, typer.Option(help="Seconds before an SSE connection is closed for reconnect.")
    ] = 60.0,
    sqlite_synchronous: Annotated[
        str,
        typer.Option(
            help="SQLite durability: 'normal' survives a killed process, 'full' also power loss."
        ),
    ] = "normal",
    workers: Annotated[
        bool, typer.Option(help="Run entity handlers in this process (--no-workers: HTTP only).")
    ] = True,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="WAKEFUL_TOKEN",
            help="Bearer token required on every request. Without one, only 127.0.0.1 is served.",
        ),
    ] = None,
    auth: Annotated[
        str | None,
        typer.Option(
            envvar="WAKEFUL_AUTH",
            help="Principals and policy, as module:object (an Auth, or an authenticator).",
        ),
    ] = None,
    principals: Annotated[
        Path | None,
        typer.Option(
            envvar="WAKEFUL_PRINCIPALS",
            help="TOML file of [principals.<name>] tables, each with a token (and admin).",
        ),
    ] = None,
    max_model_calls: Annotated[int, typer.Option(help="Model calls at once.")] = 16,
    max_tool_calls: Annotated[int, typer.Option(help="Tool executions at once.")] = 32,
    public_url: PublicURLOption = None,
    max_json_depth: Annotated[
        int,
        typer.Option(
            min=1, max=WRITABLE_DEPTH, help="Deepest JSON nesting accepted; deeper gets 400."
        ),
    ] = DEFAULT_MAX_DEPTH,
    max_header_bytes: Annotated[
        int,
        typer.Option(min=1024, help="Largest request head (all headers) accepted; more gets 431."),
    ] = 64 << 10,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(
            envvar="WAKEFUL_CORS_ORIGINS",
            help="Origin a browser may call the JSON API from (repeatable); '*' (the"
            " default) allows any. Stream routes allow any origin.",
        ),
    ] = None,
    http: Annotated[
        str, typer.Option(help="HTTP parser: auto (httptools if installed), httptools or h11.")
    ] = "auto",
    log_level: Annotated[str, typer.Option(help="Log level.")] = "info",
) -> None:
    """Run the server: streams, the entity API and the runtime, in one process."""
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    types = _registry(registry)
    principals_auth = _auth(auth, principals)
    protected = bool(token) or principals_auth is not None
    if not protected and host not in LOOPBACK:
        raise typer.BadParameter(
            f"refusing to serve {host} without a token: set --token or WAKEFUL_TOKEN"
            " (or --principals, --auth)",
            param_hint="--host",
        )
    settings = ServerSettings(
        token=token,
        auth=principals_auth,
        max_model_calls=max_model_calls,
        max_tool_calls=max_tool_calls,
        database=database,
        max_body_bytes=max_body_bytes,
        long_poll_timeout=long_poll_timeout,
        sse_max_seconds=sse_max_seconds,
        sqlite_synchronous=sqlite_synchronous,
        run_workers=workers,
        public_url=public_url or local_url(host, port),
        max_json_depth=max_json_depth,
        max_header_bytes=max_header_bytes,
        cors_origins=tuple(cors_origin or ("*",)),
    )
    names = ", ".join(entity_type.name for entity_type in types) or "none"
    shown = redact(database)
    typer.echo(f"wakeful: serving on http://{host}:{port}  (database: {shown}; types: {names})")
    if not protected:
        typer.echo("wakeful: no token set, so only this machine can connect (127.0.0.1)")
    uvicorn.run(
        create_app(settings, types),
        host=host,
        port=port,
        log_level=log_level.lower(),
        access_log=False,
        http=bounded_protocol(max_header_bytes, http),
        h11_max_incomplete_event_size=max_header_bytes,
    )


def worker(
    registry: Annotated[str, typer.Argument(help="Entity types to run, as module:attribute.")],
    database: DatabaseOption = ".wakeful/wakeful.db",
    concurrency: Annotated[int, typer.Option(help="Handler passes run at once.")] = 64,
    public_url: PublicURLOption = None,
    log_level: Annotated[str, typer.Option(help="Log level.")] = "info",
) -> None:
    """Run entity handlers (no HTTP) against a shared database, beside other processes."""
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    types = _registry(registry)
    settings = ServerSettings(
        database=database, worker_concurrency=concurrency, public_url=public_url
    )
    typer.echo(f"wakeful: worker for {', '.join(t.name for t in types)} on {redact(database)}")
    asyncio.run(run_worker(settings, types))


async def run_worker(settings: ServerSettings, types: Registry) -> None:
    storage = make_storage(settings)
    await storage.start()
    background = Background(storage, types, settings)
    await background.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await background.stop()
        await storage.stop()
