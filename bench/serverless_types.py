"""The entity type of bench/serverless_bench.py: records when its handler started.

Served three ways by the bench: in ``wakeful serve`` itself, by an HTTP-only
``wakeful worker --server``, and by ``app`` (``wake_app`` under uvicorn) as a remote type.
"""

from __future__ import annotations

import os
import time

from pydantic import BaseModel

from wakeful import Context, Registry, Wake
from wakeful.serverless import wake_app

registry = Registry()


class Started(BaseModel):
    id: str
    at: float


@registry.entity("lat", state={"started": Started})
async def lat(ctx: Context, wake: Wake) -> None:
    at = time.time()
    for message in wake.messages:
        ctx.state.started.insert(Started(id=str(message.payload), at=at))


app = wake_app(registry, server=os.environ.get("WAKEFUL_SERVER", "http://127.0.0.1:8787"))
