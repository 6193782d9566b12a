"""Waiting in tests for something another process or task makes true, and picking events."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

# Generous: a probe that is going to succeed does so in milliseconds on an idle machine,
# and a loaded CI runner must not turn a slow success into a failure.
WAIT = 15.0


async def eventually(
    probe: Callable[[], Awaitable[T]],
    *,
    within: float = WAIT,
    interval: float = 0.02,
    what: str = "condition",
) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    last = await probe()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what} (last: {last!r})")
        await asyncio.sleep(interval)
        last = await probe()
    return last


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The events of one ``type``, in stream order."""
    return [event for event in events if event.get("type") == kind]
