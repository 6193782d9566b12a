"""An OpenAI Agents SDK agent, unchanged, made durable on Wakeful.

Its model calls, tool calls and answer are recorded on the entity's stream like a native
run (the console and the threads API show them), and a crash resumes it without asking
the model again for what it already answered. Run it with ``make run`` and:

    curl -X POST localhost:8787/v1/entities/concierge \\
         -H 'content-type: application/json' -d '{"message": "Weather in Paris?"}'

With ``OPENAI_API_KEY`` set it asks ``gpt-4o-mini``; without, the SDK's own scripted
``ScriptedModel`` plays the part offline.
"""

from __future__ import annotations

import os
from typing import Any

from agents import Agent, Model, function_tool
from agents.testing import ModelCall, ModelStep, ScriptedModel, assistant_message, function_call

from wakeful import Context, Registry, Wake, WakefulRunner, current_call


def offline(call: ModelCall) -> Any:
    """Looks the weather up once, then answers with what the tool said."""
    items = call.input if isinstance(call.input, list) else []
    said = [item["output"] for item in items if item.get("type") == "function_call_output"]
    if not said:
        return [function_call("get_weather", {"city": "Paris"}, call_id=f"w{len(items)}")]
    return [assistant_message(f"In Paris it is {said[-1]}.")]


def model() -> Model | str:
    if os.environ.get("OPENAI_API_KEY"):
        return "gpt-4o-mini"
    # A ScriptedModel takes one step per call; each step here answers from the call.
    return ScriptedModel([ModelStep.respond(offline) for _ in range(10_000)])


@function_tool
def get_weather(city: str) -> str:
    """Today's weather in a city."""
    # The key is the same in every attempt of this call: give it to side effects.
    assert current_call().idempotency_key
    return "sunny, 21 °C"


agent = Agent(name="concierge", instructions="Answer briefly.", model=model(), tools=[get_weather])
durable = WakefulRunner(agent)


async def concierge(ctx: Context, wake: Wake) -> None:
    await durable.run(ctx)


def register(registry: Registry) -> None:
    registry.define("concierge", concierge)


registry = Registry()
register(registry)
