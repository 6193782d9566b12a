"""``wakeful observe``: watch an entity live, until Ctrl-C or until it goes idle.

The client's observer reconnects by itself after a dropped connection or a server
restart, so a long watch survives both. With ``--until-idle`` the whole stream is read
first (shown only with ``--from-start``), so that the command knows whether work is
pending at the moment it attaches: it exits at once for an idle entity, and otherwise
when every input has been handled and no run is going.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ..client import AsyncClient, Event
from .common import JsonOption, TokenOption, UrlOption, console, print_json, run
from .entities import EntityUrl
from .render import Renderer

# Events that wake an entity: each is pending until a ``wake`` record (a finished
# handler pass) follows it. ``entity_created`` counts, since creation wakes it too.
INPUTS = frozenset({"entity_created", "inbox", "signal", "child_status", "timer", "tool_result"})
HALTED = frozenset({"paused", "failed", "stopped", "killed"})


class IdleTracker:
    """Whether the entity has nothing left to do, judged from the events seen so far.

    Idle means no run is going and either every input was followed by a finished pass,
    or the entity is halted (paused, failed, stopped, killed) so that inputs wait; an
    agent run waiting for a tool result or an approval counts as idle, since only
    someone outside can move it on."""

    def __init__(self) -> None:
        self._seen = 0
        self._last_input = -1
        self._last_wake = -1
        self._running: set[str] = set()
        self._halted = False

    def see(self, event: Event) -> None:
        self._seen += 1
        value = event.value if isinstance(event.value, dict) else {}
        if event.type in INPUTS:
            self._last_input = self._seen
            if event.type == "signal" and value.get("name") == "resume":
                self._halted = False  # a paused or failed entity is about to go on
        elif event.type == "wake":
            self._last_wake = self._seen
        elif event.type == "run":
            if value.get("status") == "running":
                self._running.add(event.key)
            else:
                self._running.discard(event.key)
        elif event.type == "manifest" and event.key == "status":
            self._halted = value.get("status") in HALTED
        elif event.type == "entity_stopped":
            self._halted = True

    @property
    def idle(self) -> bool:
        if self._running:
            return False
        return self._halted or self._last_wake > self._last_input


def observe(
    ctx: typer.Context,
    entity: EntityUrl,
    from_start: Annotated[
        bool, typer.Option("--from-start", help="Replay the entity's history first.")
    ] = False,
    until_idle: Annotated[
        bool,
        typer.Option(
            "--until-idle",
            help="Exit once the entity is idle: its inputs handled and no run going.",
        ),
    ] = False,
    as_json: JsonOption = False,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Watch an entity's events live: streaming text, tool calls, runs, status changes.

    Runs until Ctrl-C (or, with --until-idle, until the entity has nothing left to do).
    With --json, prints one JSON object per event and line."""
    out = console()
    renderer = None if as_json else Renderer(out)

    async def watch(client: AsyncClient) -> None:
        info = await client.get(entity)  # a clear error now for an unknown entity
        if renderer is not None:
            out.print(f"[dim]observing {info.url} ({info.type}, {info.status}); Ctrl-C to stop[/]")
        tracker = IdleTracker()
        offset = "-1" if (from_start or until_idle) else "now"
        showing = from_start or offset == "now"
        async for event in client.observe(info.url, offset):
            tracker.see(event)
            if showing:
                if renderer is not None:
                    renderer.show(event)
                else:
                    print_json(event.to_json())
            if event.caught_up:
                showing = True
                if until_idle and tracker.idle:
                    return

    try:
        run(ctx, url, token, as_json, watch)
    except KeyboardInterrupt:
        pass
    finally:
        if renderer is not None:
            renderer.finish()
