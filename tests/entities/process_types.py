"""Entity types that the process tests load into ``wakeful serve`` and ``wakeful worker``
subprocesses (as ``entities.process_types:registry``)."""

from __future__ import annotations

import os

from pydantic import BaseModel

from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.wake import Wake

registry = Registry()


class Handled(BaseModel):
    id: str
    payload: str
    pid: int


@registry.entity("recorder", state={"handled": Handled})
async def recorder(ctx: Context, wake: Wake) -> None:
    """Records every message with the process that handled it."""
    for message in wake.messages:
        ctx.state.handled.insert(
            Handled(id=message.id, payload=str(message.payload), pid=os.getpid())
        )
