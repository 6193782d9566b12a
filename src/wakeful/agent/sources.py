"""Budgeted context sources: what ``ctx.use_context(...)`` puts into the model's messages.

By default the model is sent the conversation on the stream. With ``ctx.use_context``, a
handler composes the messages from named sources instead, each with a token cap and a
cache tier, within a total budget::

    ctx.use_context(
        budget=6_000,
        sources={
            "rules": ContextSource(RULES, cache="pinned"),
            "docs": ContextSource(load_docs, max=2_000, cache="stable"),
            "conversation": ContextSource(conversation, max=4_000),
        },
    )

Sources are assembled from the most stable to the most volatile (``pinned``, then
``stable``, then ``volatile``; in the order given within a tier), so the unchanging part
of the request comes first, where provider prompt caches can reuse it. A source over its
``max`` is cut to it; when all of them pass ``budget``, the most volatile are cut first,
and pinned sources never are. A string is cut at its end; a list of messages loses its
oldest turns (an assistant turn keeps its tool results), always keeping its newest one.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeAlias, get_args

from .models.base import Message
from .tokens import TokenCounter, count_messages

if TYPE_CHECKING:
    from ..entities.context import Context, ContextBudget

CacheTier = Literal["pinned", "stable", "volatile"]
TIERS: tuple[CacheTier, ...] = get_args(CacheTier)
Produced: TypeAlias = "str | Sequence[Message]"
Content: TypeAlias = (
    "str | Sequence[Message] | Callable[[Context], str | Sequence[Message]]"
    " | Callable[[Context], Awaitable[str | Sequence[Message]]]"
)
TRUNCATED = "\n[truncated to fit its context budget]"


@dataclass(frozen=True)
class ContextSource:
    """One named part of the model's context: ``content`` (a string, messages, or a
    function of the handler's context giving either, called before every model request,
    and awaited if it is async), at most ``max`` tokens of it, in a ``cache`` tier."""

    content: Content
    max: int | None = None
    cache: CacheTier = "volatile"

    def __post_init__(self) -> None:
        if self.cache not in TIERS:
            raise ValueError(f"cache must be one of {list(TIERS)}, got {self.cache!r}")
        if self.max is not None and (isinstance(self.max, bool) or self.max < 1):
            raise ValueError("a context source's max must be a positive number of tokens")


def conversation(ctx: Context) -> list[Message]:
    """The conversation on the stream (compacted, as the agent sends it by default): the
    usual content of a volatile source."""
    return ctx.agent.conversation()


async def _produce(ctx: Context, source: ContextSource) -> list[Message]:
    value: object = source.content
    if callable(value):
        value = value(ctx)
        if inspect.isawaitable(value):
            value = await value
    if isinstance(value, str):
        return [Message("system", value)] if value else []
    if not isinstance(value, Sequence) or not all(isinstance(m, Message) for m in value):
        raise TypeError("a context source gives a string or a sequence of Message")
    return list(value)


def _groups(messages: list[Message]) -> list[list[Message]]:
    """Turns that are cut whole: a tool result stays with the turn that called it."""
    groups: list[list[Message]] = []
    for message in messages:
        if message.role == "tool" and groups:
            groups[-1].append(message)
        else:
            groups.append([message])
    return groups


def _cut_text(message: Message, counter: TokenCounter, tokens: int) -> Message:
    text = message.content
    low, high = 0, len(text)
    while low < high:  # the longest beginning that fits with the marker
        middle = (low + high + 1) // 2
        if count_messages(counter, [Message(message.role, text[:middle] + TRUNCATED)]) <= tokens:
            low = middle
        else:
            high = middle - 1
    return Message(message.role, text[:low] + TRUNCATED)


def fit(messages: list[Message], counter: TokenCounter, tokens: int) -> list[Message]:
    """``messages`` within ``tokens``, cut as the module says."""
    if count_messages(counter, messages) <= tokens:
        return messages
    if len(messages) == 1 and not messages[0].tool_calls:
        if count_messages(counter, [Message(messages[0].role, TRUNCATED)]) > tokens:
            return []  # no room even for the marker
        return [_cut_text(messages[0], counter, tokens)]
    kept: list[list[Message]] = []
    used = 0
    for group in reversed(_groups(messages)):
        size = count_messages(counter, group)
        if kept and used + size > tokens:
            break
        kept.append(group)
        used += size
    return [message for group in reversed(kept) for message in group]


async def assemble(ctx: Context, plan: ContextBudget, counter: TokenCounter) -> list[Message]:
    """The messages of ``plan``'s sources, each within its ``max``, all within budget."""
    ordered = sorted(plan.sources.items(), key=lambda item: TIERS.index(item[1].cache))
    parts: list[tuple[ContextSource, list[Message]]] = []
    for _, source in ordered:
        produced = await _produce(ctx, source)
        if source.max is not None:
            produced = fit(produced, counter, source.max)
        parts.append((source, produced))
    sizes = [count_messages(counter, messages) for _, messages in parts]
    # Over budget: the most volatile give way first; pinned sources never do.
    for index in range(len(parts) - 1, -1, -1):
        over = sum(sizes) - plan.budget
        if over <= 0:
            break
        source, messages = parts[index]
        if source.cache == "pinned":
            continue
        messages = fit(messages, counter, max(0, sizes[index] - over))
        parts[index] = (source, messages)
        sizes[index] = count_messages(counter, messages)
    return [message for _, messages in parts for message in messages]
