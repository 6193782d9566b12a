"""The ``wakeful`` command."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
import uvicorn

from .server.app import ServerSettings, create_app

app = typer.Typer(
    help="Wakeful: durable, collaborative AI agents on Durable Streams.", no_args_is_help=True
)


@app.callback()
def _root() -> None:
    """Wakeful: durable, collaborative AI agents on Durable Streams."""


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8787,
    database: Annotated[
        str,
        typer.Option(
            envvar="WAKEFUL_DATABASE_URL",
            help="SQLite file path or sqlite:///path (PostgreSQL: postgresql://...).",
        ),
    ] = ".wakeful/wakeful.db",
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
    log_level: Annotated[str, typer.Option(help="Log level.")] = "info",
) -> None:
    """Run the server: streams under /v1/stream/, on one process."""
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    settings = ServerSettings(
        database=database,
        max_body_bytes=max_body_bytes,
        long_poll_timeout=long_poll_timeout,
        sse_max_seconds=sse_max_seconds,
        sqlite_synchronous=sqlite_synchronous,
    )
    typer.echo(f"wakeful: serving on http://{host}:{port}  (database: {database})")
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=log_level.lower(),
        access_log=False,
        loop="auto",
        http="auto",
    )


def main() -> None:
    app()
