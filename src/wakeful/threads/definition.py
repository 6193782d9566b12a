"""The thread entity type: every message starts (or queues for) an agent run.

A thread is an entity whose handler runs the agent loop. Messages sent while a run is in
progress wait on the stream and start the next run, so nothing is rejected or lost. A
``continue`` signal starts a run without a new message: that is how a stopped or failed
thread resumes.

A message may also bring tools the front end runs (``{"text": ..., "tools": [{name,
description, parameters}]}``, as AG-UI's ``RunAgentInput.tools`` offers them): the
newest message's list is offered to the model beside the thread's own tools, each call
waiting for the front end's result like an ``async`` tool's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import KW_ONLY, dataclass, replace
from typing import Any

from pydantic import BaseModel, Field

from ..agent.options import AgentOptions
from ..agent.tools import Tool, front_end_tool
from ..entities import vocabulary as v
from ..entities.context import Context
from ..entities.definition import EntityType, MessagePolicy, Registry
from ..entities.wake import Wake
from ..state import StateStore

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
    registry: Registry,
    name: str = "thread",
    config: ThreadConfig | None = None,
    *,
    agent: Any = None,
    state: Mapping[str, type[BaseModel]] | None = None,
    lease_seconds: float = 30.0,
    on_message: MessagePolicy = "queue",
) -> EntityType:
    """Register a thread type (``name``) that chats with ``config``'s model and tools, or
    with ``agent``, an agent of another framework (a ``pydantic_ai.Agent`` or a
    :class:`~wakeful.WakefulAgent`), run durably in the same rows.

    ``state`` declares the thread's own collections, which its tools write through
    ``context.ctx.state`` and AG-UI front ends receive as ``STATE_SNAPSHOT`` /
    ``STATE_DELTA``. ``lease_seconds`` is how long a worker's claim on a thread lasts
    unrenewed: how soon another takes the run over after the first dies. ``on_message``
    says what a message sent during a run does: ``queue`` (the next run answers it),
    ``interrupt`` (the run ends and the next one starts with it) or ``reject`` (409)."""
    if agent is not None and config is not None:
        raise ValueError("a thread takes a config or an agent, not both")
    handler = _with(agent) if agent is not None else _with_loop(config or ThreadConfig())
    return registry.define(
        name,
        handler,
        description="A chat thread with an agent.",
        args=ThreadArgs,
        state=state,
        lease_seconds=lease_seconds,
        on_message=on_message,
    )


Handler = Callable[[Context, Wake], Awaitable[None]]


def _with_loop(settings: ThreadConfig) -> Handler:
    settings.tool_table()  # a bad tool list fails here, at definition, not at the first run
    own = set(settings.tool_table())

    async def thread(ctx: Context, wake: Wake) -> None:
        offered = [tool for tool in front_end_tools(ctx.store) if tool.name not in own]
        options = replace(settings, tools=[*settings.tools, *offered]) if offered else settings
        agent = ctx.use_agent_options(options)
        await agent.run(force=_resumes(wake))

    return thread


def _with(agent: Any) -> Handler:
    from ..integrations import durable

    wrapped = durable(agent)

    async def thread(ctx: Context, wake: Wake) -> None:
        await wrapped.run(ctx, force=_resumes(wake))

    return thread


def _resumes(wake: Wake) -> bool:
    return any(signal.name == CONTINUE for signal in wake.signals)


def front_end_tools(store: StateStore) -> list[Tool]:
    """The tools the newest message that listed any offers (see the module's doc)."""
    inbox = store.collection(v.INBOX)
    for key in reversed(inbox.order()):
        row = inbox.get(key)
        payload = row.get("payload") if isinstance(row, dict) else None
        listed = payload.get("tools") if isinstance(payload, dict) else None
        if not isinstance(listed, list):
            continue
        found: dict[str, Tool] = {}
        for spec in listed:
            if isinstance(spec, dict) and isinstance(spec.get("name"), str):
                parameters = spec.get("parameters")
                schema = parameters if isinstance(parameters, dict) else {"type": "object"}
                description = spec.get("description")
                text = description if isinstance(description, str) else spec["name"]
                found[spec["name"]] = front_end_tool(spec["name"], text, schema)
        return list(found.values())
    return []


def builtin_registry() -> Registry:
    """What ``wakeful serve`` runs when given no registry: one ``thread`` type, chatting
    with the model the environment names (OpenAI or Anthropic when a key is set, else the
    offline demo model), so that a plain install answers ``POST /v1/threads``."""
    registry = Registry()
    define_thread(registry)
    return registry
