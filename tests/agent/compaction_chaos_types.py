"""The agent of the compaction chaos test, imported by its worker processes.

A scripted model with a small window: every few turns the conversation passes 85 % and
is summarised. The summary streams slowly, so kills land inside the summarising call;
each summarising call first appends a line to ``summaries.log`` in
``$WAKEFUL_COMPACTION_CHAOS_DIR``, so the test sees calls whose summary never landed.
A summary names every ``fact-N`` of its transcript, so the test can tell that nothing
said was lost across the summaries that rolled one another forward.
"""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path

from support.workers import append_line

from wakeful.agent.models.base import ModelRequest, Usage
from wakeful.agent.models.test import Response, TestModel
from wakeful.agent.summaries import SUMMARISER_SYSTEM
from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.wake import Wake

WINDOW = 300
FACT = re.compile(r"fact-\d+")
TYPE = "compacting_agent"


def reply(request: ModelRequest) -> Response:
    if request.system == SUMMARISER_SYSTEM:
        append_line(Path(os.environ["WAKEFUL_COMPACTION_CHAOS_DIR"]) / "summaries.log", "asked")
        facts = sorted(set(FACT.findall(request.messages[0].content)), key=lambda f: int(f[5:]))
        # Slow, so that a kill lands inside it now and then.
        return Response(text="Facts: " + " ".join(facts), delay=0.08, usage=Usage(100, 10))
    facts = FACT.findall(request.messages[-1].content)
    return Response(text=f"Noted {' '.join(facts)}; that is all for now.", usage=Usage(0, 8))


registry = Registry()


async def handler(ctx: Context, wake: Wake) -> None:
    ctx.use_agent(TestModel(itertools.repeat(reply), context_window=WINDOW), model_backoff=0.01)
    await ctx.agent.run()


registry.define(TYPE, handler, lease_seconds=1.0)
