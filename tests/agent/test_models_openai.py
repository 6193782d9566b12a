"""The OpenAI-compatible adapter, through the real SDK, against a fake server on a socket."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from support.fakes import FakeOpenAI, FakeToolCall, HTTPError, Reply

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
from wakeful.agent.models.openai import OpenAIModel

WEATHER = ToolSpec(
    "get_weather",
    "The current weather in a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


@pytest.fixture
def fake_openai() -> FakeOpenAI:
    return FakeOpenAI.shared()


@pytest.fixture
async def make_model(fake_openai: FakeOpenAI) -> AsyncIterator[Callable[..., OpenAIModel]]:
    """Models on the fake server (options override), closed before the test's loop ends."""
    made: list[OpenAIModel] = []

    def make(**options: Any) -> OpenAIModel:
        options.setdefault("api_key", "sk-test")
        options.setdefault("base_url", fake_openai.base_url)
        made.append(OpenAIModel("gpt-test", **options))
        return made[-1]

    yield make
    for model in made:
        await model.aclose()


@pytest.fixture
def model(make_model: Callable[..., OpenAIModel]) -> OpenAIModel:
    return make_model()


def ask(text: str = "Hi", **options: Any) -> ModelRequest:
    return ModelRequest(messages=(Message("user", text),), **options)


async def collect(model: OpenAIModel, request: ModelRequest) -> list[ModelEvent]:
    return [event async for event in model.stream(request)]


def text_of(events: list[ModelEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def calls_of(events: list[ModelEvent]) -> list[ToolCall]:
    return [e.call for e in events if isinstance(e, ToolCallReady)]


async def test_streams_text_then_usage_then_finish(
    fake_openai: FakeOpenAI, model: OpenAIModel
) -> None:
    fake_openai.script(Reply(text="Hello there, how are you?", usage=(11, 6)))
    events = await collect(model, ask())
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) == 5
    assert text_of(events) == "Hello there, how are you?"
    assert events[-2:] == [Usage(11, 6), Finish("stop")]

    sent = fake_openai.requests[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.body["model"] == "gpt-test"
    assert sent.body["stream"] is True
    assert sent.body["stream_options"] == {"include_usage": True}
    assert sent.body["messages"] == [{"role": "user", "content": "Hi"}]
    assert "tools" not in sent.body


async def test_maps_the_whole_conversation(fake_openai: FakeOpenAI, model: OpenAIModel) -> None:
    fake_openai.script(Reply(text="Sunny and mild."))
    request = ModelRequest(
        system="Be brief.",
        messages=(
            Message("user", "Weather in Paris and Oslo?"),
            Message(
                "assistant",
                "Checking.",
                tool_calls=(
                    ToolCall("call_a", "get_weather", {"city": "Paris"}),
                    ToolCall("call_b", "get_weather", {"city": "Oslo"}),
                ),
            ),
            Message("tool", "18C, sunny", tool_call_id="call_a", name="get_weather"),
            Message(
                "tool", "station offline", tool_call_id="call_b", name="get_weather", is_error=True
            ),
        ),
        tools=(WEATHER,),
        max_tokens=256,
        temperature=0.2,
        options={"seed": 7},
    )
    await collect(model, request)
    body = fake_openai.last_body()
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris and Oslo?"},
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
                {
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": "18C, sunny"},
        {"role": "tool", "tool_call_id": "call_b", "content": "Error: station offline"},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "The current weather in a city.",
                "parameters": WEATHER.parameters,
            },
        }
    ]
    # A compatible server gets ``max_tokens``; OpenAI itself ``max_completion_tokens``.
    assert body["max_tokens"] == 256
    assert "max_completion_tokens" not in body
    assert body["temperature"] == 0.2
    assert body["seed"] == 7


def test_max_tokens_parameter_follows_the_server() -> None:
    assert OpenAIModel("m", api_key="k").max_tokens_parameter == "max_completion_tokens"
    hosted = OpenAIModel("m", api_key="k", base_url="https://api.openai.com/v1")
    assert hosted.max_tokens_parameter == "max_completion_tokens"
    local = OpenAIModel("m", api_key="k", base_url="http://localhost:11434/v1")
    assert local.max_tokens_parameter == "max_tokens"


