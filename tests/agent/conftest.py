"""Fixtures for the agent loop tests (helpers in :mod:`agent.support`).

- ``provider``: a fake OpenAI-compatible or Anthropic server (each test runs against both)
  and the real adapter pointed at it over HTTP;
- ``agent_app``: ``await agent_app(registry, database=None, **settings)`` starts the
  server in-process (lifespan running) on a fresh database, or on the given one to resume
  after a stop, with any other ``Settings`` fields given;
  every app is stopped at teardown.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from support.fakes import FakeAnthropic, FakeOpenAI

from wakeful import Settings, create_app
from wakeful.entities.definition import Registry

from .support import AgentApp, Provider

AppFactory = Callable[..., Awaitable[AgentApp]]


@pytest.fixture(params=["openai", "anthropic"])
async def provider(request: pytest.FixtureRequest) -> AsyncIterator[Provider]:
    fake = FakeOpenAI.shared() if request.param == "openai" else FakeAnthropic.shared()
    found = Provider(request.param, fake)
    yield found
    await found.aclose()


@pytest.fixture
async def agent_app(fresh_database: Callable[[], str]) -> AsyncIterator[AppFactory]:
    stacks: list[contextlib.AsyncExitStack] = []

    async def start(
        registry: Registry, *, database: str | None = None, **settings: Any
    ) -> AgentApp:
        database = database or fresh_database()
        stack = contextlib.AsyncExitStack()
        stacks.append(stack)
        app = create_app(Settings(database=database, long_poll_timeout=2.0, **settings), registry)
        await stack.enter_async_context(app.router.lifespan_context(app))
        transport = httpx.ASGITransport(app=app)
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://wakeful.test", timeout=30)
        )
        return AgentApp(app, client, database, registry, stack.aclose)

    yield start
    for stack in reversed(stacks):
        await stack.aclose()
