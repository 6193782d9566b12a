"""The Anthropic adapter, through the real SDK, against a fake Messages server on a socket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from support.fakes import FakeAnthropic, FakeToolCall, HTTPError, Reply

from wakeful.agent.models import (
    INVALID_JSON_KEY,
    Finish,
    Message,
    ModelError,
    ModelEvent,
    ModelRequest,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    ToolCallReady,
    ToolSpec,
    Usage,
    invalid_arguments,
    resolve,
)
from wakeful.agent.models.anthropic import AnthropicModel

WEATHER = ToolSpec(
    "get_weather",
    "The current weather in a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


@pytest.fixture
def fake_anthropic() -> FakeAnthropic:
    return FakeAnthropic.shared()


@pytest.fixture
async def make_model(
    fake_anthropic: FakeAnthropic,
) -> AsyncIterator[Callable[..., AnthropicModel]]:
    """Models on the fake server (options override), closed before the test's loop ends."""
    made: list[AnthropicModel] = []

    def make(**options: Any) -> AnthropicModel:
        options.setdefault("api_key", "sk-ant-test")
        options.setdefault("base_url", fake_anthropic.base_url)
        made.append(AnthropicModel("claude-test", **options))
        return made[-1]

    yield make
    for model in made:
        await model.aclose()


@pytest.fixture
def model(make_model: Callable[..., AnthropicModel]) -> AnthropicModel:
    return make_model()


def ask(text: str = "Hi", **options: Any) -> ModelRequest:
    return ModelRequest(messages=(Message("user", text),), **options)


async def collect(model: AnthropicModel, request: ModelRequest) -> list[ModelEvent]:
    return [event async for event in model.stream(request)]


def text_of(events: list[ModelEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def api_key_of(headers: dict[str, str]) -> str | None:
    """The key as sent: SDK versions differ between ``x-api-key`` and a bearer token."""
    if "x-api-key" in headers:
        return headers["x-api-key"]
    return headers.get("authorization", "").removeprefix("Bearer ") or None


def calls_of(events: list[ModelEvent]) -> list[ToolCall]:
    return [e.call for e in events if isinstance(e, ToolCallReady)]


async def test_streams_text_then_usage_then_finish(
    fake_anthropic: FakeAnthropic, model: AnthropicModel
) -> None:
    fake_anthropic.script(Reply(text="Hello there, how are you?", usage=(21, 9)))
    events = await collect(model, ask())
    assert len([e for e in events if isinstance(e, TextDelta)]) == 5
    assert text_of(events) == "Hello there, how are you?"
    # Input tokens come from message_start, output tokens from message_delta.
    assert events[-2:] == [Usage(21, 9), Finish("stop")]

    sent = fake_anthropic.requests[0]
    assert sent.path == "/v1/messages"
    assert api_key_of(sent.headers) == "sk-ant-test"
    assert "anthropic-version" in sent.headers
    assert sent.body["model"] == "claude-test"
    assert sent.body["stream"] is True
    assert sent.body["max_tokens"] == 4096  # required by the API: a default is always sent
    assert sent.body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
    assert "system" not in sent.body and "tools" not in sent.body


async def test_maps_the_whole_conversation(
    fake_anthropic: FakeAnthropic, model: AnthropicModel
) -> None:
    fake_anthropic.script(Reply(text="Sunny in Paris; Oslo unknown."))
    request = ModelRequest(
        system="Be brief.",
        messages=(
            Message("system", "Answer in English."),
            Message("user", "Weather in Paris and Oslo?"),
            Message(
                "assistant",
                "Checking.",
                tool_calls=(
                    ToolCall("toolu_a", "get_weather", {"city": "Paris"}),
                    ToolCall("toolu_b", "get_weather", {"city": "Oslo"}),
                ),
                reasoning="Two cities, two calls.",
                reasoning_signature="sig-123",
            ),
            Message("tool", "18C, sunny", tool_call_id="toolu_a", name="get_weather"),
            Message(
                "tool",
                "station offline",
                tool_call_id="toolu_b",
                name="get_weather",
                is_error=True,
            ),
            Message("user", "Also, be quick."),
            Message("assistant", ""),  # empty turns are not allowed by the API
        ),
        tools=(WEATHER,),
        max_tokens=300,
        temperature=0.5,
        options={"thinking": {"type": "enabled", "budget_tokens": 1024}},
    )
    await collect(model, request)
    body = fake_anthropic.last_body()
    assert body["system"] == "Be brief.\n\nAnswer in English."
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Oslo?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Two cities, two calls.", "signature": "sig-123"},
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_a", "name": "get_weather",
                 "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_b", "name": "get_weather",
                 "input": {"city": "Oslo"}},
            ],
        },
        {
            # Both results in one user turn, before the text typed after them.
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_a", "content": "18C, sunny"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_b",
                    "content": "station offline",
                    "is_error": True,
                },
                {"type": "text", "text": "Also, be quick."},
            ],
        },
    ]  # fmt: skip
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "The current weather in a city.",
            "input_schema": WEATHER.parameters,
        }
    ]
    assert body["max_tokens"] == 300
    assert body["temperature"] == 0.5
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 1024}


