"""A fake OpenAI-compatible server: ``POST /v1/chat/completions`` with streamed chunks.

The stream is what OpenAI sends: ``data: {chat.completion.chunk}`` lines, a first chunk
with the assistant role, tool calls as a head fragment (index, id, name) followed by
argument fragments, a chunk with ``finish_reason``, a usage chunk with empty ``choices``
when the request asked for ``stream_options.include_usage``, then ``data: [DONE]``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, Self

import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .harness import FakeServer, HTTPError, Reply, split, sse

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    429: "rate_limit_exceeded",
}


class FakeOpenAI(FakeServer):
    base_path = "/v1"
    #: The delta field reasoning is sent in: ``reasoning_content`` or ``reasoning``.
    reasoning_field = "reasoning_content"

    def reset(self) -> Self:
        self.reasoning_field = type(self).reasoning_field
        return super().reset()

    def routes(self) -> list[Route]:
        return [Route("/v1/chat/completions", self.completions, methods=["POST"])]

    def error_body(self, error: HTTPError) -> Any:
        kind = _ERROR_TYPES.get(error.status, "server_error")
        return {"error": {"message": error.message, "type": kind, "param": None, "code": None}}

    async def completions(self, request: Request) -> Response:
        body = await self.record(request)
        item = self.next_item()
        if isinstance(item, HTTPError):
            return self.error_response(item)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return self.streaming(self.events(item, str(body.get("model", "")), include_usage))

    async def events(self, reply: Reply, model: str, include_usage: bool) -> AsyncIterator[bytes]:
        created = int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            return sse(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "system_fingerprint": None,
                    "choices": [
                        {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                    ],
                }
            )

        for data in self._deltas(reply):
            yield chunk(data)
            if reply.chunk_delay:
                await asyncio.sleep(reply.chunk_delay)
        if reply.stream_error is not None:
            yield sse({"error": reply.stream_error})
            return
        if reply.stall:
            await self.stall()
        if reply.cut:
            return
        finish = reply.finish or ("tool_calls" if reply.tool_calls else "stop")
        yield chunk({}, finish)
        if include_usage and reply.usage is not None:
            prompt, completion = reply.usage
            usage = {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            }
            yield sse(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": usage,
                }
            )
        yield sse("[DONE]")

    def _deltas(self, reply: Reply) -> Iterator[dict[str, Any]]:
        yield {"role": "assistant", "content": ""}
        for text in reply.reasoning_chunks():
            yield {self.reasoning_field: text}
        for text in reply.text_chunks():
            yield {"content": text}
        heads = []
        fragments = []
        for index, call in enumerate(reply.tool_calls):
            head: dict[str, Any] = {
                "index": index,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            if call.id != "":  # an empty id sends none, as some local servers do
                head["id"] = call.id or f"call_fake_{index}"
            parts = [
                {"index": index, "function": {"arguments": part}}
                for part in split(call.raw_arguments(), 3)
            ]
            heads.append(head)
            fragments.append(parts)
        if reply.interleave:
            for head in heads:
                yield {"tool_calls": [head]}
            longest = max((len(parts) for parts in fragments), default=0)
            for position in range(longest):
                for parts in fragments:
                    if position < len(parts):
                        yield {"tool_calls": [parts[position]]}
        else:
            for head, parts in zip(heads, fragments, strict=True):
                yield {"tool_calls": [head]}
                for part in parts:
                    yield {"tool_calls": [part]}


@pytest.fixture
def fake_openai() -> FakeOpenAI:
    """The test run's shared :class:`FakeOpenAI`, reset; its ``base_url`` goes to the SDK.

    Test modules define the same fixture in two lines; a conftest can instead enable
    this one with ``pytest_plugins = ["fakes.openai_server"]``."""
    return FakeOpenAI.shared()
