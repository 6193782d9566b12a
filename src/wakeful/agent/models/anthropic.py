"""Anthropic Messages, through the official ``anthropic`` SDK.

The Messages API differs from Chat Completions in ways the neutral interface hides: the
system prompt is a parameter rather than a turn; tool results are ``tool_result`` blocks
in a *user* turn (all results of one assistant turn in one user turn, before any text);
turns may not be empty; ``max_tokens`` is required. Streamed thinking becomes
:class:`ReasoningDelta`, and its signature is passed on so that signed thinking can be
sent back, which the API requires on tool-calling turns when extended thinking is on.

The SDK's own retries are switched off (``max_retries=0``): the agent loop owns retries
so that each attempt is visible on the entity's stream and bounded in one place.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import anthropic
from anthropic.types import (
    InputJSONDelta,
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawContentBlockStopEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStopEvent,
    RawMessageStreamEvent,
    SignatureDelta,
    ThinkingDelta,
)
from anthropic.types import TextDelta as AnthropicTextDelta

from .base import (
    Finish,
    FinishReason,
    Message,
    Model,
    ModelError,
    ModelEvent,
    ModelRequest,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    ToolCallReady,
    Usage,
    parse_arguments,
    parse_retry_after,
    stream_failure,
)
from .clients import LoopClients

DEFAULT_MAX_TOKENS = 4096

_FINISH: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "refusal": "content_filter",
}
# Error types that can arrive inside a stream that had started with HTTP 200.
_TRANSIENT_TYPES = {"overloaded_error", "api_error", "rate_limit_error", "timeout_error"}


class AnthropicModel(Model):
    """A Claude model through the Messages API; ``max_tokens`` defaults to 4096."""

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = 600.0,
        default_headers: Mapping[str, str] | None = None,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        client: anthropic.AsyncAnthropic | None = None,
    ) -> None:
        self.model = model
        self.name = f"anthropic:{model}"
        self.base_url = base_url or os.environ.get("ANTHROPIC_BASE_URL") or None
        self.max_tokens = max_tokens
        self._api_key = api_key
        self._timeout = timeout
        self._default_headers = dict(default_headers or {})
        self._clients: LoopClients[anthropic.AsyncAnthropic] = LoopClients(
            lambda: anthropic.AsyncAnthropic(
                api_key=self._api_key,
                base_url=self.base_url,
                timeout=self._timeout,
                max_retries=0,
                default_headers=self._default_headers or None,
            ),
            client,
        )

    def client(self) -> anthropic.AsyncAnthropic:
        return self._clients.get()

    async def aclose(self) -> None:
        await self._clients.aclose()

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        system = "\n\n".join(
            part
            for part in (
                request.system,
                *(m.content for m in request.messages if m.role == "system"),
            )
            if part
        )
        try:
            response = await self.client().messages.create(
                model=self.model,
                max_tokens=request.max_tokens or self.max_tokens,
                messages=cast(Any, to_messages(request.messages)),
                system=system or anthropic.omit,
                tools=cast(Any, to_tools(request)) if request.tools else anthropic.omit,
                stream=True,
                extra_body=_extra_body(request) or None,
            )
        except anthropic.AnthropicError as exc:
            raise to_model_error(exc, self.name) from exc

        state = _StreamState()
        async with contextlib.aclosing(self._read(response)) as events:
            async for event in events:
                for item in state.feed(event):
                    yield item
        if not state.stopped:
            raise ModelError(
                f"{self.name}: the stream ended before the message did", retryable=True
            )
        for item in state.finish():
            yield item

    async def _read(
        self, response: anthropic.AsyncStream[RawMessageStreamEvent]
    ) -> AsyncGenerator[RawMessageStreamEvent, None]:
        """The stream's events; any failure while reading them becomes a ModelError."""
        async with response:
            iterator = response.__aiter__()
            while True:
                try:
                    event = await anext(iterator)
                except StopAsyncIteration:
                    return
                except anthropic.AnthropicError as exc:
                    raise to_model_error(exc, self.name) from exc
                except Exception as exc:
                    raise stream_failure(self.name, exc) from exc
                yield event


def _extra_body(request: ModelRequest) -> dict[str, Any]:
    # Recent SDKs no longer list sampling parameters, so they travel as extras.
    body: dict[str, Any] = {}
    if request.temperature is not None:
        body["temperature"] = request.temperature
    body.update(request.options)
    return body


def to_messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """The Messages API ``messages`` array: consecutive turns of one role are merged
    (so parallel tool results share one user turn) and empty turns are left out."""
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue  # sent as the ``system`` parameter
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        # Tool results must open their user turn; text typed after them follows.
        if turn["role"] == "user":
            turn["content"].sort(key=lambda block: block["type"] != "tool_result")
    return turns


def _blocks(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        result: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": message.tool_call_id or "",
            "content": message.content,
        }
        if message.is_error:
            result["is_error"] = True
        return [result]
    blocks: list[dict[str, Any]] = []
    if message.role == "assistant" and message.reasoning and message.reasoning_signature:
        blocks.append(
            {
                "type": "thinking",
                "thinking": message.reasoning,
                "signature": message.reasoning_signature,
            }
        )
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    if message.role == "assistant":
        blocks.extend(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
            for call in message.tool_calls
        )
    return blocks


