"""The ``wakeful`` command: run a server or worker, and talk to a running server.

``serve`` and ``worker`` (in :mod:`.server`) run entities; the other commands are a thin
face on :class:`wakeful.client.AsyncClient`. The global ``--url`` and ``--token`` (or
``WAKEFUL_URL`` / ``WAKEFUL_TOKEN``) say which server the client commands talk to.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ..client.async_client import DEFAULT_URL
from . import entities, entity_types, executor, observe, server, usage
from .common import Connection

app = typer.Typer(
    help="Wakeful: durable, collaborative AI agents on Durable Streams.", no_args_is_help=True
)


@app.callback()
def _root(
    ctx: typer.Context,
    url: Annotated[
        str, typer.Option(envvar="WAKEFUL_URL", help="Server URL for the client commands.")
    ] = DEFAULT_URL,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="WAKEFUL_TOKEN",
            help="Bearer token for the client commands (when the server has one).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Wakeful: durable, collaborative AI agents on Durable Streams."""
    ctx.obj = Connection(url, token)


app.command()(server.serve)
app.command()(server.worker)
app.command()(executor.executor)
app.command()(entities.spawn)
app.command()(entities.send)
app.command()(observe.observe)
app.command()(entities.ps)
app.command()(entities.signal)
app.command()(entities.kill)
app.command()(usage.usage)
app.add_typer(entity_types.app, name="types")


def main() -> None:
    app()
