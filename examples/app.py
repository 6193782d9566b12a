"""Every example in one registry: what ``make run`` serves."""

from __future__ import annotations

from wakeful import Registry

from . import approval, chat, executor, manager, pydantic_ai_agent

registry = Registry()
chat.register(registry)
approval.register(registry)
manager.register(registry)
executor.register(registry)
pydantic_ai_agent.register(registry)
