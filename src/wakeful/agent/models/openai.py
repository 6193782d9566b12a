"""OpenAI-compatible Chat Completions, through the official ``openai`` SDK.

One adapter serves every server that speaks the Chat Completions wire format (OpenAI,
vLLM, Ollama, LM Studio, OpenRouter, ...), so it sticks to the common subset and
tolerates the known dialects: tool-call fragments are assembled by ``index`` whether the
server sends calls one after another or interleaved; missing call ids are generated;
reasoning arrives as ``reasoning_content`` (DeepSeek, older vLLM) or ``reasoning``
(OpenRouter, newer vLLM, Ollama); a server that says ``stop`` after calling tools
(some Ollama versions) is reported as ``tool_calls``.

The SDK's own retries are switched off (``max_retries=0``): the agent loop owns retries
so that each attempt is visible on the entity's stream and bounded in one place.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import openai
from openai.types.chat import ChatCompletionChunk

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

MaxTokensParameter = Literal["max_tokens", "max_completion_tokens"]

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}
# Field names OpenAI-compatible servers use for streamed reasoning text.
_REASONING_FIELDS = ("reasoning_content", "reasoning")


class OpenAIModel(Model):
    """A chat model behind an OpenAI-compatible ``base_url``.

    ``max_tokens_parameter`` picks how :attr:`ModelRequest.max_tokens` is sent: OpenAI
    itself wants ``max_completion_tokens`` (its reasoning models reject ``max_tokens``),
    while many compatible servers only know ``max_tokens``; by default the former is
    used for api.openai.com and the latter elsewhere.
    """

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = 600.0,
        default_headers: Mapping[str, str] | None = None,
        max_tokens_parameter: MaxTokensParameter | None = None,
        client: openai.AsyncOpenAI | None = None,
    ) -> None:
        self.model = model
        self.name = f"openai:{model}"
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self._api_key = api_key
        self._timeout = timeout
        self._default_headers = dict(default_headers or {})
        is_openai = self.base_url is None or "api.openai.com" in self.base_url
        self.max_tokens_parameter: MaxTokensParameter = max_tokens_parameter or (
            "max_completion_tokens" if is_openai else "max_tokens"
        )
        self._clients: LoopClients[openai.AsyncOpenAI] = LoopClients(
            lambda: openai.AsyncOpenAI(
                api_key=self._api_key,
                base_url=self.base_url,
                timeout=self._timeout,
                max_retries=0,
                default_headers=self._default_headers or None,
            ),
            client,
        )

    def client(self) -> openai.AsyncOpenAI:
        return self._clients.get()

    async def aclose(self) -> None:
        await self._clients.aclose()

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        try:
            response = await self.client().chat.completions.create(
                model=self.model,
                messages=cast(Any, to_messages(request)),
                tools=cast(Any, to_tools(request)) if request.tools else openai.omit,
                temperature=request.temperature if request.temperature is not None else openai.omit,
                stream=True,
                stream_options={"include_usage": True},
                extra_body=self._extra_body(request) or None,
            )
        except openai.OpenAIError as exc:
            raise to_model_error(exc, self.name) from exc

        state = _StreamState()
        async with contextlib.aclosing(self._read(response)) as chunks:
            async for chunk in chunks:
                for event in state.feed(chunk):
                    yield event
        if state.reason is None:
            raise ModelError(
                f"{self.name}: the stream ended before the response did", retryable=True
            )
        for event in state.finish():
            yield event

    async def _read(
        self, response: openai.AsyncStream[ChatCompletionChunk]
    ) -> AsyncGenerator[ChatCompletionChunk, None]:
        """The stream's chunks; any failure while reading them becomes a ModelError."""
        async with response:
            iterator = response.__aiter__()
            while True:
                try:
                    chunk = await anext(iterator)
                except StopAsyncIteration:
                    return
                except openai.OpenAIError as exc:
                    raise to_model_error(exc, self.name) from exc
                except Exception as exc:
                    raise stream_failure(self.name, exc) from exc
                yield chunk

    def _extra_body(self, request: ModelRequest) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if request.max_tokens is not None:
            body[self.max_tokens_parameter] = request.max_tokens
        body.update(request.options)
        return body


def to_messages(request: ModelRequest) -> list[dict[str, Any]]:
    """The Chat Completions ``messages`` array for a request."""
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    messages.extend(_message(message) for message in request.messages)
    return messages


