"""An entity type for the tests that spread entities over several worker processes
(loaded as ``entities.spread_types:registry``)."""

from __future__ import annotations

import asyncio
import os
import time

from pydantic import BaseModel

from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.wake import Wake

registry = Registry()
# Long enough that two passes of one entity running at once would overlap visibly.
PASS_SECONDS = 0.05


class Handled(BaseModel):
    id: str
    payload: str
    pid: int
    started: float
    ended: float


@registry.entity("spread", state={"handled": Handled})
async def spread(ctx: Context, wake: Wake) -> None:
    """Records each message with the process that handled it and when its pass ran."""
    started = time.time()
    await asyncio.sleep(PASS_SECONDS)
    ended = time.time()
    for message in wake.messages:
        ctx.state.handled.insert(
            Handled(
                id=message.id,
                payload=str(message.payload),
                pid=os.getpid(),
                started=started,
                ended=ended,
            )
        )