async def test_a_tool_call(fake_openai: FakeOpenAI, model: OpenAIModel) -> None:
    fake_openai.script(
        Reply(tool_calls=[FakeToolCall("get_weather", {"city": "Paris"}, id="call_1")])
    )
    events = await collect(model, ask("Weather in Paris?", tools=(WEATHER,)))
    assert calls_of(events) == [ToolCall("call_1", "get_weather", {"city": "Paris"})]
    assert events[-1] == Finish("tool_calls")


@pytest.mark.parametrize("interleave", [False, True], ids=["sequential", "interleaved"])
async def test_parallel_tool_calls(
    fake_openai: FakeOpenAI, model: OpenAIModel, interleave: bool
) -> None:
    fake_openai.script(
        Reply(
            text="Let me check both.",
            tool_calls=[
                FakeToolCall("get_weather", {"city": "Paris", "unit": "celsius"}, id="c1"),
                FakeToolCall("get_time", {"zone": "Europe/Oslo"}, id="c2"),
            ],
            interleave=interleave,
        )
    )
    events = await collect(model, ask(tools=(WEATHER,)))
    assert text_of(events) == "Let me check both."
    assert calls_of(events) == [
        ToolCall("c1", "get_weather", {"city": "Paris", "unit": "celsius"}),
        ToolCall("c2", "get_time", {"zone": "Europe/Oslo"}),
    ]
    assert isinstance(events[-1], Finish) and events[-1].reason == "tool_calls"


@pytest.mark.parametrize("raw", ['{"city": "Par', "[1, 2]", "not json"])
async def test_invalid_tool_json_is_surfaced_not_raised(
    fake_openai: FakeOpenAI, model: OpenAIModel, raw: str
) -> None:
    fake_openai.script(Reply(tool_calls=[FakeToolCall("get_weather", raw, id="c1")]))
    events = await collect(model, ask(tools=(WEATHER,)))
    [call] = calls_of(events)
    assert call.arguments == {INVALID_JSON_KEY: raw}
    assert invalid_arguments(call) == raw
    assert events[-1] == Finish("tool_calls")


async def test_empty_arguments_and_missing_ids(fake_openai: FakeOpenAI, model: OpenAIModel) -> None:
    fake_openai.script(
        Reply(tool_calls=[FakeToolCall("now", "", id=""), FakeToolCall("now", "{}", id="")])
    )
    first, second = calls_of(await collect(model, ask()))
    assert first.arguments == {} and second.arguments == {}
    assert invalid_arguments(first) is None
    assert first.id.startswith("call_") and second.id.startswith("call_")
    assert first.id != second.id


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
async def test_reasoning_deltas(fake_openai: FakeOpenAI, model: OpenAIModel, field: str) -> None:
    fake_openai.reasoning_field = field
    fake_openai.script(Reply(reasoning="The user greets me. ", text="Hello!"))
    events = await collect(model, ask())
    reasoning = [e for e in events if isinstance(e, ReasoningDelta)]
    assert "".join(e.text for e in reasoning) == "The user greets me. "
    assert events.index(reasoning[-1]) < events.index(
        next(e for e in events if isinstance(e, TextDelta))
    )
    assert text_of(events) == "Hello!"


@pytest.mark.parametrize(
    ("wire", "reason", "calls"),
    [
        ("stop", "stop", False),
        ("length", "length", False),
        ("content_filter", "content_filter", False),
        ("tool_calls", "tool_calls", True),
        ("stop", "tool_calls", True),  # some servers say "stop" after calling tools
    ],
)
async def test_finish_reasons(
    fake_openai: FakeOpenAI, model: OpenAIModel, wire: str, reason: str, calls: bool
) -> None:
    tool_calls = [FakeToolCall("now", {}, id="c1")] if calls else []
    fake_openai.script(Reply(text="x", tool_calls=tool_calls, finish=wire))
    events = await collect(model, ask())
    assert events[-1] == Finish(reason)  # type: ignore[arg-type]


async def test_rate_limit_is_retryable_with_retry_after(
    fake_openai: FakeOpenAI, model: OpenAIModel
) -> None:
    fake_openai.script(HTTPError(429, "Slow down", headers={"Retry-After": "7"}))
    with pytest.raises(ModelError) as caught:
        await collect(model, ask())
    error = caught.value
    assert (error.retryable, error.retry_after, error.status) == (True, 7.0, 429)
    assert "Slow down" in str(error)
    assert len(fake_openai.requests) == 1  # the SDK did not retry on its own