async def test_a_tool_call(fake_anthropic: FakeAnthropic, model: AnthropicModel) -> None:
    fake_anthropic.script(
        Reply(tool_calls=[FakeToolCall("get_weather", {"city": "Paris"}, id="toolu_1")])
    )
    events = await collect(model, ask("Weather in Paris?", tools=(WEATHER,)))
    assert calls_of(events) == [ToolCall("toolu_1", "get_weather", {"city": "Paris"})]
    assert events[-1] == Finish("tool_calls")


async def test_parallel_tool_calls(fake_anthropic: FakeAnthropic, model: AnthropicModel) -> None:
    fake_anthropic.script(
        Reply(
            text="Let me check both.",
            tool_calls=[
                FakeToolCall("get_weather", {"city": "Paris", "unit": "celsius"}, id="t1"),
                FakeToolCall("get_time", {"zone": "Europe/Oslo"}, id="t2"),
                FakeToolCall("now", {}, id="t3"),
            ],
        )
    )
    events = await collect(model, ask(tools=(WEATHER,)))
    assert text_of(events) == "Let me check both."
    assert calls_of(events) == [
        ToolCall("t1", "get_weather", {"city": "Paris", "unit": "celsius"}),
        ToolCall("t2", "get_time", {"zone": "Europe/Oslo"}),
        ToolCall("t3", "now", {}),
    ]
    assert events[-1] == Finish("tool_calls")


@pytest.mark.parametrize("raw", ['{"city": "Par', "[1, 2]", "not json"])
async def test_invalid_tool_json_is_surfaced_not_raised(
    fake_anthropic: FakeAnthropic, model: AnthropicModel, raw: str
) -> None:
    fake_anthropic.script(Reply(tool_calls=[FakeToolCall("get_weather", raw, id="t1")]))
    events = await collect(model, ask(tools=(WEATHER,)))
    [call] = calls_of(events)
    assert call.arguments == {INVALID_JSON_KEY: raw}
    assert invalid_arguments(call) == raw
    assert events[-1] == Finish("tool_calls")


async def test_thinking_becomes_reasoning_with_its_signature(
    fake_anthropic: FakeAnthropic, model: AnthropicModel
) -> None:
    fake_anthropic.script(
        Reply(reasoning="The user greets me. I greet back.", text="Hello!", signature="sig-9")
    )
    events = await collect(model, ask())
    reasoning = [e for e in events if isinstance(e, ReasoningDelta)]
    assert "".join(e.text for e in reasoning) == "The user greets me. I greet back."
    assert [e.signature for e in reasoning if e.signature] == ["sig-9"]
    assert reasoning[-1] == ReasoningDelta("", signature="sig-9")
    assert text_of(events) == "Hello!"


