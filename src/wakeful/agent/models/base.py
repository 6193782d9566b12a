"""The model interface: one streaming call, provider-neutral messages and events.

Adapters translate this to a provider's API (``openai.py``, ``anthropic.py``), and
:mod:`.test` is a scripted model for tests and examples. Errors a provider may recover
from (rate limits, server errors, timeouts) surface as :class:`ModelError` with
``retryable`` set and, when the provider said so, ``retry_after``; the agent loop retries
those with bounded backoff. Adapters do not retry on their own.

Tool-call arguments that are not a JSON object (models do emit broken JSON) never raise:
the call arrives with ``arguments == {INVALID_JSON_KEY: raw_text}``. Keeping the raw text
inside ``arguments`` means it survives being persisted and rebuilt into history, a loop
can report it precisely (see :func:`invalid_arguments`), and even a loop that does not
look for it gets a validation error from a tool schema that forbids unknown fields,
rather than running the tool with made-up arguments.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "tool_calls", "length", "content_filter", "error"]


#: The key under which a tool call carries arguments that were not a valid JSON object.
INVALID_JSON_KEY = "__invalid_json__"


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


def parse_arguments(raw: str) -> dict[str, Any]:
    """Decode streamed tool-call arguments; an empty string means no arguments.

    Anything that is not a JSON object comes back as ``{INVALID_JSON_KEY: raw}`` so the
    loop can answer the model with a tool error instead of failing the step.
    """
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {INVALID_JSON_KEY: raw}
    if not isinstance(value, dict):
        return {INVALID_JSON_KEY: raw}
    return value


def invalid_arguments(call: ToolCall) -> str | None:
    """The raw text of a call whose arguments were not a JSON object, else ``None``."""
    raw = call.arguments.get(INVALID_JSON_KEY)
    if len(call.arguments) == 1 and isinstance(raw, str):
        return raw
    return None


@dataclass(frozen=True, slots=True)
class Message:
    """One conversation turn. Assistant turns may carry tool calls; tool turns answer one."""

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None  # the tool's name, on tool turns
    is_error: bool = False  # a tool turn that reports a failure
    # Reasoning an assistant turn produced, with the provider's signature for it.
    # Anthropic requires signed thinking to be sent back on turns that called tools
    # when extended thinking is on; other adapters ignore both fields.
    reasoning: str = ""
    reasoning_signature: str | None = None


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
    """Reasoning text. A delta with a ``signature`` (and usually empty text) closes a
    signed reasoning block; keep the signature to send the reasoning back later."""

    text: str
    signature: str | None = None


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
    #: Tokens this model's context window holds, when the model knows it; otherwise the
    #: table in :mod:`.windows` is asked.
    context_window: int | None = None

    @abstractmethod
    def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        """Stream one response. Ends with a :class:`Finish` (usage may come before it).

        Consume it with ``contextlib.aclosing`` (or to the end): leaving the generator
        early otherwise keeps its HTTP response open until it is garbage collected.
        """

    async def aclose(self) -> None:
        """Release the connections this model holds for the running event loop.

        Call it before the loop closes: an SDK client collected after its loop has
        closed can only complain about it. Models without connections do nothing."""
        return None


#: The longest a retry waits, whatever a provider asks: a pass holds its entity's lease
#: while it waits, and a provider's "retry in a day" is better met by failing the run.
MAX_RETRY_AFTER_SECONDS = 60.0


def bounded_retry_after(seconds: float) -> float:
    """``seconds`` within 0 and :data:`MAX_RETRY_AFTER_SECONDS` (``NaN`` counts as 0)."""
    if not seconds > 0:
        return 0.0
    return min(seconds, MAX_RETRY_AFTER_SECONDS)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds form; dates are ignored),
    bounded by :data:`MAX_RETRY_AFTER_SECONDS`."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if math.isnan(seconds):
        return None
    return bounded_retry_after(seconds)


def stream_failure(name: str, error: Exception) -> ModelError:
    """A failure below the SDK while reading a stream (a read timeout, a dropped
    connection, a malformed event), which some SDKs let through unwrapped. The request
    itself was fine, so it is worth retrying."""
    if "timeout" in type(error).__name__.lower():
        return ModelError(f"{name}: the request timed out", retryable=True)
    return ModelError(
        f"{name}: the response stream failed ({type(error).__name__}: {error})", retryable=True
    )