def to_tools(request: ModelRequest) -> list[dict[str, Any]]:
    return [
        {"name": spec.name, "description": spec.description, "input_schema": spec.parameters}
        for spec in request.tools
    ]


@dataclass(slots=True)
class _Block:
    kind: str
    id: str = ""
    name: str = ""
    parts: list[str] = field(default_factory=list)
    signature: str | None = None


@dataclass(slots=True)
class _StreamState:
    """Turns stream events into model events. Content blocks arrive one at a time, so a
    tool call is ready as soon as its block stops."""

    blocks: dict[int, _Block] = field(default_factory=dict)
    input_tokens: int = 0
    output_tokens: int = 0
    stop_reason: str | None = None
    called_tools: bool = False
    stopped: bool = False

    def feed(self, event: RawMessageStreamEvent) -> list[ModelEvent]:
        if isinstance(event, RawMessageStartEvent):
            usage = event.message.usage
            self.input_tokens = (
                usage.input_tokens
                + (usage.cache_creation_input_tokens or 0)
                + (usage.cache_read_input_tokens or 0)
            )
            self.output_tokens = usage.output_tokens
        elif isinstance(event, RawContentBlockStartEvent):
            return self._start(event)
        elif isinstance(event, RawContentBlockDeltaEvent):
            return self._delta(event)
        elif isinstance(event, RawContentBlockStopEvent):
            return self._stop(event)
        elif isinstance(event, RawMessageDeltaEvent):
            if event.delta.stop_reason is not None:
                self.stop_reason = event.delta.stop_reason
            # Counts in message_delta are cumulative.
            self.output_tokens = event.usage.output_tokens
            if event.usage.input_tokens is not None:
                self.input_tokens = (
                    event.usage.input_tokens
                    + (event.usage.cache_creation_input_tokens or 0)
                    + (event.usage.cache_read_input_tokens or 0)
                )
        elif isinstance(event, RawMessageStopEvent):
            self.stopped = True
        return []

    def _start(self, event: RawContentBlockStartEvent) -> list[ModelEvent]:
        content = event.content_block
        block = _Block(kind=content.type)
        self.blocks[event.index] = block
        if content.type == "tool_use":
            block.id = content.id
            block.name = content.name
        elif content.type == "text" and content.text:
            return [TextDelta(content.text)]
        elif content.type == "thinking" and content.thinking:
            return [ReasoningDelta(content.thinking)]
        return []

    def _delta(self, event: RawContentBlockDeltaEvent) -> list[ModelEvent]:
        delta = event.delta
        block = self.blocks.setdefault(event.index, _Block(kind="unknown"))
        if isinstance(delta, AnthropicTextDelta) and delta.text:
            return [TextDelta(delta.text)]
        if isinstance(delta, ThinkingDelta) and delta.thinking:
            return [ReasoningDelta(delta.thinking)]
        if isinstance(delta, SignatureDelta):
            block.signature = (block.signature or "") + delta.signature
        elif isinstance(delta, InputJSONDelta):
            block.parts.append(delta.partial_json)
        return []

    def _stop(self, event: RawContentBlockStopEvent) -> list[ModelEvent]:
        block = self.blocks.get(event.index)
        if block is None:
            return []
        if block.kind == "tool_use":
            self.called_tools = True
            call = ToolCall(block.id, block.name, parse_arguments("".join(block.parts)))
            return [ToolCallReady(call)]
        if block.kind == "thinking" and block.signature:
            return [ReasoningDelta("", signature=block.signature)]
        return []

    def finish(self) -> list[ModelEvent]:
        reason = _FINISH.get(self.stop_reason or "end_turn", "stop")
        if self.called_tools and reason == "stop":
            reason = "tool_calls"
        return [Usage(self.input_tokens, self.output_tokens), Finish(reason)]


def to_model_error(exc: anthropic.AnthropicError, name: str) -> ModelError:
    """Classify an SDK error: rate limits, overload, 408/409, 5xx, timeouts and
    connection failures are worth retrying; other client errors are not."""
    if isinstance(exc, anthropic.APITimeoutError):
        return ModelError(f"{name}: the request timed out", retryable=True)
    if isinstance(exc, anthropic.APIConnectionError):
        return ModelError(f"{name}: could not connect ({exc})", retryable=True)
    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        error_type = _error_type(exc.body)
        detail = _detail(exc.body) or exc.message
        if status < 400:
            # An ``error`` event inside a stream that had started with 200.
            retryable = error_type in _TRANSIENT_TYPES
            return ModelError(
                f"{name}: error during streaming: {error_type or 'error'}: {detail}",
                retryable=retryable,
            )
        retryable = status in (408, 409, 429) or status >= 500
        hint = ""
        if status == 401:
            hint = " (check ANTHROPIC_API_KEY)"
        elif status == 404:
            hint = " (check the model name and base URL)"
        return ModelError(
            f"{name}: HTTP {status}: {detail}{hint}",
            retryable=retryable,
            retry_after=parse_retry_after(exc.response.headers.get("retry-after"))
            if retryable
            else None,
            status=status,
        )
    return ModelError(f"{name}: {exc}")


def _error(body: object) -> dict[str, Any] | None:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return error
    return None


def _error_type(body: object) -> str | None:
    error = _error(body)
    return str(error["type"]) if error and isinstance(error.get("type"), str) else None


def _detail(body: object) -> str | None:
    error = _error(body)
    return str(error["message"]) if error and isinstance(error.get("message"), str) else None