@pytest.mark.parametrize(
    ("wire", "reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ],
)
async def test_stop_reasons(
    fake_anthropic: FakeAnthropic, model: AnthropicModel, wire: str, reason: str
) -> None:
    fake_anthropic.script(Reply(text="x", finish=wire))
    events = await collect(model, ask())
    assert events[-1] == Finish(reason)  # type: ignore[arg-type]


async def test_rate_limit_is_retryable_with_retry_after(
    fake_anthropic: FakeAnthropic, model: AnthropicModel
) -> None:
    fake_anthropic.script(HTTPError(429, "Slow down", headers={"Retry-After": "7"}))
    with pytest.raises(ModelError) as caught:
        await collect(model, ask())
    error = caught.value
    assert (error.retryable, error.retry_after, error.status) == (True, 7.0, 429)
    assert "Slow down" in str(error)
    assert len(fake_anthropic.requests) == 1  # the SDK did not retry on its own


@pytest.mark.parametrize("status", [500, 503, 529])
async def test_server_errors_and_overload_are_retryable(
    fake_anthropic: FakeAnthropic, model: AnthropicModel, status: int
) -> None:
    fake_anthropic.script(HTTPError(status, "upstream trouble"))
    with pytest.raises(ModelError) as caught:
        await collect(model, ask())
    assert caught.value.retryable and caught.value.status == status
    assert len(fake_anthropic.requests) == 1


@pytest.mark.parametrize(
    ("status", "hint"), [(400, ""), (401, "ANTHROPIC_API_KEY"), (404, "model")]
)
async def test_client_errors_are_not_retryable(
    fake_anthropic: FakeAnthropic, model: AnthropicModel, status: int, hint: str
) -> None:
    fake_anthropic.script(HTTPError(status, "That will not work"))
    with pytest.raises(ModelError) as caught:
        await collect(model, ask())
    error = caught.value
    assert not error.retryable and error.status == status and error.retry_after is None
    assert f"HTTP {status}" in str(error) and "That will not work" in str(error)
    assert hint in str(error)
    assert "anthropic:claude-test" in str(error)


@pytest.mark.parametrize(
    ("kind", "retryable"), [("overloaded_error", True), ("invalid_request_error", False)]
)
async def test_error_event_inside_the_stream(
    fake_anthropic: FakeAnthropic, model: AnthropicModel, kind: str, retryable: bool
) -> None:
    fake_anthropic.script(
        Reply(text="Partial answer", stream_error={"type": kind, "message": "went wrong"})
    )
    seen: list[ModelEvent] = []
    with pytest.raises(ModelError) as caught:
        async for event in model.stream(ask()):
            seen.append(event)
    assert text_of(seen) == "Partial answer"
    assert caught.value.retryable is retryable
    assert kind in str(caught.value) and "went wrong" in str(caught.value)


async def test_a_stream_cut_short_is_retryable_not_finished(
    fake_anthropic: FakeAnthropic, model: AnthropicModel
) -> None:
    fake_anthropic.script(Reply(text="The answer is", cut=True))
    seen: list[ModelEvent] = []
    with pytest.raises(ModelError, match="stream ended before") as caught:
        async for event in model.stream(ask()):
            seen.append(event)
    assert caught.value.retryable
    assert text_of(seen) == "The answer is"
    assert not any(isinstance(event, Finish) for event in seen)


async def test_timeout_is_retryable(
    fake_anthropic: FakeAnthropic, make_model: Callable[..., AnthropicModel]
) -> None:
    model = make_model(timeout=0.3)
    fake_anthropic.script(Reply(text="slow", stall=True))
    started = time.monotonic()
    with pytest.raises(ModelError) as caught:
        await collect(model, ask())
    assert caught.value.retryable
    assert time.monotonic() - started < 3


async def test_cancelling_a_stalled_stream_returns_promptly(
    fake_anthropic: FakeAnthropic, model: AnthropicModel
) -> None:
    fake_anthropic.script(Reply(text="Thinking about it", stall=True))
    seen: list[ModelEvent] = []
    got_text = asyncio.Event()

    async def consume() -> None:
        async for event in model.stream(ask()):
            seen.append(event)
            if text_of(seen) == "Thinking about it":
                got_text.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(got_text.wait(), 5)
    assert await asyncio.to_thread(fake_anthropic.stalled.wait, 5)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 1.0
    assert await asyncio.to_thread(fake_anthropic.disconnected.wait, 2)


async def test_resolved_from_the_environment(
    fake_anthropic: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-env")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_anthropic.base_url)
    model = resolve("anthropic:claude-test", max_tokens=1000)
    fake_anthropic.script(Reply(text="ok"))
    events = [event async for event in model.stream(ask())]
    await model.aclose()
    assert text_of(events) == "ok"
    sent = fake_anthropic.requests[0]
    assert api_key_of(sent.headers) == "sk-ant-from-env"
    assert sent.body["model"] == "claude-test"
    assert sent.body["max_tokens"] == 1000
