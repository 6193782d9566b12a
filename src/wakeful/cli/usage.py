"""``wakeful usage``: tokens and cost of model calls, from ``GET /v1/usage``."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ..client import AsyncClient
from ..streams.usage import GROUP_BY
from .common import JsonOption, TokenOption, UrlOption, console, print_json, run


def _filter(name: str, help: str) -> Any:
    return typer.Option(f"--{name}", help=help, show_default=False)


def usage(
    ctx: typer.Context,
    entity: Annotated[str | None, _filter("entity", "Only this entity (/type/id).")] = None,
    type_name: Annotated[str | None, _filter("type", "Only entities of this type.")] = None,
    principal: Annotated[
        str | None, _filter("principal", "Only runs charged to this principal.")
    ] = None,
    run_id: Annotated[str | None, _filter("run", "Only this run (its id).")] = None,
    since: Annotated[str | None, _filter("since", "From this time (ISO 8601).")] = None,
    until: Annotated[str | None, _filter("until", "Before this time (ISO 8601).")] = None,
    group_by: Annotated[
        list[str] | None,
        _filter("group-by", f"Group by {', '.join(GROUP_BY)} (repeatable)."),
    ] = None,
    as_json: JsonOption = False,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Show tokens and cost of model calls, filtered and grouped."""
    groups = group_by or []

    async def act(client: AsyncClient) -> list[dict[str, Any]]:
        return await client.usage(
            entity=entity,
            type=type_name,
            principal=principal,
            run=run_id,
            since=since,
            until=until,
            group_by=groups,
        )

    totals = run(ctx, url, token, as_json, act)
    if as_json:
        print_json(totals)
        return
    table = Table(box=None, header_style="bold")
    for column in [*(group.upper() for group in groups), "CALLS", "INPUT", "OUTPUT", "COST USD"]:
        table.add_column(column, justify="left" if column.lower() in groups else "right")
    for total in totals:
        keys = [escape(str(total["group"].get(group) or "-")) for group in groups]
        unpriced = f" (+{total['unpriced']} unpriced)" if total["unpriced"] else ""
        table.add_row(
            *keys,
            str(total["calls"]),
            str(total["input_tokens"]),
            str(total["output_tokens"]),
            f"{total['cost']:.6f}{unpriced}",
        )
    console().print(table)
