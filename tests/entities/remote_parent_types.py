"""Python entity types that work with remote ones, loaded into ``wakeful serve``
subprocesses as ``entities.remote_parent_types:registry``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.wake import Wake

registry = Registry()


class Result(BaseModel):
    id: str
    status: str
    response: Any = None


class Delegate(BaseModel):
    type: str
    id: str
    text: str


@registry.entity("manager", state={"results": Result}, inbox=Delegate)
async def manager(ctx: Context, wake: Wake) -> None:
    """Hands each message to a child of the type it names, and records what children report."""
    for message in wake.messages:
        task = message.payload
        ctx.spawn(task.type, task.id, args={"from": ctx.url}, message={"text": task.text})
    for child in wake.children:
        ctx.state.results.upsert(Result(id=child.url, status=child.status, response=child.response))
