"""Any pydantic-ai model as a Wakeful model (extra ``pydantic-ai``).

With the extra installed, a model name Wakeful does not know itself (``google-gla:…``,
``groq:…``, ``mistral:…``, ``bedrock:…``, ``openai-responses:…``), or any name behind a
``pydantic-ai:`` prefix, is resolved by pydantic-ai (its ``infer_model``, with its
providers' environment variables), and this adapter streams it for the agent loop: the
loop's messages and tools become pydantic-ai's, its streamed parts become Wakeful's
events. Provider errors worth retrying (rate limits, server errors, dropped connections)
become retryable :class:`ModelError`s, so the loop retries them with its bounded backoff,
each attempt on the stream.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

from pydantic_ai.exceptions import ModelAPIError, ModelHTTPError
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequestPart,
    ModelResponse,
    ModelResponsePart,
    PartDeltaEvent,
    PartStartEvent,
    SystemPromptPart,
    TextPart,
    TextPartDelta,
    ThinkingPart,
    ThinkingPartDelta,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.messages import ModelRequest as PydanticRequest
from pydantic_ai.models import Model as PydanticModel
from pydantic_ai.models import ModelRequestParameters, infer_model
from pydantic_ai.settings import ModelSettings
from pydantic_ai.tools import ToolDefinition

from . import base as w  # Wakeful's side of the translation

_FINISH: dict[str, w.FinishReason] = {
    "stop": "stop",
    "length": "length",
    "content_filter": "content_filter",
    "tool_call": "tool_calls",
    "error": "error",
}
_RETRYABLE_STATUS = frozenset({408, 409, 429})


class PydanticAIModel(w.Model):
    """A pydantic-ai model, by name (``groq:llama-3.3-70b-versatile``) or as an object."""

    def __init__(self, model: str | PydanticModel) -> None:
        self.model = infer_model(model) if isinstance(model, str) else model
        self.name = model if isinstance(model, str) else f"{self.model.system}:{model.model_name}"

    async def stream(self, request: w.ModelRequest) -> AsyncIterator[w.ModelEvent]:
        settings: ModelSettings = {}
        if request.max_tokens is not None:
            settings["max_tokens"] = request.max_tokens
        if request.temperature is not None:
            settings["temperature"] = request.temperature
        parameters = ModelRequestParameters(
            function_tools=[
                ToolDefinition(
                    name=tool.name,
                    description=tool.description,
                    parameters_json_schema=tool.parameters,
                )
                for tool in request.tools
            ],
            allow_text_output=True,
        )
        messages = to_messages(request.system, request.messages)
        try:
            async with self.model.request_stream(messages, settings, parameters) as streamed:
                async for event in streamed:
                    delta = _delta(event)
                    if delta is not None:
                        yield delta
                response = streamed.get()
        except ModelHTTPError as exc:
            retryable = exc.status_code in _RETRYABLE_STATUS or exc.status_code >= 500
            raise w.ModelError(
                f"{self.name}: {exc.message}", retryable=retryable, status=exc.status_code
            ) from exc
        except (ModelAPIError, OSError) as exc:
            raise w.ModelError(f"{self.name}: {exc}", retryable=True) from exc
        for call in _calls(response):
            yield w.ToolCallReady(call)
        yield w.Usage(response.usage.input_tokens, response.usage.output_tokens)
        finish = _FINISH.get(response.finish_reason or "stop", "stop")
        yield w.Finish("tool_calls" if _calls(response) else finish)


def _delta(event: Any) -> w.ModelEvent | None:
    if isinstance(event, PartStartEvent):
        if isinstance(event.part, TextPart) and event.part.content:
            return w.TextDelta(event.part.content)
        if isinstance(event.part, ThinkingPart) and event.part.content:
            return w.ReasoningDelta(event.part.content)
    elif isinstance(event, PartDeltaEvent):
        if isinstance(event.delta, TextPartDelta) and event.delta.content_delta:
            return w.TextDelta(event.delta.content_delta)
        if isinstance(event.delta, ThinkingPartDelta) and event.delta.content_delta:
            return w.ReasoningDelta(event.delta.content_delta)
    return None


def _calls(response: ModelResponse) -> list[w.ToolCall]:
    return [
        w.ToolCall(
            part.tool_call_id or f"call_{uuid.uuid4().hex[:24]}",
            part.tool_name,
            w.parse_arguments(part.args) if isinstance(part.args, str) else dict(part.args or {}),
        )
        for part in response.parts
        if isinstance(part, ToolCallPart)
    ]


def to_messages(system: str | None, turns: tuple[w.Message, ...]) -> list[ModelMessage]:
    """The loop's conversation as pydantic-ai's: user and tool turns gathered into
    requests, assistant turns as responses (text, reasoning, tool calls)."""
    messages: list[ModelMessage] = []
    pending: list[ModelRequestPart] = [SystemPromptPart(system)] if system else []
    for turn in turns:
        if turn.role == "assistant":
            if pending:
                messages.append(PydanticRequest(parts=pending))
                pending = []
            parts: list[ModelResponsePart] = []
            if turn.reasoning:
                parts.append(ThinkingPart(turn.reasoning, signature=turn.reasoning_signature))
            if turn.content:
                parts.append(TextPart(turn.content))
            parts += [ToolCallPart(c.name, c.arguments, c.id) for c in turn.tool_calls]
            messages.append(ModelResponse(parts=parts))
        elif turn.role == "tool":
            pending.append(ToolReturnPart(turn.name or "", turn.content, turn.tool_call_id or ""))
        elif turn.role == "system":
            pending.append(SystemPromptPart(turn.content))
        else:
            pending.append(UserPromptPart(turn.content))
    if pending:
        messages.append(PydanticRequest(parts=pending))
    return messages
