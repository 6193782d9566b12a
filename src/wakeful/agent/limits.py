"""Per-server caps on the agent loop's model calls and tool executions."""

from __future__ import annotations

import asyncio

from ..settings import DEFAULTS, Settings


class Concurrency:
    """Per-server caps on model calls and tool executions running at once.

    Waiting work queues first-come, first-served (asyncio semaphores wake in order)."""

    def __init__(
        self,
        model_calls: int = DEFAULTS.max_model_calls,
        tool_calls: int = DEFAULTS.max_tool_calls,
    ) -> None:
        if model_calls < 1 or tool_calls < 1:
            raise ValueError("concurrency limits must be at least 1")
        self.max_model_calls = model_calls
        self.max_tool_calls = tool_calls
        self.model_calls = asyncio.Semaphore(model_calls)
        self.tool_calls = asyncio.Semaphore(tool_calls)

    @classmethod
    def of(cls, settings: Settings) -> Concurrency:
        """The caps ``--max-model-calls`` and ``--max-tool-calls`` set."""
        return cls(settings.max_model_calls, settings.max_tool_calls)


UNLIMITED = Concurrency(1 << 30, 1 << 30)
