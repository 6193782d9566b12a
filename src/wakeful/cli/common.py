"""What the client commands share: where the server is, parsing JSON arguments, printing
results, and turning every client error into a message with a hint (no traceback).

Human output goes through Rich; ``--json`` output is plain JSON on stdout and nothing
else, so scripts can parse it. Errors go to stderr in both modes (as JSON with
``--json``), with exit status 1; bad arguments are usage errors, with status 2.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import orjson
import typer
from rich.console import Console
from rich.markup import escape

from ..client import AsyncClient
from ..client.async_client import DEFAULT_URL
from ..errors import (
    InvalidEntityURL,
    InvalidURL,
    LocalTypeConflict,
    ServerUnreachable,
    TypeInUse,
    Unauthorized,
    UnknownEntity,
    UnknownEntityType,
    WakefulError,
    WebhookURLRejected,
)

T = TypeVar("T")

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        help=f"Server URL; overrides the global --url (default: WAKEFUL_URL or {DEFAULT_URL}).",
        show_default=False,
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        help="Bearer token; overrides the global --token (default: WAKEFUL_TOKEN).",
        show_default=False,
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON only, for scripts.")
]


@dataclass(slots=True)
class Connection:
    """The global ``--url`` / ``--token``, kept on the root context for the commands."""

    url: str = DEFAULT_URL
    token: str | None = None


def connection(ctx: typer.Context, url: str | None, token: str | None) -> Connection:
    root = ctx.find_root().obj
    base = root if isinstance(root, Connection) else Connection()
    return Connection(url or base.url, token or base.token)


# The next step for each kind of error a user meets at the command line; the first class
# ``error`` is an instance of wins, so subclasses come before their kinds.
_HINTS: tuple[tuple[type[WakefulError], str], ...] = (
    (
        ServerUnreachable,
        "start one with `wakeful serve`, or point --url (or WAKEFUL_URL) at a running one",
    ),
    (InvalidURL, f"use a URL like {DEFAULT_URL}"),
    (Unauthorized, "this server needs a token: pass --token or set WAKEFUL_TOKEN"),
    (UnknownEntityType, "`wakeful types` lists the types this server runs"),
    (TypeInUse, "`wakeful ps --type TYPE` lists them"),
    (LocalTypeConflict, "types defined in Python change with the code the server runs"),
    (WebhookURLRejected, "use https://…, or http:// to localhost or 127.0.0.x"),
    (UnknownEntity, "`wakeful ps` lists the entities"),
    (InvalidEntityURL, "entity URLs look like /type/id (see `wakeful ps`)"),
)


def _hint(error: WakefulError) -> str | None:
    for kind, hint in _HINTS:
        if isinstance(error, kind):
            return hint
    return None


def fail(error: WakefulError, as_json: bool) -> typer.Exit:
    """Report ``error`` on stderr; the caller raises the returned exit (status 1)."""
    hint = _hint(error)
    if as_json:
        body = {"error": {"code": error.code, "message": error.message, "status": error.status}}
        if hint:
            body["error"]["hint"] = hint
        sys.stderr.write(orjson.dumps(body).decode() + "\n")
    else:
        console = Console(stderr=True, highlight=False, soft_wrap=True)
        console.print(f"[bold red]error:[/] {escape(error.message)}")
        if hint:
            console.print(f"[dim]hint: {escape(hint)}[/]")
    return typer.Exit(1)


def run(
    ctx: typer.Context,
    url: str | None,
    token: str | None,
    as_json: bool,
    action: Callable[[AsyncClient], Awaitable[T]],
) -> T:
    """Run ``action`` with a client for the chosen server; errors end the command."""
    target = connection(ctx, url, token)
    try:
        return asyncio.run(_with_client(target, action))
    except WakefulError as error:
        raise fail(error, as_json) from None


async def _with_client(target: Connection, action: Callable[[AsyncClient], Awaitable[T]]) -> T:
    async with AsyncClient(target.url, target.token) as client:
        return await action(client)


def json_argument(text: str, option: str) -> Any:
    """``text`` parsed as JSON, or a usage error naming ``option``."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise typer.BadParameter(
            f"not valid JSON ({exc}): {text[:80]!r}", param_hint=option
        ) from None


def message_argument(text: str, option: str) -> Any:
    """A message: JSON when it parses, else the text itself. Text that starts like a JSON
    object or array must be valid JSON, so a typo there is an error, not a string."""
    if text.lstrip().startswith(("{", "[")):
        return json_argument(text, option)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value).decode() + "\n")
    sys.stdout.flush()


def console() -> Console:
    """A console on the current stdout (created per command, so redirection works)."""
    return Console(highlight=False, soft_wrap=True)
