"""The scripted test model, the offline demo model, and choosing a model by name."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import pytest

from wakeful.agent.models import (
    DemoModel,
    Finish,
    Message,
    Model,
    ModelError,
    ModelEvent,
    ModelRequest,
    ReasoningDelta,
    Response,
    TestModel,
    TextDelta,
    ToolCall,
    ToolCallReady,
    ToolSpec,
    Usage,
    default_model,
    resolve,
)
from wakeful.agent.models.anthropic import AnthropicModel
from wakeful.agent.models.demo import LABEL
from wakeful.agent.models.openai import OpenAIModel
from wakeful.agent.models.test import answer, call, fail


def ask(text: str = "Hi", *, tools: tuple[ToolSpec, ...] = ()) -> ModelRequest:
    return ModelRequest(messages=(Message("user", text),), tools=tools)


async def collect(model: Model, request: ModelRequest) -> list[ModelEvent]:
    return [event async for event in model.stream(request)]


def text_of(events: list[ModelEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def calls_of(events: list[ModelEvent]) -> list[ToolCall]:
    return [e.call for e in events if isinstance(e, ToolCallReady)]


def tool(name: str, properties: dict[str, Any], required: list[str] | None = None) -> ToolSpec:
    schema = {"type": "object", "properties": properties, "required": required or []}
    return ToolSpec(name, f"The {name} tool.", schema)


# -- TestModel ----------------------------------------------------------------------------


async def test_replays_the_script_in_order_and_records_requests() -> None:
    model = TestModel(
        [
            Response(reasoning="Need data.", tool_calls=[("lookup", {"q": "x"})]),
            Response(text="All done here.", usage=Usage(30, 4)),
        ]
    )
    first = await collect(model, ask("one"))
    assert [e for e in first if isinstance(e, ReasoningDelta)] == [
        ReasoningDelta("Need "),
        ReasoningDelta("data."),
    ]
    assert calls_of(first) == [ToolCall("call_1_0", "lookup", {"q": "x"})]
    assert first[-1] == Finish("tool_calls")

    second = await collect(model, ask("two"))
    assert [e.text for e in second if isinstance(e, TextDelta)] == ["All ", "done ", "here."]
    assert second[-2:] == [Usage(30, 4), Finish("stop")]

    assert [r.messages[0].content for r in model.requests] == ["one", "two"]
    assert model.last_request.messages[0].content == "two"


async def test_tool_then_answer() -> None:
    model = TestModel.tool_then_answer("get_weather", {"city": "Paris"}, "It is sunny.")
    first = await collect(model, ask())
    assert [(c.name, c.arguments) for c in calls_of(first)] == [("get_weather", {"city": "Paris"})]
    second = await collect(model, ask())
    assert text_of(second) == "It is sunny."


async def test_errors_raise_after_the_text_that_came_before_them() -> None:
    model = TestModel(
        [
            Response(text="Half an", error=ModelError("dropped", retryable=True)),
            fail("rate limited", retryable=True, retry_after=2.0),
            answer("Recovered."),
        ]
    )
    seen: list[ModelEvent] = []
    with pytest.raises(ModelError, match="dropped"):
        async for event in model.stream(ask()):
            seen.append(event)
    assert text_of(seen) == "Half an"
    with pytest.raises(ModelError) as caught:
        await collect(model, ask())
    assert caught.value.retryable and caught.value.retry_after == 2.0
    assert text_of(await collect(model, ask())) == "Recovered."


async def test_running_out_of_script_says_so() -> None:
    model = TestModel([answer("only one")])
    await collect(model, ask())
    with pytest.raises(ModelError, match="no scripted response left for request 2") as caught:
        await collect(model, ask())
    assert not caught.value.retryable


async def test_functions_and_endless_scripts() -> None:
    def echo(request: ModelRequest) -> Response:
        return answer(f"echo: {request.messages[-1].content}")

    model = TestModel(itertools.cycle([call("tick", id="t"), echo]))
    for round_ in range(3):
        assert calls_of(await collect(model, ask())) == [ToolCall("t", "tick", {})]
        assert text_of(await collect(model, ask(f"r{round_}"))) == f"echo: r{round_}"
    assert len(model.requests) == 6


async def test_finish_and_default_usage() -> None:
    model = TestModel([Response(text="cut", finish="length")])
    events = await collect(model, ask("x" * 40))
    assert events[-1] == Finish("length")
    usage = events[-2]
    assert isinstance(usage, Usage) and usage.input_tokens == 10


async def test_a_delayed_stream_can_be_cancelled_promptly() -> None:
    model = TestModel([Response(text="one two three four", delay=10.0)])
    task = asyncio.create_task(collect(model, ask()))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 1.0


def test_the_class_is_not_collected_as_tests() -> None:
    assert TestModel.__test__ is False
    assert TestModel().label == "scripted test model"


# -- DemoModel ----------------------------------------------------------------------------


async def test_demo_echoes_and_says_what_it_is() -> None:
    model = DemoModel()
    assert model.label == LABEL == "offline demo model (no API key set)"
    events = await collect(model, ask("Hello, who are you?"))
    text = text_of(events)
    assert LABEL in text and "OPENAI_API_KEY" in text
    assert '"Hello, who are you?"' in text
    assert events[-1] == Finish("stop")
    assert text == text_of(await collect(model, ask("Hello, who are you?")))  # deterministic


async def test_demo_summarises_long_messages() -> None:
    long = "This is the first sentence. " + "More words follow here. " * 30
    text = text_of(await collect(DemoModel(), ask(long)))
    assert "You wrote 125 words" in text
    assert '"This is the first sentence."' in text


async def test_demo_calls_a_tool_the_message_is_about_then_reports_the_result() -> None:
    weather = tool("get_weather", {"city": {"type": "string"}}, ["city"])
    clock = tool("get_time", {"zone": {"type": "string"}}, ["zone"])
    model = DemoModel()
    request = ask("What's the weather in Paris?", tools=(clock, weather))
    events = await collect(model, request)
    [made] = calls_of(events)
    assert (made.name, made.arguments) == ("get_weather", {"city": "Paris"})
    assert events[-1] == Finish("tool_calls")

    follow_up = ModelRequest(
        messages=(
            *request.messages,
            Message("assistant", tool_calls=(made,)),
            Message("tool", "18C and sunny", tool_call_id=made.id, name="get_weather"),
        ),
        tools=request.tools,
    )
    events = await collect(model, follow_up)
    assert calls_of(events) == []
    assert "get_weather returned: 18C and sunny" in text_of(events)
    assert LABEL in text_of(events)
    assert events[-1] == Finish("stop")


@pytest.mark.parametrize(
    ("message", "spec", "expected"),
    [
        (
            "please add 2 and 3.5",
            tool("add", {"a": {"type": "integer"}, "b": {"type": "number"}}, ["a", "b"]),
            {"a": 2, "b": 3.5},
        ),
        (
            "search_docs for 'durable streams' with limit=5",
            tool(
                "search_docs",
                {"query": {"type": "string"}, "limit": {"type": "integer", "default": 10}},
                ["query"],
            ),
            {"query": "durable streams", "limit": 5},
        ),
        (
            "set thermostat mode to cool",
            tool(
                "set_thermostat",
                {"mode": {"enum": ["heat", "cool", "off"]}, "target": {"type": "number"}},
                ["mode"],
            ),
            {"mode": "cool"},
        ),
        (
            "Use send_email: to: ada@example.com",
            tool(
                "send_email",
                {
                    "to": {"type": "string"},
                    "urgent": {"anyOf": [{"type": "boolean"}, {"type": "null"}]},
                },
                ["to", "urgent"],
            ),
            {"to": "ada@example.com", "urgent": False},
        ),
    ],
)
async def test_demo_infers_arguments_from_the_schema(
    message: str, spec: ToolSpec, expected: dict[str, Any]
) -> None:
    [made] = calls_of(await collect(DemoModel(), ask(message, tools=(spec,))))
    assert made.name == spec.name
    assert made.arguments == expected


async def test_demo_answers_when_no_tool_fits() -> None:
    weather = tool("get_weather", {"city": {"type": "string"}}, ["city"])
    events = await collect(DemoModel(), ask("Tell me a joke", tools=(weather,)))
    assert calls_of(events) == []
    assert "Tell me a joke" in text_of(events)


# -- resolve() and default_model() --------------------------------------------------------


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_resolve_openai_from_the_environment(no_keys: pytest.MonkeyPatch) -> None:
    no_keys.setenv("OPENAI_API_KEY", "sk-env")
    model = resolve("openai:gpt-4o-mini")
    assert isinstance(model, OpenAIModel)
    assert (model.name, model.model, model.base_url) == ("openai:gpt-4o-mini", "gpt-4o-mini", None)

    no_keys.setenv("OPENAI_BASE_URL", "http://localhost:8000/v1")
    model = resolve("openai:qwen")
    assert isinstance(model, OpenAIModel) and model.base_url == "http://localhost:8000/v1"

    model = resolve("openai:qwen", base_url="http://127.0.0.1:1234/v1")
    assert isinstance(model, OpenAIModel) and model.base_url == "http://127.0.0.1:1234/v1"


def test_resolve_openai_without_a_key(no_keys: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        resolve("openai:gpt-4o-mini")
    # A local server needs no key.
    model = resolve("openai:llama3.2", base_url="http://localhost:11434/v1")
    assert isinstance(model, OpenAIModel) and model.name == "openai:llama3.2"


def test_resolve_anthropic_from_the_environment(no_keys: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="ANTHROPIC_API_KEY"):
        resolve("anthropic:claude-sonnet-4-5")
    no_keys.setenv("ANTHROPIC_API_KEY", "sk-ant-env")
    no_keys.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9/")
    model = resolve("anthropic:claude-sonnet-4-5", max_tokens=1024)
    assert isinstance(model, AnthropicModel)
    assert model.name == "anthropic:claude-sonnet-4-5"
    assert model.base_url == "http://127.0.0.1:9/"
    assert model.max_tokens == 1024


def test_resolve_test_demo_and_model_objects(no_keys: pytest.MonkeyPatch) -> None:
    scripted = resolve("test", script=[answer("hi")])
    assert isinstance(scripted, TestModel)
    assert isinstance(resolve("demo"), DemoModel)
    assert resolve(scripted) is scripted
    with pytest.raises(ValueError, match="options"):
        resolve(scripted, temperature=1)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("gemini:pro", "unknown model provider 'gemini'"),
        ("gpt-4o", "unknown model provider 'gpt-4o'"),
        ("openai", "names no model"),
        ("anthropic:", "names no model"),
    ],
)
def test_resolve_rejects_unclear_names(
    no_keys: pytest.MonkeyPatch, spec: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        resolve(spec)


def test_default_model_follows_the_keys(no_keys: pytest.MonkeyPatch) -> None:
    demo = default_model()
    assert isinstance(demo, DemoModel) and demo.label == LABEL

    no_keys.setenv("ANTHROPIC_API_KEY", "sk-ant-env")
    assert default_model().name == "anthropic:claude-sonnet-4-6"

    no_keys.setenv("OPENAI_API_KEY", "sk-env")
    assert default_model().name == "openai:gpt-4o-mini"
