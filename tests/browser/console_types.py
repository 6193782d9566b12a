"""Entity types the console tests load into a ``wakeful serve`` subprocess (as
``browser.console_types:registry``): a thread on a scripted model that streams slowly enough to
watch, with a plain tool, a tool that needs approval and a tool that fails once, and a
plain ``counter`` entity that keeps its messages in state.

The model picks its answer from the last user message, so tests can run in any order:
"weather in <city>" calls ``get_weather``, "deploy <target>" asks for approval,
"flaky" calls a tool that succeeds on its second attempt, "count to <n>" streams the
numbers at ten a second, "long" streams a long answer slowly (to stop it halfway), and
anything else is echoed word by word.
"""

from __future__ import annotations

import itertools
import re

from pydantic import BaseModel

from wakeful.agent.models.base import ModelRequest
from wakeful.agent.models.test import Response, TestModel, call
from wakeful.agent.tools import RetryPolicy, ToolContext, tool
from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.wake import Wake
from wakeful.threads import ThreadConfig, define_thread

WORD_DELAY = 0.04
COUNT_DELAY = 0.1
LONG_WORD_DELAY = 0.25


@tool
def get_weather(city: str) -> dict[str, object]:
    """The current weather in a city."""
    return {"city": city, "sky": "sunny", "celsius": 21}


@tool(kind="approval")
def deploy(target: str) -> str:
    """Deploy the service to a target; a person must approve it first."""
    return f"deployed to {target}"


@tool(retry=RetryPolicy(attempts=3, backoff_seconds=0.1))
def flaky_lookup(tool_context: ToolContext) -> str:
    """A lookup that fails on its first attempt."""
    if tool_context.attempt < 2:
        raise RuntimeError("temporary outage, try again")
    return f"found it on attempt {tool_context.attempt}"


def respond(request: ModelRequest) -> Response:
    last = request.messages[-1] if request.messages else None
    if last is not None and last.role == "tool":
        if last.is_error:
            return Response(text=f"The {last.name} call did not happen: {last.content}")
        return Response(text=f"Tool {last.name} says: {last.content}", delay=WORD_DELAY)
    said = last.content if last is not None else ""
    lowered = said.lower()
    if match := re.search(r"weather in (\w+)", lowered):
        return call("get_weather", {"city": match.group(1).title()})
    if match := re.search(r"deploy (\w+)", lowered):
        return call("deploy", {"target": match.group(1)})
    if match := re.search(r"count to (\d+)", lowered):
        numbers = " ".join(str(number) for number in range(1, int(match.group(1)) + 1))
        return Response(text=f"Counting: {numbers}. Done.", delay=COUNT_DELAY)
    if "flaky" in lowered:
        return call("flaky_lookup")
    if "long" in lowered:
        words = " ".join(f"word{number}" for number in range(1, 201))
        return Response(text=f"Here is a long answer: {words}", delay=LONG_WORD_DELAY)
    return Response(text=f"You said: {said}. That is all I know.", delay=WORD_DELAY)


registry = Registry()
define_thread(
    registry,
    config=ThreadConfig(
        model=TestModel(itertools.repeat(respond)),
        tools=[get_weather, deploy, flaky_lookup],
    ),
)


class Note(BaseModel):
    id: str
    text: str


@registry.entity("counter", state={"notes": Note}, description="Keeps every message it gets.")
async def counter(ctx: Context, wake: Wake) -> None:
    for message in wake.messages:
        ctx.state.notes.insert(Note(id=message.id, text=str(message.payload)))
