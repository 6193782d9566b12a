"""The app of the webhook tests: a Registry's handler served by ``wake_app`` under uvicorn.

``WAKEFUL_SERVER`` says which server it works for; ``WAKEFUL_WAKE_MODE=background``
answers 202 at once and runs the pass after.
"""

from __future__ import annotations

import os

from pydantic import BaseModel

from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.wake import Wake
from wakeful.serverless import wake_app

registry = Registry()


class Seen(BaseModel):
    id: str
    payload: str
    pid: int


@registry.entity("hooked", state={"seen": Seen})
async def hooked(ctx: Context, wake: Wake) -> None:
    """Records each message, with the process that handled it."""
    for message in wake.messages:
        ctx.state.seen.insert(Seen(id=message.id, payload=str(message.payload), pid=os.getpid()))


app = wake_app(
    registry,
    server=os.environ["WAKEFUL_SERVER"],
    background=os.environ.get("WAKEFUL_WAKE_MODE") == "background",
)
