"""The thread entity type: every message starts (or queues for) an agent run.

A thread is an entity whose handler runs the agent loop. Messages sent while a run is in
progress wait on the stream and start the next run, so nothing is rejected or lost. A
``continue`` signal starts a run without a new message: that is how a stopped or failed
thread resumes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from ..agent.models.base import Model
from ..agent.tools import Tool
from ..entities.context import Context
from ..entities.definition import EntityType, Registry
from ..entities.wake import Wake

CONTINUE = "continue"


class ThreadArgs(BaseModel):
    title: str | None = Field(None, max_length=200)
    metadata: dict[str, Any] = Field(default_factory=dict)


@dataclass(slots=True)
class ThreadConfig:
    model: Model | str | None = None
    system: str | None = "You are a helpful assistant."
    tools: Iterable[Tool | Callable[..., Any]] = field(default_factory=tuple)
    max_steps: int = 20
    max_tokens: int | None = None


def define_thread(
    registry: Registry, name: str = "thread", config: ThreadConfig | None = None
) -> EntityType:
    """Register a thread type (``name``) that chats with ``config``'s model and tools."""
    settings = config or ThreadConfig()
    tools = list(settings.tools)

    async def thread(ctx: Context, wake: Wake) -> None:
        agent = ctx.use_agent(
            settings.model,
            system=settings.system,
            tools=tools,
            max_steps=settings.max_steps,
            max_tokens=settings.max_tokens,
        )
        resume = any(signal.name == CONTINUE for signal in wake.signals)
        await agent.run(force=resume)

    return registry.define(
        name,
        thread,
        description="A chat thread with an agent.",
        args=ThreadArgs,
    )
