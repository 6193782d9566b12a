"""A pydantic-ai agent, unchanged, made durable on Wakeful.

Its model requests, tool calls and answer are recorded on the entity's stream like a
native run (the console and the threads API show them), and a crash resumes it without
asking the model again for what it already answered. Run it with ``make run`` and:

    curl -X POST localhost:8787/v1/entities/forecaster \\
         -H 'content-type: application/json' -d '{"message": "Weather in Paris?"}'

With ``OPENAI_API_KEY`` set it asks ``openai:gpt-4o-mini``; without, a scripted offline
model plays the part (pydantic-ai's ``FunctionModel``).
"""

from __future__ import annotations

import os

from pydantic import BaseModel
from pydantic_ai import Agent, RunContext
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models import Model
from pydantic_ai.models.function import AgentInfo, FunctionModel

from wakeful import Context, Registry, Wake, WakefulAgent, current_call


class Forecast(BaseModel):
    city: str
    summary: str


def offline(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """Looks the weather up once, then answers with what the tool said."""
    returns = [part for m in messages for part in m.parts if part.part_kind == "tool-return"]
    if not returns:
        return ModelResponse(parts=[ToolCallPart("get_weather", {"city": "Paris"})])
    if returns[-1].tool_name == "get_weather":
        answer = {"city": "Paris", "summary": str(returns[-1].content)}
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, answer)])
    return ModelResponse(parts=[TextPart("Done.")])


def model() -> Model | str:
    return "openai:gpt-4o-mini" if os.environ.get("OPENAI_API_KEY") else FunctionModel(offline)


agent = Agent(model(), deps_type=str, output_type=Forecast, instructions="Forecast briefly.")


@agent.tool
def get_weather(ctx: RunContext[str], city: str) -> str:
    """Today's weather in a city."""
    # The key is the same in every attempt of this call: give it to side effects.
    assert current_call().idempotency_key
    return f"sunny, 21 °{ctx.deps}"


durable = WakefulAgent(agent)


async def forecaster(ctx: Context, wake: Wake) -> None:
    await durable.run(ctx, deps="C")


def register(registry: Registry) -> None:
    registry.define("forecaster", forecaster)


registry = Registry()
register(registry)
