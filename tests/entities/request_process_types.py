"""Entity types for the request tests that run ``wakeful serve`` as a real process (as
``entities.request_process_types:registry``): an asker that records its replies, and a
target that never answers."""

from __future__ import annotations

from pydantic import BaseModel

from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.wake import Wake

registry = Registry()


class Answer(BaseModel):
    id: str  # the request id
    timed_out: bool


@registry.entity("asker", state={"answers": Answer})
async def asker(ctx: Context, wake: Wake) -> None:
    for message in wake.messages:
        ctx.request("/silent/s", message.payload, timeout=float(message.payload))
    for reply in wake.replies:
        ctx.state.answers.insert(Answer(id=reply.request_id, timed_out=reply.timed_out))


@registry.entity("silent")
async def silent(ctx: Context, wake: Wake) -> None:
    """Takes requests and never answers them."""
