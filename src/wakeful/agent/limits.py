"""Per-server caps on the agent loop's model calls and tool executions."""

from __future__ import annotations

import asyncio


class Concurrency:
    """Per-server caps on model calls and tool executions running at once.

    Waiting work queues first-come, first-served (asyncio semaphores wake in order)."""

    def __init__(self, model_calls: int = 16, tool_calls: int = 32) -> None:
        if model_calls < 1 or tool_calls < 1:
            raise ValueError("concurrency limits must be at least 1")
        self.model_calls = asyncio.Semaphore(model_calls)
        self.tool_calls = asyncio.Semaphore(tool_calls)


UNLIMITED = Concurrency(1 << 30, 1 << 30)
