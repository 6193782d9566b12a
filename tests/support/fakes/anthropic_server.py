"""A fake Anthropic server: ``POST /v1/messages`` with a streamed Messages response.

The stream is what the Messages API sends: ``message_start`` (input usage), a ``ping``,
then for each content block ``content_block_start`` / ``content_block_delta`` ... /
``content_block_stop`` (thinking with a ``signature_delta``, text, ``tool_use`` with
``input_json_delta`` fragments), ``message_delta`` (stop reason, cumulative output
usage) and ``message_stop``. Errors inside a stream are ``event: error``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .harness import FakeServer, HTTPError, Reply, split, sse

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


class FakeAnthropic(FakeServer):
    base_path = ""

    def routes(self) -> list[Route]:
        return [Route("/v1/messages", self.messages, methods=["POST"])]

    def error_body(self, error: HTTPError) -> Any:
        kind = _ERROR_TYPES.get(error.status, "api_error")
        return {
            "type": "error",
            "error": {"type": kind, "message": error.message},
            "request_id": "req_fake",
        }

    async def messages(self, request: Request) -> Response:
        body = await self.record(request)
        item = self.next_item()
        if isinstance(item, HTTPError):
            return self.error_response(item)
        return self.streaming(self.events(item, str(body.get("model", ""))))

    async def events(self, reply: Reply, model: str) -> AsyncIterator[bytes]:
        input_tokens, output_tokens = reply.usage or (0, 0)
        yield sse(
            {
                "type": "message_start",
                "message": {
                    "id": "msg_fake",
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "model": model,
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": input_tokens, "output_tokens": 1},
                },
            },
            "message_start",
        )
        yield sse({"type": "ping"}, "ping")
        for event, data in self._blocks(reply):
            yield sse(data, event)
            if reply.chunk_delay:
                await asyncio.sleep(reply.chunk_delay)
        if reply.stream_error is not None:
            yield sse({"type": "error", "error": reply.stream_error}, "error")
            return
        if reply.stall:
            await self.stall()
        if reply.cut:
            return
        stop = reply.finish or ("tool_use" if reply.tool_calls else "end_turn")
        yield sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
            "message_delta",
        )
        yield sse({"type": "message_stop"}, "message_stop")

    def _blocks(self, reply: Reply) -> Iterator[tuple[str, dict[str, Any]]]:
        index = 0

        def start(block: dict[str, Any]) -> tuple[str, dict[str, Any]]:
            return "content_block_start", {
                "type": "content_block_start",
                "index": index,
                "content_block": block,
            }

        def delta(value: dict[str, Any]) -> tuple[str, dict[str, Any]]:
            return "content_block_delta", {
                "type": "content_block_delta",
                "index": index,
                "delta": value,
            }

        def stop() -> tuple[str, dict[str, Any]]:
            return "content_block_stop", {"type": "content_block_stop", "index": index}

        if reply.reasoning:
            yield start({"type": "thinking", "thinking": "", "signature": ""})
            for text in reply.reasoning_chunks():
                yield delta({"type": "thinking_delta", "thinking": text})
            yield delta({"type": "signature_delta", "signature": reply.signature})
            yield stop()
            index += 1
        if reply.text:
            yield start({"type": "text", "text": ""})
            for text in reply.text_chunks():
                yield delta({"type": "text_delta", "text": text})
            yield stop()
            index += 1
        for number, call in enumerate(reply.tool_calls):
            yield start(
                {
                    "type": "tool_use",
                    "id": call.id or f"toolu_fake_{number}",
                    "name": call.name,
                    "input": {},
                }
            )
            yield delta({"type": "input_json_delta", "partial_json": ""})
            for part in split(call.raw_arguments(), 3):
                yield delta({"type": "input_json_delta", "partial_json": part})
            yield stop()
            index += 1


@pytest.fixture
def fake_anthropic() -> FakeAnthropic:
    """The test run's shared :class:`FakeAnthropic`, reset; its ``base_url`` goes to the SDK.

    Test modules define the same fixture in two lines; a conftest can instead enable
    this one with ``pytest_plugins = ["fakes.anthropic_server"]``."""
    return FakeAnthropic.shared()
