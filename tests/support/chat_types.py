"""The thread type the chat crash and browser tests serve from a ``wakeful serve``
subprocess (as ``support.chat_types:registry``, with ``tests/`` on ``PYTHONPATH``): a
scripted model that streams a long answer slowly, so the server can be killed (or the
page refreshed) mid-answer, and a short lease, so a restarted server takes the run over
within seconds."""

from __future__ import annotations

import itertools

from wakeful.agent.models import Response, TestModel
from wakeful.entities.definition import Registry
from wakeful.threads import ThreadConfig, define_thread

STORY = " ".join(f"word{i}" for i in range(80))

registry = Registry()
define_thread(
    registry,
    config=ThreadConfig(model=TestModel(itertools.cycle([Response(text=STORY, delay=0.05)]))),
    lease_seconds=2,
)
