"""Commands that act on entities: spawn, send, signal, kill and ps.

Each is one client call; with ``--json`` it prints the server's answer as JSON, else a
short human line or a table.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..client import AsyncClient, Entity
from ..client.async_client import address_of
from .common import (
    JsonOption,
    TokenOption,
    UrlOption,
    console,
    json_argument,
    message_argument,
    print_json,
    run,
)

EntityUrl = Annotated[
    str, typer.Argument(metavar="URL", help="The entity, as /type/id.", show_default=False)
]


def _tags(values: list[str]) -> dict[str, str]:
    tags = {}
    for value in values:
        name, separator, tag_value = value.partition("=")
        if not separator or not name:
            raise typer.BadParameter(f"{value!r} should look like name=value", param_hint="--tag")
        tags[name] = tag_value
    return tags


def spawn(
    ctx: typer.Context,
    type_name: Annotated[str, typer.Argument(metavar="TYPE", help="The entity type.")],
    entity_id: Annotated[
        str | None, typer.Argument(metavar="ID", help="Entity id (generated when omitted).")
    ] = None,
    args: Annotated[
        str | None, typer.Option("--args", help="Spawn arguments, as JSON.", show_default=False)
    ] = None,
    message: Annotated[
        str | None,
        typer.Option(
            "--message", help="A first message: JSON if it parses, else text.", show_default=False
        ),
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="A tag, name=value (repeatable).")
    ] = None,
    as_json: JsonOption = False,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Create an entity, optionally with arguments and a first message."""
    spawn_args = json_argument(args, "--args") if args is not None else None
    first = message_argument(message, "--message") if message is not None else None
    tags = _tags(tag or [])

    async def act(client: AsyncClient) -> Entity:
        return await client.spawn(type_name, entity_id, args=spawn_args, message=first, tags=tags)

    entity = run(ctx, url, token, as_json, act)
    if as_json:
        print_json(dataclasses.asdict(entity))
    else:
        console().print(f"[bold]{escape(entity.url)}[/]  [dim]spawned ({entity.status})[/]")


def send(
    ctx: typer.Context,
    entity: EntityUrl,
    message: Annotated[
        str, typer.Argument(help="The message: JSON if it parses, else text.", show_default=False)
    ],
    sender: Annotated[
        str | None, typer.Option("--from", help="Who sends it (free text).", show_default=False)
    ] = None,
    as_json: JsonOption = False,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Send a message to an entity's inbox."""
    payload = message_argument(message, "MESSAGE")

    async def act(client: AsyncClient) -> str:
        return await client.send(entity, payload, sender=sender)

    message_id = run(ctx, url, token, as_json, act)
    if as_json:
        print_json({"id": message_id, "url": address_of(entity).url})
    else:
        console().print(f"sent message [bold]{message_id}[/] to {escape(entity)}")


def signal(
    ctx: typer.Context,
    entity: EntityUrl,
    name: Annotated[
        str, typer.Argument(help="pause, resume, stop, kill, interrupt, or a custom name.")
    ],
    payload: Annotated[
        str | None,
        typer.Option("--payload", help="The signal's payload, as JSON.", show_default=False),
    ] = None,
    as_json: JsonOption = False,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Send a signal to an entity."""
    value = json_argument(payload, "--payload") if payload is not None else None

    async def act(client: AsyncClient) -> str:
        return await client.signal(entity, name, value)

    signal_id = run(ctx, url, token, as_json, act)
    if as_json:
        print_json({"id": signal_id, "url": address_of(entity).url, "name": name})
    else:
        console().print(f"sent signal [bold]{escape(name)}[/] to {escape(entity)}")


def kill(
    ctx: typer.Context,
    entity: EntityUrl,
    as_json: JsonOption = False,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Stop an entity for good, interrupting whatever it is doing."""

    async def act(client: AsyncClient) -> str:
        return await client.kill(entity)

    signal_id = run(ctx, url, token, as_json, act)
    if as_json:
        print_json({"id": signal_id, "url": address_of(entity).url, "name": "kill"})
    else:
        console().print(f"killed {escape(entity)}")


def ps(
    ctx: typer.Context,
    type_name: Annotated[
        str | None, typer.Option("--type", help="Only this type.", show_default=False)
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="Only this status: idle, paused, failed, stopped or killed.",
            show_default=False,
        ),
    ] = None,
    parent: Annotated[
        str | None,
        typer.Option("--parent", help="Only children of this entity.", show_default=False),
    ] = None,
    tag: Annotated[
        str | None,
        typer.Option("--tag", help="Only entities with this tag, name=value.", show_default=False),
    ] = None,
    as_json: JsonOption = False,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """List entities."""
    tag_filter = next(iter(_tags([tag]).items())) if tag is not None else None

    async def act(client: AsyncClient) -> list[Entity]:
        found = client.list(type=type_name, status=status, parent=parent, tag=tag_filter)
        return [entity async for entity in found]

    entities = run(ctx, url, token, as_json, act)
    if as_json:
        print_json([dataclasses.asdict(entity) for entity in entities])
        return
    if not entities:
        console().print("[dim]no entities[/]")
        return
    table = Table(box=None, header_style="bold")
    for column in ("URL", "TYPE", "STATUS", "PARENT", "TAGS"):
        table.add_column(column)
    for entity in entities:
        table.add_row(
            escape(entity.url),
            escape(entity.type),
            _status(entity.status),
            escape(entity.parent or ""),
            escape(" ".join(f"{k}={v}" for k, v in entity.tags.items())),
        )
    console().print(table)


def _status(status: str) -> str:
    style = {"idle": "green", "paused": "yellow", "failed": "red"}.get(status, "dim")
    return f"[{style}]{escape(status)}[/]"
