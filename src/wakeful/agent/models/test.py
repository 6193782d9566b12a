"""A deterministic scripted model, for tests, examples and benchmarks.

It replays :class:`Response` objects in order and records every request, so a test can
drive the agent loop through an exact sequence of text, reasoning, tool calls, usage and
failures, then assert on what the loop sent. Streaming is real (one event per word,
optionally with a delay per chunk), so cancellation and coalescing can be tested too.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .base import (
    Finish,
    FinishReason,
    Model,
    ModelError,
    ModelEvent,
    ModelRequest,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    ToolCallReady,
    Usage,
)


@dataclass(frozen=True, slots=True)
class Response:
    """One scripted response.

    ``tool_calls`` may be :class:`ToolCall` objects or ``(name, arguments)`` pairs (ids are
    then made up, deterministically). ``finish`` defaults to ``tool_calls`` when there are
    calls, else ``stop``. ``error`` is raised after any text and reasoning have streamed,
    so a response with both simulates a failure in the middle of a stream. ``delay`` is
    slept before each chunk.
    """

    text: str = ""
    tool_calls: Sequence[ToolCall | tuple[str, dict[str, Any]]] = ()
    reasoning: str = ""
    usage: Usage | None = None
    finish: FinishReason | None = None
    error: BaseException | None = None
    delay: float = 0.0


Script = Response | Callable[[ModelRequest], Response]


def call(name: str, arguments: dict[str, Any] | None = None, *, id: str | None = None) -> Response:
    """A response that calls one tool."""
    calls: list[ToolCall | tuple[str, dict[str, Any]]] = [
        ToolCall(id, name, arguments or {}) if id else (name, arguments or {})
    ]
    return Response(tool_calls=calls)


def answer(text: str) -> Response:
    return Response(text=text)


def fail(message: str = "scripted failure", **options: Any) -> Response:
    """A response that raises :class:`ModelError` (``retryable=``, ``retry_after=``, ...)."""
    return Response(error=ModelError(message, **options))


@dataclass(eq=False)
class TestModel(Model):
    """Replays ``script`` (responses, or functions of the request giving one) in order.

    ``script`` may be any iterable, including an endless one such as
    ``itertools.cycle(...)``. When it runs out, the next request fails with a
    non-retryable :class:`ModelError` that says so.
    """

    __test__ = False  # not a pytest test class, despite the name

    script: Iterable[Script] = ()
    name: str = "test"
    label: str | None = "scripted test model"
    context_window: int | None = None
    requests: list[ModelRequest] = field(default_factory=list)
    _pending: Iterator[Script] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._pending = iter(self.script)

    @classmethod
    def tool_then_answer(
        cls, tool: str, arguments: dict[str, Any] | None = None, answer_text: str = "Done."
    ) -> TestModel:
        """Call ``tool`` with ``arguments``, then answer ``answer_text``."""
        return cls([call(tool, arguments), answer(answer_text)])

    @property
    def last_request(self) -> ModelRequest:
        return self.requests[-1]

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        self.requests.append(request)
        number = len(self.requests)
        item = next(self._pending, None)
        if item is None:
            raise ModelError(f"TestModel: no scripted response left for request {number}")
        response = item(request) if callable(item) else item
        for text in _words(response.reasoning):
            await _pause(response.delay)
            yield ReasoningDelta(text)
        for text in _words(response.text):
            await _pause(response.delay)
            yield TextDelta(text)
        if response.error is not None:
            raise response.error
        calls = [
            entry if isinstance(entry, ToolCall) else ToolCall(f"call_{number}_{i}", *entry)
            for i, entry in enumerate(response.tool_calls)
        ]
        for tool_call in calls:
            await _pause(response.delay)
            yield ToolCallReady(tool_call)
        yield response.usage or Usage(
            input_tokens=sum(len(m.content) for m in request.messages) // 4,
            output_tokens=len(response.text) // 4 + len(calls),
        )
        yield Finish(response.finish or ("tool_calls" if calls else "stop"))


def _words(text: str) -> list[str]:
    return re.findall(r"\S+\s*|\s+", text)


async def _pause(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)
    else:
        await asyncio.sleep(0)  # still a real stream: let other tasks run between chunks
