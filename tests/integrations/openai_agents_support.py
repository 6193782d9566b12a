"""OpenAI Agents SDK agents for the tests: their model is the SDK's Chat Completions model
(the real ``openai`` client) pointed at a fake OpenAI server."""

from __future__ import annotations

from agents import OpenAIChatCompletionsModel, set_tracing_disabled
from openai import AsyncOpenAI

# The SDK sends traces to OpenAI by default; the tests run offline.
set_tracing_disabled(True)


def chat_model(base_url: str) -> OpenAIChatCompletionsModel:
    return OpenAIChatCompletionsModel("gpt-test", AsyncOpenAI(base_url=base_url, api_key="test"))