def _message(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        # Chat Completions has no error flag on tool results; say it in the content.
        content = message.content
        if message.is_error and not content.lower().startswith("error"):
            content = f"Error: {content}"
        return {"role": "tool", "tool_call_id": message.tool_call_id or "", "content": content}
    if message.role == "assistant" and message.tool_calls:
        return {
            "role": "assistant",
            "content": message.content or None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
                }
                for call in message.tool_calls
            ],
        }
    return {"role": message.role, "content": message.content}


def to_tools(request: ModelRequest) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {
                "name": spec.name,
                "description": spec.description,
                "parameters": spec.parameters,
            },
        }
        for spec in request.tools
    ]


@dataclass(slots=True)
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _StreamState:
    """Turns chunks into events; tool calls are held until the choice finishes, because
    a server may interleave the fragments of parallel calls."""

    calls: dict[int, _PartialCall] = field(default_factory=dict)
    reason: str | None = None
    usage: Usage | None = None
    emitted_calls: bool = False

    def feed(self, chunk: ChatCompletionChunk) -> list[ModelEvent]:
        events: list[ModelEvent] = []
        if chunk.usage is not None:
            self.usage = Usage(
                input_tokens=chunk.usage.prompt_tokens or 0,
                output_tokens=chunk.usage.completion_tokens or 0,
            )
        for choice in chunk.choices:
            if choice.index != 0:
                continue
            delta = choice.delta
            extra = delta.model_extra or {}
            for name in _REASONING_FIELDS:
                text = extra.get(name)
                if isinstance(text, str) and text:
                    events.append(ReasoningDelta(text))
                    break
            if delta.content:
                events.append(TextDelta(delta.content))
            if delta.refusal:
                events.append(TextDelta(delta.refusal))
            for fragment in delta.tool_calls or ():
                partial = self.calls.setdefault(fragment.index, _PartialCall())
                if fragment.id:
                    partial.id = fragment.id
                function = fragment.function
                if function is not None:
                    if function.name:
                        partial.name += function.name
                    if function.arguments:
                        partial.arguments.append(function.arguments)
            if choice.finish_reason is not None:
                self.reason = choice.finish_reason
                events.extend(self._ready_calls())
        return events

    def _ready_calls(self) -> list[ModelEvent]:
        if self.emitted_calls:
            return []
        self.emitted_calls = True
        return [
            ToolCallReady(
                ToolCall(
                    id=partial.id or f"call_{uuid.uuid4().hex[:24]}",
                    name=partial.name,
                    arguments=parse_arguments("".join(partial.arguments)),
                )
            )
            for _, partial in sorted(self.calls.items())
        ]

    def finish(self) -> list[ModelEvent]:
        events = self._ready_calls()
        if self.usage is not None:
            events.append(self.usage)
        reason = _FINISH.get(self.reason or "stop", "stop")
        if self.calls and reason == "stop":
            reason = "tool_calls"
        events.append(Finish(reason))
        return events


def to_model_error(exc: openai.OpenAIError, name: str) -> ModelError:
    """Classify an SDK error: rate limits, 408/409, 5xx, timeouts and connection
    failures are worth retrying; other client errors are not."""
    if isinstance(exc, openai.APITimeoutError):
        return ModelError(f"{name}: the request timed out", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return ModelError(f"{name}: could not connect ({exc})", retryable=True)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        detail = _detail(exc.body) or exc.message
        retryable = status in (408, 409, 429) or status >= 500
        hint = ""
        if status == 401:
            hint = " (check OPENAI_API_KEY)"
        elif status == 404:
            hint = " (check the model name and base URL)"
        return ModelError(
            f"{name}: HTTP {status}: {detail}{hint}",
            retryable=retryable,
            retry_after=_retry_after(exc.response.headers) if retryable else None,
            status=status,
        )
    if isinstance(exc, openai.APIResponseValidationError):
        return ModelError(f"{name}: unexpected response: {exc}")
    if isinstance(exc, openai.APIError):
        # An error object inside a stream that had started fine: the server failed
        # while generating, which is transient as far as the request is concerned.
        return ModelError(f"{name}: error during streaming: {exc.message}", retryable=True)
    return ModelError(f"{name}: {exc}")


def _detail(body: object) -> str | None:
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(error, str):
            return error
    return None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    return parse_retry_after(headers.get("retry-after"))
