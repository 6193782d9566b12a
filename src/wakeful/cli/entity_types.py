"""``wakeful types``: list the entity types, show one, register and delete remote ones.

A remote type's handler is an outside webhook service (see docs/entities.md, "Remote types
over HTTP"); these commands are the command-line face of ``POST /v1/types`` and
``DELETE /v1/types/{type}``. Python types come from the code the server runs, so they can
be listed and shown here but not changed.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape
from rich.table import Table

from ..client import AsyncClient, EntityType
from .common import JsonOption, TokenOption, UrlOption, console, print_json, run

app = typer.Typer(
    help="List the entity types; show one; register or delete a remote (webhook) type."
)

TypeName = Annotated[
    str, typer.Argument(metavar="TYPE", help="The entity type's name.", show_default=False)
]


def _inherit(
    ctx: typer.Context, as_json: bool, url: str | None, token: str | None
) -> tuple[bool, str | None, str | None]:
    """Options given to ``wakeful types`` itself, before a subcommand, apply to it too."""
    given = ctx.parent.params if ctx.parent is not None else {}
    return (
        as_json or bool(given.get("as_json")),
        url or given.get("url"),
        token or given.get("token"),
    )


def _schema_file(path: Path | None, option: str) -> dict[str, Any] | None:
    """The JSON Schema in the file at ``path``, or a usage error naming ``option``."""
    if path is None:
        return None
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {path}: {exc.strerror}", param_hint=option) from None
    try:
        schema = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise typer.BadParameter(f"{path} is not valid JSON ({exc})", param_hint=option) from None
    if not isinstance(schema, dict):
        raise typer.BadParameter(
            f"{path} should hold a JSON Schema object, not {type(schema).__name__}",
            param_hint=option,
        )
    return schema


def _table(found: list[EntityType]) -> Table:
    remote = any(item.kind == "remote" for item in found)
    table = Table(box=None, header_style="bold")
    # The description wraps first on a narrow terminal; names and URLs stay whole.
    table.add_column("TYPE", no_wrap=True)
    table.add_column("KIND", no_wrap=True)
    for column in ("DESCRIPTION", "STATE", "ARGS"):
        table.add_column(column, min_width=len(column))
    if remote:
        table.add_column("WEBHOOK", no_wrap=True, overflow="fold")
    for item in found:
        args = (item.args_schema or {}).get("properties") or {}
        row = [
            escape(item.name),
            "[cyan]remote[/]" if item.kind == "remote" else escape(item.kind),
            escape(item.description),
            escape(", ".join(item.state)),
            escape(", ".join(args)),
        ]
        table.add_row(*row, *([escape(item.webhook_url or "")] if remote else []))
    return table


@app.callback(invoke_without_command=True)
def types(
    ctx: typer.Context,
    as_json: JsonOption = False,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """List the entity types the server runs, local (Python) and remote (webhook).

    Subcommands show one type, and register or delete remote ones."""
    if ctx.invoked_subcommand is not None:
        return

    async def act(client: AsyncClient) -> list[EntityType]:
        return await client.types()

    found = run(ctx, url, token, as_json, act)
    if as_json:
        print_json([dataclasses.asdict(item) for item in found])
        return
    if not found:
        console().print(
            "[dim]no entity types registered (serve one: wakeful serve module:registry,"
            " or register a remote one: wakeful types register)[/]"
        )
        return
    console().print(_table(found))


@app.command()
def show(
    ctx: typer.Context,
    name: TypeName,
    as_json: JsonOption = False,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Show one entity type, with its JSON schemas."""
    as_json, url, token = _inherit(ctx, as_json, url, token)

    async def act(client: AsyncClient) -> EntityType:
        return await client.get_type(name)

    found = run(ctx, url, token, as_json, act)
    if as_json:
        print_json(dataclasses.asdict(found))
        return
    out = console()
    out.print(f"[bold]{escape(found.name)}[/]  [dim]{escape(found.kind)}[/]")
    if found.description:
        out.print(escape(found.description))
    if found.webhook_url:
        out.print(f"webhook: {escape(found.webhook_url)}  [dim](lease {found.lease_seconds} s)[/]")
    if found.state:
        out.print(f"state: {escape(', '.join(found.state))}")
    for label, schema in (("args", found.args_schema), ("inbox", found.inbox_schema)):
        if schema is not None:
            out.print(f"{label} schema: {escape(orjson.dumps(schema).decode())}")


@app.command()
def register(
    ctx: typer.Context,
    name: TypeName,
    webhook: Annotated[
        str,
        typer.Option(
            "--webhook",
            help="Where wakes are POSTed: https, or http to localhost / 127.0.0.x.",
            show_default=False,
        ),
    ],
    description: Annotated[
        str, typer.Option("--description", help="What the type does.", show_default=False)
    ] = "",
    args_schema: Annotated[
        Path | None,
        typer.Option(
            "--args-schema",
            dir_okay=False,
            help="File holding the JSON Schema that spawn arguments must satisfy.",
            show_default=False,
        ),
    ] = None,
    inbox_schema: Annotated[
        Path | None,
        typer.Option(
            "--inbox-schema",
            dir_okay=False,
            help="File holding the JSON Schema that every inbox message must satisfy.",
            show_default=False,
        ),
    ] = None,
    lease_seconds: Annotated[
        float | None,
        typer.Option(
            "--lease-seconds",
            min=1,
            max=600,
            help="How long the service has to ack a wake before it is retried (default 30).",
            show_default=False,
        ),
    ] = None,
    request_timeout_seconds: Annotated[
        float | None,
        typer.Option(
            "--request-timeout-seconds",
            min=1,
            max=600,
            help="How long one wake request may run before the wake is sent again"
            " (default: the lease).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Register a remote type, run by a webhook service, or update it if it exists."""
    as_json, url, token = _inherit(ctx, as_json, url, token)
    args = _schema_file(args_schema, "--args-schema")
    inbox = _schema_file(inbox_schema, "--inbox-schema")

    async def act(client: AsyncClient) -> EntityType:
        return await client.register_type(
            name,
            webhook,
            description=description,
            args_schema=args,
            inbox_schema=inbox,
            lease_seconds=lease_seconds,
            request_timeout_seconds=request_timeout_seconds,
        )

    found = run(ctx, url, token, as_json, act)
    if as_json:
        print_json(dataclasses.asdict(found))
    else:
        console().print(
            f"registered remote type [bold]{escape(found.name)}[/]"
            f" → {escape(found.webhook_url or '')}"
        )


@app.command()
def delete(
    ctx: typer.Context,
    name: TypeName,
    as_json: JsonOption = False,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Delete a remote type (refused while entities of it exist)."""
    as_json, url, token = _inherit(ctx, as_json, url, token)

    async def act(client: AsyncClient) -> None:
        await client.delete_type(name)

    run(ctx, url, token, as_json, act)
    if as_json:
        print_json({"name": name, "deleted": True})
    else:
        console().print(f"deleted remote type [bold]{escape(name)}[/]")
