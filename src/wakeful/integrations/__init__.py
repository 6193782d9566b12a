"""Agents written with other frameworks, run durably on Wakeful (each behind an extra)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..entities.context import Context


class Durable(Protocol):
    """An agent of another framework, made durable: runs in a handler like the loop."""

    async def run(self, ctx: Context, *, force: bool = False) -> Any: ...


def durable(agent: Any) -> Durable:
    """``agent`` made durable: a :class:`~wakeful.WakefulAgent` as it is, a
    ``pydantic_ai.Agent`` wrapped in one, an OpenAI Agents SDK ``agents.Agent`` in a
    :class:`~wakeful.WakefulRunner`."""
    module = type(agent).__module__
    if module.startswith("pydantic_ai"):
        from .pydantic_ai import WakefulAgent

        return WakefulAgent(agent)
    if module == "agents" or module.startswith("agents."):
        from .openai_agents import WakefulRunner

        return WakefulRunner(agent)
    if callable(getattr(agent, "run", None)) and type(agent).__module__.startswith(__name__):
        return agent  # type: ignore[no-any-return]
    raise TypeError(f"not an agent Wakeful runs: {type(agent).__name__}")
