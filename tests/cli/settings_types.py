"""An entity type the settings tests load into a ``wakeful worker`` subprocess (as
``cli.settings_types:registry``): it records the limits the process gave its agent."""

from __future__ import annotations

import os

from pydantic import BaseModel

from wakeful import Context, Registry, TestModel, Wake

registry = Registry()


class Limits(BaseModel):
    id: str
    model_calls: int
    tool_calls: int
    pid: int


@registry.entity("limits", state={"seen": Limits})
async def limits(ctx: Context, wake: Wake) -> None:
    concurrency = ctx.use_agent(model=TestModel([])).concurrency
    for message in wake.messages:
        ctx.state.seen.insert(
            Limits(
                id=message.id,
                model_calls=concurrency.max_model_calls,
                tool_calls=concurrency.max_tool_calls,
                pid=os.getpid(),
            )
        )
