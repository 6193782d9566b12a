"""Rendering an entity's events in a terminal, as they arrive.

Text deltas are printed inline as they stream, so an answer appears word by word; every
other event that matters to a person watching (messages, runs starting and ending, tool
calls starting and finishing, errors, status changes) gets one line. Bookkeeping events
(wake records, cursors, steps) are left out: ``--json`` shows everything.
"""

from __future__ import annotations

from typing import Any

import orjson
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from ..client import Event

SHORT = 160


def short(value: Any, limit: int = SHORT) -> str:
    """A one-line preview of a JSON value: strings as they are, the rest as JSON."""
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Renderer:
    """Prints events to ``console``; keeps just enough memory to print changes only."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._open: tuple[str, str] | None = None  # (delta kind, step) printed inline
        self._streamed: set[tuple[str, str]] = set()
        self._runs: dict[str, str] = {}
        self._calls: dict[str, str] = {}

    def _line(self, markup: str) -> None:
        self._end_inline()
        self.console.print(markup)

    def _end_inline(self) -> None:
        if self._open is not None:
            self.console.print()
            self._open = None

    def _inline(self, kind: str, step: str, text: str, style: str) -> None:
        if self._open != (kind, step):
            self._end_inline()
            self._open = (kind, step)
            self._streamed.add((kind, step))
        self.console.print(Text(text, style=style), end="")
        self.console.file.flush()

    def finish(self) -> None:
        """End a line left open by streaming text."""
        self._end_inline()

    def show(self, event: Event) -> None:
        value = event.value if isinstance(event.value, dict) else {}
        kind = event.type
        if kind in ("text_delta", "reasoning_delta"):
            step = str(value.get("step_id", ""))
            style = "" if kind == "text_delta" else "dim italic"
            self._inline(kind, step, str(value.get("delta", "")), style)
        elif kind in ("text", "reasoning"):
            self._final_text(kind, event.key, value)
        elif kind == "run":
            self._run(event.key, value)
        elif kind == "tool_call":
            self._call(event.key, value)
        else:
            self._other(event, value)

    def _final_text(self, kind: str, step: str, value: dict[str, Any]) -> None:
        if (f"{kind}_delta", step) in self._streamed:
            if self._open == (f"{kind}_delta", step):
                self._end_inline()
            return
        if value.get("status", "completed") == "completed" and value.get("text"):
            style = "" if kind == "text" else "dim italic"
            self._end_inline()
            self.console.print(Text(str(value["text"]), style=style))

    def _run(self, key: str, value: dict[str, Any]) -> None:
        status = str(value.get("status"))
        previous = self._runs.get(key)
        self._runs[key] = status
        if status == previous:
            return
        if previous is None and status == "running":
            label = value.get("model_label") or value.get("model") or "model"
            self._line(f"[bold cyan]▶ run started[/] [dim]({escape(str(label))})[/]")
        elif status == "completed":
            tokens = f"{value.get('input_tokens', 0)} in / {value.get('output_tokens', 0)} out"
            self._line(
                f"[bold green]■ run completed[/] [dim]({value.get('steps', 0)} steps, "
                f"{tokens} tokens)[/]"
            )
        elif status == "failed":
            error = escape(short(value.get("error") or "unknown error"))
            self._line(f"[bold red]■ run failed:[/] {error}")
        elif status == "aborted":
            self._line("[bold yellow]■ run stopped[/]")
        elif status == "awaiting_tool_results":
            self._line("[yellow]⏸ run waiting for tool results[/]")
        elif status == "running":
            self._line("[cyan]▶ run continues[/]")

    def _call(self, key: str, value: dict[str, Any]) -> None:
        status = str(value.get("status"))
        previous = self._calls.get(key)
        self._calls[key] = status
        if status == previous:
            return
        name = escape(str(value.get("name", "tool")))
        if previous is None:
            args = escape(short(value.get("args", {})))
            self._line(f"[magenta]⚙ {name}[/]({args}) [dim]{escape(key)}[/]")
        if status == "completed":
            self._line(f"[green]  ✓ {name}[/] → {escape(short(value.get('result')))}")
        elif status == "failed":
            self._line(f"[red]  ✗ {name} failed:[/] {escape(short(value.get('error')))}")
        elif status == "denied":
            self._line(f"[red]  ✗ {name} denied[/] {escape(short(value.get('error') or ''))}")
        elif status == "awaiting_approval":
            self._line(f"[yellow]  ? {name} waits for approval[/] [dim](call {escape(key)})[/]")
        elif status == "awaiting_result":
            self._line(f"[yellow]  … {name} waits for a result[/] [dim](call {escape(key)})[/]")

    def _other(self, event: Event, value: dict[str, Any]) -> None:
        kind = event.type
        if kind == "entity_created":
            self._line(f"[dim]● created {escape(str(value.get('url', '')))}[/]")
        elif kind == "inbox":
            sender = value.get("from")
            who = f" from {escape(str(sender))}" if sender else ""
            self._line(f"[bold]» message{who}:[/] {escape(short(value.get('payload')))}")
        elif kind == "signal":
            payload = value.get("payload")
            extra = f" {escape(short(payload))}" if payload is not None else ""
            self._line(f"[yellow]⚡ signal {escape(str(value.get('name')))}[/]{extra}")
        elif kind == "tool_result":
            status = escape(str(value.get("status", "answer")))
            self._line(f"[dim]↩ answer for call {escape(event.key)}: {status}[/]")
        elif kind == "error":
            where = escape(str(value.get("kind", "error")))
            self._line(f"[bold red]error ({where}):[/] {escape(short(value.get('message')))}")
        elif kind == "manifest" and event.key == "status":
            status = escape(str(value.get("status")))
            self._line(f"[yellow]status → {status}[/]")
        elif kind == "entity_stopped":
            self._line(f"[bold yellow]■ entity {escape(str(value.get('status', 'stopped')))}[/]")
        elif kind == "child_status":
            child = escape(str(value.get("url")))
            self._line(f"[dim]child {child} {escape(str(value.get('status')))}[/]")
        elif kind == "tags" and event.operation != "delete":
            self._line(f"[dim]tag {escape(event.key)}={escape(str(value.get('value')))}[/]")
        elif kind == "timer":
            self._line(f"[dim]⏰ {escape(str(value.get('name')))}[/]")
        elif kind.startswith("state:"):
            shown = "" if event.operation == "delete" else f" {escape(short(event.value))}"
            self._line(
                f"[blue]{escape(kind)}[/] [dim]{event.operation} {escape(event.key)}[/]{shown}"
            )
