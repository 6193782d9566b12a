"""Compacting a conversation: the older turns summarised by a model call into one row.

:func:`split` picks what to replace: the oldest final turns, leaving the newest ones that
fit ``keep_tokens`` word for word (and always the newest turn). :func:`summarise` asks the
model for a summary of them (an earlier summary among them is summarised again, so one
summary rolls forward), and the loop writes the answer as one ``context_inserted`` row:
one event in one append, so a crash leaves the whole summary or none of it, and a pass
that finds none simply compacts again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ..entities import vocabulary as v
from .history import SUMMARY_HEADING, Turn
from .models.base import (
    Message,
    Model,
    ModelError,
    ModelRequest,
    TextDelta,
    Usage,
    bounded_retry_after,
)
from .tokens import TokenCounter, count_messages

T = TypeVar("T")

SUMMARISER_SYSTEM = (
    "You compact conversations. You are given a transcript of the older part of a "
    "conversation between a user and an assistant with tools, and you write the summary "
    "the assistant will read instead of it."
)
#: The share of the window a transcript may take in the summary request, leaving room
#: for the instructions and the summary itself.
TRANSCRIPT_SHARE = 0.75


@dataclass(frozen=True, slots=True)
class Split:
    older: tuple[Turn, ...]
    kept: tuple[Turn, ...]

    @property
    def through(self) -> Turn:
        return self.older[-1]


def split(turns: Sequence[Turn], counter: TokenCounter, keep_tokens: int) -> Split | None:
    """The turns to replace and the turns to keep; None if nothing new can be replaced
    (only the newest turn, or only the latest summary, is older than what is kept)."""
    kept_tokens = 0
    cut = len(turns)
    for index in range(len(turns) - 1, -1, -1):
        size = count_messages(counter, turns[index].messages)
        if index < len(turns) - 1 and kept_tokens + size > keep_tokens:
            break
        kept_tokens += size
        cut = index
    older = list(turns[:cut])
    # A turn that can still change (a step waiting for results) is never summarised, nor
    # anything after it.
    for index, turn in enumerate(older):
        if not turn.final:
            del older[index:]
            break
    # The latest summary stands at its watermark, not at its own row: it cannot be the
    # watermark of the next one, so it needs a newer turn after it to be worth redoing.
    while older and older[-1].type == v.CONTEXT_INSERTED and older[-1].key.startswith("summary:"):
        older.pop()
    if not older:
        return None
    return Split(tuple(older), tuple(turns[len(older) :]))


def transcript(turns: Sequence[Turn]) -> str:
    """The turns as plain text for the summarising model."""
    lines: list[str] = []
    for turn in turns:
        for message in turn.messages:
            if message.role == "user" and message.content.startswith(SUMMARY_HEADING):
                earlier = message.content[len(SUMMARY_HEADING) :].strip()
                lines.append(f"[Summary of what came before]\n{earlier}")
            elif message.role == "user":
                lines.append(f"User: {message.content}")
            elif message.role == "assistant":
                if message.content:
                    lines.append(f"Assistant: {message.content}")
                lines.extend(
                    f"Assistant called {call.name}({call.arguments})" for call in message.tool_calls
                )
            elif message.role == "tool":
                label = "failed" if message.is_error else "returned"
                lines.append(f"Tool {message.name or ''} {label}: {message.content}")
            else:
                lines.append(f"[{message.content}]")
    return "\n\n".join(lines)


def bounded(text: str, counter: TokenCounter, tokens: int) -> str:
    """``text`` less its beginning, if it is longer than ``tokens``: the newest part of a
    transcript matters most, and the oldest was summarised once already, usually."""
    if counter.count(text) <= tokens:
        return text
    low, high = 0, len(text)
    while low < high:  # the shortest cut that fits
        middle = (low + high) // 2
        if counter.count(text[middle:]) <= tokens:
            high = middle
        else:
            low = middle + 1
    return "[... the oldest part is left out ...]\n" + text[low:]


@dataclass(frozen=True, slots=True)
class Summary:
    text: str
    usage: Usage


async def summarise(
    model: Model,
    older: Sequence[Turn],
    *,
    counter: TokenCounter,
    window: int,
    instructions: str,
    max_tokens: int | None,
    attempts: int,
    backoff: float,
    guard: Callable[[Awaitable[Summary]], Awaitable[Summary]],
) -> Summary:
    """The model's summary of ``older``. ``guard`` wraps each call (the loop's
    interruption and concurrency cap); retryable errors are tried ``attempts`` times."""
    text = bounded(transcript(older), counter, int(window * TRANSCRIPT_SHARE))
    request = ModelRequest(
        messages=(Message("user", f"<transcript>\n{text}\n</transcript>\n\n{instructions}"),),
        system=SUMMARISER_SYSTEM,
        max_tokens=max_tokens,
    )
    for attempt in range(1, attempts + 1):
        try:
            return await guard(_ask(model, request))
        except ModelError as exc:
            if not exc.retryable or attempt == attempts:
                raise
            delay = (
                bounded_retry_after(exc.retry_after)
                if exc.retry_after is not None
                else backoff * 2 ** (attempt - 1)
            )
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


async def _ask(model: Model, request: ModelRequest) -> Summary:
    parts: list[str] = []
    usage = Usage()
    async for event in model.stream(request):
        if isinstance(event, TextDelta):
            parts.append(event.text)
        elif isinstance(event, Usage):
            usage = Usage(
                usage.input_tokens + event.input_tokens, usage.output_tokens + event.output_tokens
            )
    return Summary("".join(parts).strip(), usage)
