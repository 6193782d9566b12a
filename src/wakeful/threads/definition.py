"""The thread entity type: every message starts (or queues for) an agent run.

A thread is an entity whose handler runs the agent loop. Messages sent while a run is in
progress wait on the stream and start the next run, so nothing is rejected or lost. A
``continue`` signal starts a run without a new message: that is how a stopped or failed
thread resumes.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any

from pydantic import BaseModel, Field

from ..agent.options import AgentOptions
from ..entities.context import Context
from ..entities.definition import EntityType, Registry
from ..entities.wake import Wake

CONTINUE = "continue"


class ThreadArgs(BaseModel):
    title: str | None = Field(None, max_length=200)
    metadata: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class ThreadConfig(AgentOptions):
    """A thread's agent: every option of :class:`~wakeful.agent.AgentOptions`, with a
    system prompt by default (the one default a chat thread needs that an agent does not)."""

    _: KW_ONLY
    system: str | None = "You are a helpful assistant."


def define_thread(
    registry: Registry, name: str = "thread", config: ThreadConfig | None = None
) -> EntityType:
    """Register a thread type (``name``) that chats with ``config``'s model and tools."""
    settings = config or ThreadConfig()
    settings.tool_table()  # a bad tool list fails here, at definition, not at the first run

    async def thread(ctx: Context, wake: Wake) -> None:
        agent = ctx.use_agent_options(settings)
        resume = any(signal.name == CONTINUE for signal in wake.signals)
        await agent.run(force=resume)

    return registry.define(
        name,
        thread,
        description="A chat thread with an agent.",
        args=ThreadArgs,
    )
