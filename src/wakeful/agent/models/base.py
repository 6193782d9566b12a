"""The model interface: one streaming call, provider-neutral messages and events.

Adapters translate this to a provider's API (``openai.py``, ``anthropic.py``), and
:mod:`.test` is a scripted model for tests and examples. Errors a provider may recover
from (rate limits, server errors, timeouts) surface as :class:`ModelError` with
``retryable`` set and, when the provider said so, ``retry_after``; the agent loop retries
those with bounded backoff. Adapters do not retry on their own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "tool_calls", "length", "content_filter", "error"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Message:
    """One conversation turn. Assistant turns may carry tool calls; tool turns answer one."""

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None  # the tool's name, on tool turns
    is_error: bool = False  # a tool turn that reports a failure


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON Schema of the arguments object


@dataclass(frozen=True, slots=True)
class ModelRequest:
    messages: tuple[Message, ...]
    system: str | None = None
    tools: tuple[ToolSpec, ...] = ()
    max_tokens: int | None = None
    temperature: float | None = None
    options: dict[str, Any] = field(default_factory=dict)  # provider-specific extras


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallReady:
    """A tool call whose arguments have fully arrived."""

    call: ToolCall


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Finish:
    reason: FinishReason


ModelEvent = TextDelta | ReasoningDelta | ToolCallReady | Usage | Finish


class ModelError(Exception):
    """A failed model call. ``retryable`` errors may succeed if tried again later."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status


class Model(ABC):
    """A chat model that streams text, reasoning, tool calls and usage."""

    #: ``provider:model`` as users name it, recorded on every run and step.
    name: str = "model"
    #: Shown wherever the model's output appears, e.g. "offline demo model".
    label: str | None = None

    @abstractmethod
    def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        """Stream one response. Ends with a :class:`Finish` (usage may come before it)."""


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds form; dates are ignored)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(0.0, seconds)