async def test_retry_after_ms_is_preferred(fake_openai: FakeOpenAI, model: OpenAIModel) -> None:
    fake_openai.script(
        HTTPError(429, headers={"Retry-After": "7", "retry-after-ms": "1500"}),
    )
    with pytest.raises(ModelError) as caught:
        await collect(model, ask())
    assert caught.value.retry_after == 1.5


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_retryable(
    fake_openai: FakeOpenAI, model: OpenAIModel, status: int
) -> None:
    fake_openai.script(HTTPError(status, "upstream trouble"))
    with pytest.raises(ModelError) as caught:
        await collect(model, ask())
    assert caught.value.retryable and caught.value.status == status
    assert caught.value.retry_after is None
    assert len(fake_openai.requests) == 1


@pytest.mark.parametrize(("status", "hint"), [(400, ""), (401, "OPENAI_API_KEY"), (404, "model")])
async def test_client_errors_are_not_retryable(
    fake_openai: FakeOpenAI, model: OpenAIModel, status: int, hint: str
) -> None:
    fake_openai.script(HTTPError(status, "That will not work"))
    with pytest.raises(ModelError) as caught:
        await collect(model, ask())
    error = caught.value
    assert not error.retryable and error.status == status and error.retry_after is None
    assert f"HTTP {status}" in str(error) and "That will not work" in str(error)
    assert hint in str(error)
    assert "openai:gpt-test" in str(error)


async def test_error_inside_the_stream_is_retryable(
    fake_openai: FakeOpenAI, model: OpenAIModel
) -> None:
    fake_openai.script(
        Reply(text="Partial answer", stream_error={"message": "overloaded", "type": "server_error"})
    )
    seen: list[ModelEvent] = []
    with pytest.raises(ModelError) as caught:
        async for event in model.stream(ask()):
            seen.append(event)
    assert text_of(seen) == "Partial answer"
    assert caught.value.retryable
    assert "overloaded" in str(caught.value)


async def test_a_stream_cut_short_is_retryable_not_finished(
    fake_openai: FakeOpenAI, model: OpenAIModel
) -> None:
    fake_openai.script(Reply(text="The answer is", cut=True))
    seen: list[ModelEvent] = []
    with pytest.raises(ModelError, match="stream ended before") as caught:
        async for event in model.stream(ask()):
            seen.append(event)
    assert caught.value.retryable
    assert text_of(seen) == "The answer is"
    assert not any(isinstance(event, Finish) for event in seen)


async def test_timeout_is_retryable(
    fake_openai: FakeOpenAI, make_model: Callable[..., OpenAIModel]
) -> None:
    model = make_model(timeout=0.3)
    fake_openai.script(Reply(text="slow", stall=True))
    started = time.monotonic()
    with pytest.raises(ModelError) as caught:
        await collect(model, ask())
    assert caught.value.retryable
    assert "timed out" in str(caught.value)
    assert time.monotonic() - started < 3


async def test_connection_refused_is_retryable(make_model: Callable[..., OpenAIModel]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    model = make_model(base_url=f"http://127.0.0.1:{port}/v1")
    with pytest.raises(ModelError) as caught:
        await collect(model, ask())
    assert caught.value.retryable and caught.value.status is None


async def test_cancelling_a_stalled_stream_returns_promptly(
    fake_openai: FakeOpenAI, model: OpenAIModel
) -> None:
    fake_openai.script(Reply(text="Thinking about it", stall=True))
    seen: list[ModelEvent] = []
    got_text = asyncio.Event()

    async def consume() -> None:
        async for event in model.stream(ask()):
            seen.append(event)
            if text_of(seen) == "Thinking about it":
                got_text.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(got_text.wait(), 5)
    assert await asyncio.to_thread(fake_openai.stalled.wait, 5)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 1.0
    # The HTTP connection was closed, so the server stopped generating.
    assert await asyncio.to_thread(fake_openai.disconnected.wait, 2)


async def test_resolved_from_the_environment(
    fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    model = resolve("openai:gpt-4o-mini")
    fake_openai.script(Reply(text="ok"))
    events = [event async for event in model.stream(ask())]
    await model.aclose()
    assert text_of(events) == "ok"
    sent = fake_openai.requests[0]
    assert sent.headers["authorization"] == "Bearer sk-from-env"
    assert sent.body["model"] == "gpt-4o-mini"


async def test_a_local_server_needs_no_key(
    fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    model = resolve("openai:llama3.2", base_url=fake_openai.base_url)
    fake_openai.script(Reply(text="local"))
    events = [event async for event in model.stream(ask())]
    await model.aclose()
    assert text_of(events) == "local"
