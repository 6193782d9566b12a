"""Counting the tokens of a model request, to know how full the context window is.

The count that matters is the one the provider makes, and a provider only tells it after
the fact (a step's ``input_tokens``). So the size of the *next* request is estimated: a
:class:`TokenCounter` measures it, and :func:`calibrated` corrects that measure by how far
the same counter was off on the last step the provider reported. The default counter is a
fast character estimate; :class:`TiktokenCounter` (the ``tiktoken`` extra) counts with a
real byte-pair encoding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import orjson

from .._extras import require
from .models.base import Message, ModelRequest, ToolSpec

if TYPE_CHECKING:
    from tiktoken import Encoding

#: Characters per token of the default estimate: about right for English prose and code
#: with the usual encodings, and cheap enough to run before every model call.
CHARS_PER_TOKEN = 4
#: Tokens a provider adds around each message (its role and separators).
MESSAGE_OVERHEAD = 4


@runtime_checkable
class TokenCounter(Protocol):
    """Counts the tokens of a piece of text."""

    def count(self, text: str) -> int: ...


@dataclass(frozen=True, slots=True)
class Estimate:
    """The default counter: one token per :data:`CHARS_PER_TOKEN` characters, rounded up."""

    chars_per_token: int = CHARS_PER_TOKEN

    def count(self, text: str) -> int:
        return -(-len(text) // self.chars_per_token)


class TiktokenCounter:
    """Counts with a ``tiktoken`` encoding: a name (``"o200k_base"``, which ``tiktoken``
    loads, and caches, from its usual place) or an ``Encoding`` already made."""

    def __init__(self, encoding: str | Encoding = "o200k_base") -> None:
        tiktoken = require("tiktoken", extra="tiktoken", feature="TiktokenCounter")
        self.encoding: Encoding = (
            tiktoken.get_encoding(encoding) if isinstance(encoding, str) else encoding
        )

    def count(self, text: str) -> int:
        # Special tokens are counted as text: a conversation may quote them.
        return len(self.encoding.encode(text, disallowed_special=()))


ESTIMATE = Estimate()


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def count_message(counter: TokenCounter, message: Message) -> int:
    tokens = MESSAGE_OVERHEAD + counter.count(message.content)
    for call in message.tool_calls:
        tokens += counter.count(call.name) + counter.count(_json(call.arguments))
    if message.reasoning:
        tokens += counter.count(message.reasoning)
    return tokens


def count_messages(counter: TokenCounter, messages: tuple[Message, ...] | list[Message]) -> int:
    return sum(count_message(counter, message) for message in messages)


def count_tools(counter: TokenCounter, tools: tuple[ToolSpec, ...]) -> int:
    return sum(
        counter.count(f"{spec.name} {spec.description} {_json(spec.parameters)}") for spec in tools
    )


def count_request(counter: TokenCounter, request: ModelRequest) -> int:
    """The tokens of everything a request sends: system prompt, tool schemas, messages."""
    system = MESSAGE_OVERHEAD + counter.count(request.system) if request.system else 0
    return system + count_tools(counter, request.tools) + count_messages(counter, request.messages)


def calibrated(estimate: int, last_estimate: int | None, last_reported: int | None) -> int:
    """``estimate`` corrected by how far the counter was off on the last step: the
    provider's ``last_reported`` input tokens for a request the counter had measured as
    ``last_estimate``. Without a reported step, the estimate itself."""
    if not last_estimate or not last_reported:
        return estimate
    return max(0, estimate + last_reported - last_estimate)
